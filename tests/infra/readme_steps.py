"""The shell commands infrastructure/README.md shows, and the names they use."""

from __future__ import annotations

import copy
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from .conftest import INFRA

# Digest the stand-in for a published chart pins every image to.
PUBLISHED_DIGEST = "sha256:" + "0" * 64
IMAGES = ("bird-api", "bird-image-api", "bird-frontend")

README = INFRA / "README.md"


def section(markdown: str, heading: str) -> str:
    """The text under a heading, up to the next heading of the same or a higher level (lines in
    code blocks, such as shell comments, are not headings)."""
    level = len(heading.split(" ", 1)[0])
    lines = markdown.splitlines(keepends=True)
    start = lines.index(heading + "\n") + 1
    in_code = False
    for end in range(start, len(lines)):
        line = lines[end]
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(rf"#{{1,{level}}} ", line):
            return "".join(lines[start:end])
    return "".join(lines[start:])


def commands(markdown: str) -> list[str]:
    """Each command of the ```bash blocks: continuation lines joined, comments dropped."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


def words(command: str) -> list[str]:
    return shlex.split(command, comments=True)


def option(argv: list[str], *names: str) -> str:
    for name in names:
        if name in argv:
            return argv[argv.index(name) + 1]
    raise AssertionError(f"no {names} in {' '.join(argv)}")


def set_value(argv: list[str], key: str) -> str:
    """The value a `--set`/`--set-string key=value` of a helm command line gives key."""
    for flag, expression in zip(argv, argv[1:]):
        if flag in ("--set", "--set-string") and expression.startswith(f"{key}="):
            return expression.split("=", 1)[1]
    raise AssertionError(f"the command sets no {key}: {' '.join(argv)}")


def helm_values(argv: list[str], parse_set, parse_set_string) -> dict[str, Any]:
    """The values a helm command line gives, merged in order as Helm merges its --set flags."""
    values: dict[str, Any] = {}
    for flag, expression in zip(argv, argv[1:]):
        if flag == "--set":
            merge(values, parse_set(expression))
        elif flag == "--set-string":
            merge(values, parse_set_string(expression))
        elif flag.startswith("--set") or flag in ("-f", "--values"):
            raise AssertionError(f"{flag} is not understood here: {expression}")
    return values


def merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def chart_archive(reference: str, version: str | None, workdir: Path, package) -> Path:
    """The chart a printed `helm upgrade --install` names, as a .tgz: a local path packaged as
    it is, or, for the published oci://<registry>/<owner>/bird-chart, the chart as the release
    job of that version publishes it (scripts/release.py, every image at PUBLISHED_DIGEST)."""
    if not reference.startswith("oci://"):
        assert version is None, "a local chart has no --version"
        return Path(package(INFRA / reference, destination=workdir))
    match = re.fullmatch(r"oci://([^/]+)/([^/]+)/bird-chart", reference)
    assert match and version, f"not a published bird-chart with a version: {reference} {version}"
    registry = "docker.io" if match[1] == "registry-1.docker.io" else match[1]
    digests = [f"--digest={image}={PUBLISHED_DIGEST}" for image in IMAGES]
    result = subprocess.run(
        [sys.executable, str(INFRA.parent / "scripts" / "release.py"), "chart",
         f"--tag=v{version}", f"--registry={registry}", f"--owner={match[2]}",
         f"--source=https://github.com/{match[2]}/bird-stack", *digests,
         f"--out={workdir / 'published'}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return Path(package(result.stdout.strip(), destination=workdir))
