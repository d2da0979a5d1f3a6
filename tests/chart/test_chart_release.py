"""The release packaging: scripts/release_chart.py on a fake tag, then real Helm packages the
copy, and the packaged chart, loaded from its .tgz, defaults to that release's images."""

from __future__ import annotations

import subprocess
import tarfile
import sys
from pathlib import Path

import pytest
import yaml

from .manifests import CHART_DIR, DEPLOYMENTS, NAMESPACE, RELEASE, Rendered

import helm_python as helm

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "release_chart.py"
DIGESTS = {name: "sha256:" + str(i) * 64 for i, name in enumerate(DEPLOYMENTS, start=1)}
GOOD = ["--tag", "v1.4.2", "--registry", "ghcr.io", "--owner", "alice-birds"] + [
    arg for name, digest in DIGESTS.items() for arg in ("--digest", f"{name}={digest}")
]


def run_script(*args: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("release")
    result = run_script(*GOOD, out=work / "chart")
    assert result.returncode == 0, result.stderr
    copy = Path(result.stdout.strip())
    return Path(helm.package(copy, destination=work / "dist"))


def test_the_archive_carries_the_tag_as_version_and_app_version(packaged):
    assert packaged.name == "bird-chart-1.4.2.tgz"
    with helm.Chart.load_archive(packaged.read_bytes()) as chart:
        metadata = chart.metadata
    assert metadata["version"] == "1.4.2"
    assert metadata["appVersion"] == "1.4.2"


def test_the_packaged_defaults_are_the_released_images_by_digest(packaged):
    # No values at all: a user of `helm install oci://...` sets nothing about images.
    with helm.Chart.load_archive(packaged.read_bytes()) as chart:
        files = chart.render({}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    rendered = Rendered({}, files)
    images = {
        name: rendered.container(name)["image"] for name in rendered.of_kind("Deployment")
    }
    assert images == {
        name: f"ghcr.io/alice-birds/{name}:1.4.2@{DIGESTS[name]}" for name in DEPLOYMENTS
    }


def test_the_packaged_values_keep_their_comments(packaged):
    with tarfile.open(packaged) as archive:
        text = archive.extractfile("bird-chart/values.yaml").read().decode()
    assert text.count("#") == (CHART_DIR / "values.yaml").read_text().count("#")


def test_the_repository_chart_is_left_as_it_was(packaged):
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert chart["version"] != "1.4.2"
    assert values["image"]["owner"] == ""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--tag": "1.4.2"}, "not a release tag"),
        ({"--tag": "v1.4"}, "not a release tag"),
        ({"--tag": "v1.4.2+build.7"}, "not a release tag"),
        ({"--tag": "v01.4.2"}, "not a release tag"),
        ({"--owner": "Alice"}, "not a lower-case registry namespace"),
        ({"--owner": "alice/../x"}, "not a lower-case registry namespace"),
        ({"--registry": "https://ghcr.io"}, "not a registry host"),
        ({"--digest": "bird-api=sha256:abc"}, "64 hex digits"),
        ({"--digest": "bird-db=" + "sha256:" + "1" * 64}, "image must be one of"),
    ],
)
def test_bad_input_is_refused_with_one_line_and_writes_nothing(tmp_path, change, message):
    args = list(GOOD)
    for flag, value in change.items():
        args[args.index(flag) + 1] = value
    out = tmp_path / "chart"
    result = run_script(*args, out=out)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not out.exists()


def test_every_image_must_be_pinned(tmp_path):
    args = GOOD[: GOOD.index("--digest")] + ["--digest", f"bird-api={DIGESTS['bird-api']}"]
    result = run_script(*args, out=tmp_path / "chart")
    assert result.returncode == 2
    assert "no --digest for bird-image-api, bird-frontend" in result.stderr
