"""Terraform harness: runs every command on a scratch copy of infrastructure/, offline when this
machine has a provider mirror, so the tests leave no .terraform directory or lock file behind."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infrastructure"
PROVIDER_MIRROR = Path("/opt/tf-plugins")
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"

# Offline here: the mirror serves hashicorp/aws; everywhere else the public registry does.
CLI_CONFIG = f"""provider_installation {{
  filesystem_mirror {{
    path    = "{PROVIDER_MIRROR}"
    include = ["{AWS_PROVIDER}"]
  }}
  direct {{
    exclude = ["{AWS_PROVIDER}"]
  }}
}}
"""


def terraform_binary() -> str:
    path = shutil.which("terraform")
    if path is None:
        pytest.fail(
            "terraform is not on PATH: install Terraform >= 1.11 "
            "(https://developer.hashicorp.com/terraform/install) to run the infrastructure tests"
        )
    return path


class Terraform:
    """Runs terraform in a directory of the scratch copy with a fixed environment."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.root = root
        self.env = env
        self.binary = terraform_binary()

    def run(self, chdir: str, *args: str, timeout: int = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.binary, f"-chdir={self.root / chdir}", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, chdir: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """The same command in the background, for applies that may run side by side."""
        return subprocess.Popen(
            [self.binary, f"-chdir={self.root / chdir}", *args],
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def ok(self, chdir: str, *args: str, timeout: int = 300, env: dict[str, str] | None = None) -> str:
        result = self.run(chdir, *args, timeout=timeout, env=env)
        assert result.returncode == 0, (
            f"terraform {' '.join(args)} in {chdir} failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
        return result.stdout


def copy_infrastructure(scratch: Path) -> Path:
    """infrastructure/ copied into scratch, without local state, lock file or operator values."""
    root = scratch / "infrastructure"
    shutil.copytree(
        INFRA,
        root,
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate", "*.tfstate.*", "terraform.tfvars"),
    )
    return root


def terraform_env(scratch: Path) -> dict[str, str]:
    """The environment of every terraform command: no operator settings, no real credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "AWS_"))}
    env.update(
        {
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            # Any real AWS call would be a bug in the tests: make one fail fast instead of finding credentials.
            "AWS_ACCESS_KEY_ID": "test-not-a-key",
            "AWS_SECRET_ACCESS_KEY": "test-not-a-secret",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    if PROVIDER_MIRROR.is_dir():
        cli_config = scratch / "terraform.rc"
        cli_config.write_text(CLI_CONFIG)
        env["TF_CLI_CONFIG_FILE"] = str(cli_config)
    else:
        # From the public registry: download the (large) AWS provider once per scratch directory.
        plugin_cache = scratch / "plugin-cache"
        plugin_cache.mkdir(exist_ok=True)
        env["TF_PLUGIN_CACHE_DIR"] = str(plugin_cache)
    return env


@pytest.fixture(scope="session")
def terraform(tmp_path_factory) -> Terraform:
    """A scratch copy of infrastructure/ with the root and bootstrap configurations initialised."""
    scratch = tmp_path_factory.mktemp("terraform")
    tf = Terraform(copy_infrastructure(scratch), terraform_env(scratch))
    for chdir in (".", "bootstrap"):
        tf.ok(chdir, "init", "-backend=false", "-input=false", "-no-color")
    return tf
