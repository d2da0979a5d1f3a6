"""fmt, validate and `terraform test` (mocked AWS provider) for infrastructure/ and its bootstrap."""

import re
import subprocess

import pytest

from .conftest import INFRA, terraform_binary

CONFIGS = [".", "bootstrap"]


def test_formatting_is_canonical():
    result = subprocess.run(
        [terraform_binary(), "fmt", "-check", "-recursive", "-diff", str(INFRA)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("config", CONFIGS)
def test_configuration_is_valid(terraform, config):
    out = terraform.ok(config, "validate", "-no-color")
    assert "The configuration is valid" in out


def summary(output: str) -> tuple[int, int]:
    """(passed, failed) from the last line of `terraform test`."""
    match = re.search(r"(\d+) passed, (\d+) failed", output)
    assert match, f"no test summary in:\n{output}"
    return int(match.group(1)), int(match.group(2))


def test_terraform_tests_of_the_root_configuration(terraform):
    out = terraform.ok(".", "test", "-no-color", timeout=600)
    passed, failed = summary(out)
    tests = sorted((INFRA / "tests").glob("*.tftest.hcl"))
    runs = sum(f.read_text().count("\nrun \"") for f in tests)
    assert failed == 0 and passed == runs, out


@pytest.mark.parametrize(
    "var_files",
    [["dev.tfvars"], ["prod.tfvars"], ["prod.tfvars", "prod-us-west-2.tfvars"]],
    ids=["dev", "prod", "prod-second-region"],
)
def test_environment_files_give_the_spec_sizes(terraform, var_files):
    out = terraform.ok(".", "test", "-no-color", "-test-directory=tests/environments", *[f"-var-file={f}" for f in var_files])
    passed, failed = summary(out)
    assert failed == 0 and passed >= 1, out


def test_terraform_tests_of_the_bootstrap(terraform):
    out = terraform.ok("bootstrap", "test", "-no-color")
    passed, failed = summary(out)
    assert failed == 0 and passed >= 2, out


def test_every_test_file_mocks_aws():
    """No test may reach AWS: every file replaces the provider with a mock, and each file of the
    root configuration also every aliased configuration, which a plain mock_provider does not cover."""
    aliases = set(re.findall(r'^\s*alias\s*=\s*"(\w+)"', (INFRA / "providers.tf").read_text(), re.M))
    assert aliases
    files = list(INFRA.rglob("*.tftest.hcl"))
    assert len(files) >= 7
    for path in files:
        text = path.read_text()
        assert re.search(r'^mock_provider "aws" \{', text, re.M), f"{path} does not mock the aws provider"
        if path.is_relative_to(INFRA / "tests"):
            mocked = set(re.findall(r'^mock_provider "aws" \{\s*alias\s*=\s*"(\w+)"', text, re.M))
            assert aliases <= mocked, f"{path} does not mock the aws provider aliases {aliases - mocked}"


def test_every_variable_has_a_description_and_type():
    for path in [INFRA / "variables.tf", INFRA / "bootstrap" / "variables.tf"]:
        blocks = re.split(r'^variable "', path.read_text(), flags=re.M)[1:]
        assert blocks
        for block in blocks:
            name = block.split('"', 1)[0]
            assert "description =" in block and "type " in block, f"{path.name}: variable {name} lacks a description or type"


def test_every_validation_is_exercised_by_a_test():
    """Each variable with a validation block appears in some expect_failures list."""
    expected = set()
    for path in INFRA.rglob("*.tftest.hcl"):
        for block in re.findall(r"expect_failures = \[(.*?)\]", path.read_text(), re.S):
            expected.update(re.findall(r"var\.(\w+)", block))
    for path in [INFRA / "variables.tf", INFRA / "bootstrap" / "variables.tf"]:
        for block in re.split(r'^variable "', path.read_text(), flags=re.M)[1:]:
            name = block.split('"', 1)[0]
            if "validation {" in block:
                assert name in expected, f"the validation of {name} is never tested"


def test_variable_files_only_set_declared_variables():
    """A misspelt name in a .tfvars file is only a warning for Terraform; here it fails."""
    declared = set(re.findall(r'^variable "(\w+)"', (INFRA / "variables.tf").read_text(), re.M))
    files = sorted(INFRA.glob("*.tfvars")) + [INFRA / "terraform.tfvars.example"]
    assert len(files) >= 4
    for path in files:
        # Commented-out examples count too: they are meant to be uncommented.
        names = re.findall(r"^#?\s*(\w+)\s+=", path.read_text(), re.M)
        assert names, path
        unknown = set(names) - declared
        assert not unknown, f"{path.name} sets undeclared variables {unknown}"


def test_every_provider_configuration_tags_everything():
    """`terraform test` cannot see provider blocks, so their default_tags are checked here."""
    for path, tags in [(INFRA / "providers.tf", "tags = local.tags"), (INFRA / "bootstrap" / "versions.tf", 'ManagedBy   = "Terraform"')]:
        blocks = re.split(r'^provider "aws" \{', path.read_text(), flags=re.M)[1:]
        assert blocks, path
        for block in blocks:
            assert "default_tags {" in block and tags in block, f"a provider in {path.name} lacks the default tags"


def test_the_example_names_the_images_to_deploy():
    """Commented out, the owner and tag fell back to chart defaults that CI never pushed."""
    example = (INFRA / "terraform.tfvars.example").read_text()
    for name in ["app_image_registry", "app_image_owner", "app_image_tag"]:
        assert re.search(rf"^{name}\s*=", example, re.M), f"terraform.tfvars.example leaves {name} commented out"
