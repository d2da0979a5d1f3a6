"""checkov on infrastructure/: no failing check, and every skip carries its reason in place."""

import json
import re
import subprocess

import pytest

from .conftest import INFRA, REPO

CHECKOV = REPO / ".venv" / "bin" / "checkov"


# checkov leaves out resources whose count is 0, so the switches that are off by default are
# checked with an environment file that turns them on (prod: the ElastiCache store).
@pytest.mark.parametrize("var_files", [[], ["prod.tfvars"]], ids=["defaults", "prod"])
def test_checkov_finds_no_failing_check(var_files):
    assert CHECKOV.exists(), "checkov is missing: run `make test` (it installs tests/requirements.txt into .venv)"
    result = subprocess.run(
        [str(CHECKOV), "-d", str(INFRA), "--framework", "terraform", "--output", "json", "--skip-download",
         *(f"--var-file={INFRA / f}" for f in var_files)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for report in reports
        for c in report.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    passed = sum(report["summary"]["passed"] for report in reports)
    assert passed > 100, "checkov scanned suspiciously little"
    checked = {c["resource"].split("[")[0] for report in reports for c in report.get("results", {}).get("passed_checks", [])}
    if var_files:
        assert "aws_elasticache_replication_group.store" in checked, "prod's store was not scanned"


def test_every_skip_says_why():
    skip = re.compile(r"#checkov:skip=([A-Z0-9_]+)(:(.*))?")
    seen = 0
    for path in INFRA.rglob("*.tf"):
        if ".terraform" in path.parts:
            continue
        for line in path.read_text().splitlines():
            match = skip.search(line)
            if match:
                seen += 1
                assert match.group(3) and len(match.group(3).strip()) >= 20, f"{path.name}: {match.group(1)} skipped without a reason"
    assert seen > 0
