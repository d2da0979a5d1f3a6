"""yamllint on every YAML file of the repository, with the root .yamllint.yaml."""

from __future__ import annotations

from .helpers import REPO, report, run, tool


def yamllint(*args):
    return run(
        [
            tool("yamllint", "it is pinned in tests/requirements.txt"),
            "--config-file",
            ".yamllint.yaml",
            *args,
        ],
        cwd=REPO,
    )


def test_covers_every_yaml_file_but_templates_and_tools():
    proc = yamllint("--list-files", ".")
    assert proc.returncode == 0, report(proc)
    listed = {line.removeprefix("./") for line in proc.stdout.splitlines()}
    for path in (
        ".github/workflows/ci.yml",
        ".github/dependabot.yml",
        "docker/compose.yaml",
        ".yamllint.yaml",
    ):
        assert path in listed, f"{path} is not linted"
    for path in listed:
        assert not path.startswith(("bird-chart/templates/", ".venv/", "target/")), (
            f"{path} should be left out"
        )
        assert "/node_modules/" not in path, path


def test_yamllint_is_clean():
    proc = yamllint("--strict", "--format", "parsable", ".")
    assert proc.returncode == 0, report(proc)
