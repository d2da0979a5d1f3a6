"""checkov's Kubernetes checks on the rendered manifests: nothing fails, every skip says why."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .manifests import VALUE_SETS

CHECKOV = Path(sys.executable).parent / "checkov"

# Findings the chart accepts, each suppressed in place with its reason (checkov.io/skipN).
ACCEPTED = {
    "CKV_K8S_43",  # image by digest: tags are immutable; services.*.image.digest pins digests
    "CKV_K8S_15",  # imagePullPolicy Always: cached immutable tags, no registry dependency
    "CKV_K8S_35",  # secret as env var: UNSPLASH_ACCESS_KEY and CACHE_URL by contract, Valkey's requirepass
    "CKV_K8S_8",  # liveness probe on the run-once helm test pod
    "CKV_K8S_9",  # readiness probe on the run-once helm test pod
}


@pytest.fixture(scope="module")
def checkov_results(render_set, tmp_path_factory):
    """One checkov run over every value set, each in its own file."""
    if not CHECKOV.exists():
        pytest.fail(f"checkov is missing at {CHECKOV}: `.venv/bin/pip install -r tests/requirements.txt`")
    directory = tmp_path_factory.mktemp("rendered")
    for name in VALUE_SETS:
        (directory / f"{name}.yaml").write_text(render_set(name).manifest_text, encoding="utf-8")
    run = subprocess.run(
        [
            str(CHECKOV),
            "--directory", str(directory),
            "--framework", "kubernetes",
            "--output", "json",
            # Offline: no Prisma Cloud metadata, no version check.
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode in (0, 1), run.stderr[-2000:]
    report = json.loads(run.stdout)
    assert report["summary"]["parsing_errors"] == 0
    return report


def _where(check):
    return f"{Path(check['file_path']).stem}: {check['resource']} {check['check_id']} {check['check_name']}"


def test_no_check_fails(checkov_results):
    failed = [_where(c) for c in checkov_results["results"]["failed_checks"]]
    assert failed == []


def test_checks_ran_on_every_value_set(checkov_results):
    files = {Path(c["file_path"]).stem for c in checkov_results["results"]["passed_checks"]}
    assert files == set(VALUE_SETS)
    assert checkov_results["summary"]["passed"] > 300


def test_every_skip_is_an_accepted_finding_with_its_reason(checkov_results):
    for check in checkov_results["results"]["skipped_checks"]:
        assert check["check_id"] in ACCEPTED, _where(check)
        reason = check["check_result"]["suppress_comment"]
        assert reason and reason != "No comment provided", _where(check)


def test_pinning_digests_and_pulling_always_clears_the_image_skips(checkov_results):
    skipped = {
        (check["resource"], check["check_id"])
        for check in checkov_results["results"]["skipped_checks"]
        if Path(check["file_path"]).stem == "all-features"
    }
    assert {check_id for _, check_id in skipped} == {"CKV_K8S_35", "CKV_K8S_8", "CKV_K8S_9"}
    # Secrets as env vars are accepted on bird-image-api (the key, the store's URL) and on Valkey
    # (its password) only.
    assert sorted(r for r, c in skipped if c == "CKV_K8S_35") == [
        "Deployment.bird-stack.bird-image-api",
        "Deployment.bird-stack.bird-valkey",
    ]
