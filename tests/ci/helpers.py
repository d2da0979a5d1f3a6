"""Helpers shared by the container and CI checks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
DOCKER_DIR = REPO / "docker"
WORKFLOWS_DIR = REPO / ".github" / "workflows"

# Directories that hold build output, installed tools or VCS data, never project files.
SKIPPED_DIRS = {".git", "target", ".venv", "node_modules", ".terraform", "__pycache__", ".pytest_cache"}
SKIPPED_PATHS = {REPO / "tests" / "artifacts"}

# The services as CONTRACT.md names them: image (= Dockerfile target = compose service),
# release binary and port.
SERVICES = {
    "bird-api": {"bin": "bird", "port": 4201},
    "bird-image-api": {"bin": "bird-image", "port": 4200},
    "bird-frontend": {"bin": "frontend", "port": 3000},
}


def project_files() -> Iterator[Path]:
    """Every file of the working tree that belongs to the project."""
    for root, dirs, files in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and Path(root, d) not in SKIPPED_PATHS)
        for name in sorted(files):
            yield Path(root, name)


def workflow_files() -> list[Path]:
    return sorted(p for p in WORKFLOWS_DIR.iterdir() if p.suffix in {".yml", ".yaml"})


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def action(step: dict) -> str:
    """The action a step uses, without its ref ("" for a `run:` step)."""
    return step.get("uses", "").split("@")[0]


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def tool(name: str, hint: str) -> str:
    """Path of a command-line tool, from the project's venv first, else PATH; fails the test if absent."""
    venv_tool = VENV_BIN / name
    if venv_tool.exists():
        return str(venv_tool)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"`{name}` is not installed: {hint}")
    return found


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)


def report(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


def free_port() -> int:
    """A loopback TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def answers_200(url: str) -> bool:
    try:
        return http_get(url, timeout=1)[0] == 200
    except OSError:
        return False
