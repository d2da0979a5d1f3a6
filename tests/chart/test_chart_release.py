"""The release steps on a fake tag: scripts/release.py writes the chart copy, real Helm packages
it, and the packaged chart, loaded from its .tgz, defaults to that release's images; the release
notes come from CHANGELOG.md."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
import sys
from pathlib import Path

import pytest
import yaml

from .manifests import CHART_DIR, DEPLOYMENTS, NAMESPACE, RELEASE, VALKEY, Rendered

import helm_python as helm

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "release.py"
DIGESTS = {name: "sha256:" + str(i) * 64 for i, name in enumerate(DEPLOYMENTS, start=1)}
DIGEST_ARGS = [arg for name, digest in DIGESTS.items() for arg in ("--digest", f"{name}={digest}")]
SOURCE = "https://github.com/Alice-Birds/bird-stack"
GOOD = [
    "--tag", "v1.4.2", "--registry", "ghcr.io", "--owner", "alice-birds", "--source", SOURCE,
    *DIGEST_ARGS,
]
CHART_REF = "oci://ghcr.io/alice-birds/bird-chart"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def run_script(*args: str, out: Path) -> subprocess.CompletedProcess:
    return run("chart", *args, "--out", str(out))


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


def test_the_archive_names_the_repository_that_released_it(packaged):
    with helm.Chart.load_archive(packaged.read_bytes()) as chart:
        metadata = chart.metadata
    assert metadata["home"] == SOURCE
    assert metadata["sources"] == [SOURCE]
    assert metadata["maintainers"] == [{"name": "Alice-Birds", "url": "https://github.com/Alice-Birds"}]


def test_the_packaged_defaults_are_the_released_images_by_digest(packaged):
    # No values at all: a user of `helm install oci://...` sets nothing about images.
    with helm.Chart.load_archive(packaged.read_bytes()) as chart:
        files = chart.render({}, name=RELEASE, namespace=NAMESPACE, is_install=True)
    rendered = Rendered({}, files)
    images = {name: rendered.container(name)["image"] for name in rendered.of_kind("Deployment")}
    # The release's own three, and the store as the chart pins it (not ours to re-tag).
    assert images == {
        name: f"ghcr.io/alice-birds/{name}:1.4.2@{DIGESTS[name]}" for name in DEPLOYMENTS
    } | {VALKEY["name"]: "docker.io/valkey/valkey:9.1.4-alpine"}


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
        ({"--source": "http://github.com/alice/bird-stack"}, "not a repository URL"),
        ({"--source": "https://github.com/alice"}, "not a repository URL"),
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


CHANGELOG = """# Changelog

## [Unreleased]

## [1.4.2] - 2027-01-15

### Fixed
- The frontend's photo <b>srcset</b>.

## [1.4.1] - 2027-01-02

### Fixed
- Something older.
"""


def notes(tmp_path: Path, tag: str = "v1.4.2", chart: str = CHART_REF) -> subprocess.CompletedProcess:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(CHANGELOG)
    return run("notes", "--tag", tag, "--chart", chart, "--changelog", str(changelog), *DIGEST_ARGS)


def test_release_notes_are_the_tags_section_with_digests_and_the_install_command(tmp_path):
    result = notes(tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("### Fixed\n- The frontend's photo <b>srcset</b>.\n\n## Install")
    assert "Something older" not in text and "Unreleased" not in text
    # The install of bird-chart/README.md and of Terraform's printed command.
    assert f"helm upgrade --install bird {CHART_REF} --version 1.4.2 \\\n  --namespace bird" in text
    for name, digest in DIGESTS.items():
        assert f"| `{name}` | `1.4.2` | `{digest}` |" in text


def test_the_repository_changelog_has_an_unreleased_section():
    text = (CHART_DIR.parent / "CHANGELOG.md").read_text()
    assert "\n## [Unreleased]\n" in text


@pytest.mark.parametrize(
    ("tag", "chart", "message"),
    [
        ("v1.4.3", CHART_REF, "no section '## [1.4.3]"),
        ("v1.4.2", "ghcr.io/alice-birds/bird-chart", "not an oci:// chart reference"),
    ],
)
def test_release_notes_refuse_a_tag_without_notes_or_a_bad_chart(tmp_path, tag, chart, message):
    result = notes(tmp_path, tag=tag, chart=chart)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert result.stdout == ""


REGISTRY_CONFIG = """version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
http:
  addr: 127.0.0.1:{port}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A real OCI registry (CNCF distribution, Debian's docker-registry) on loopback."""
    binary = shutil.which("docker-registry")
    assert binary, "docker-registry is missing: `apt-get install docker-registry` (.ci/run does)"
    work = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = work / "config.yml"
    config.write_text(REGISTRY_CONFIG.format(root=work / "data", port=port))
    server = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "the registry did not start in 30 s"
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_pushed_chart_installs_from_the_registry_with_no_image_settings(
    packaged, registry, tmp_path
):
    helm.push(packaged, f"oci://{registry}/alice-birds", plain_http=True)
    reference = f"oci://{registry}/alice-birds/bird-chart"
    helm.pull(reference, version="1.4.2", destination=tmp_path, plain_http=True)
    pulled = tmp_path / "bird-chart-1.4.2.tgz"
    assert helm.digest(pulled) == helm.digest(packaged)
    with helm.Chart.load_archive(pulled.read_bytes()) as chart:
        rendered = Rendered({}, chart.render({}, name="bird", namespace="bird", is_install=True))
    assert rendered.container("bird-frontend")["image"] == (
        f"ghcr.io/alice-birds/bird-frontend:1.4.2@{DIGESTS['bird-frontend']}"
    )
