#!/usr/bin/env python3
"""Release steps that follow from one git tag vX.Y.Z (the release job runs them; so do the tests).

    scripts/release.py chart --tag v1.2.3 --registry docker.io --owner alice \
        --source https://github.com/alice/bird-stack \
        --digest bird-api=sha256:... --digest bird-image-api=sha256:... \
        --digest bird-frontend=sha256:... --out build/chart
    scripts/release.py notes --tag v1.2.3 --chart oci://registry-1.docker.io/alice/bird-chart \
        --digest ... (the same three)

`chart` writes a copy of bird-chart whose version, appVersion and default images are those of
the tag, and whose `home`, `sources` and `maintainers` name the repository that released it
(a fork releases as itself), ready for `helm package`. `notes` prints the GitHub release text: the tag's section of
CHANGELOG.md, the image digests and how to install the chart.

For `chart`, the repository's chart is never edited: its Chart.yaml keeps a development version and its
values.yaml no image owner, so a clone still has to say whose images it deploys. The copy in
`--out/bird-chart` defaults to the images the release pushed (tag = the version, as CI's
metadata-action tags them, pinned by digest), so `helm install oci://...` needs no `--set`.

Standard library only: the release job runs it before Helm is installed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "bird-chart"
CHANGELOG = REPO / "CHANGELOG.md"
IMAGES = ("bird-api", "bird-image-api", "bird-frontend")

# A release tag: v + semantic version, with an optional pre-release. No build metadata: `+` is
# not allowed in OCI tags, and the chart version becomes one.
TAG = re.compile(r"v(?P<version>(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?)")
# Registry host (optionally with a port) and repository namespace, as Docker reference grammar
# allows them (lower-case path components).
REGISTRY = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?")
OWNER = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# The repository that releases, as GitHub Actions names it: https://<host>/<owner>/<name>.
SOURCE = re.compile(r"https://[a-z0-9.-]+(:[0-9]+)?/(?P<owner>[A-Za-z0-9-]+)/[A-Za-z0-9._-]+")


class ReleaseError(Exception):
    """A bad input or a chart this script cannot edit; the message is the whole story."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    chart = steps.add_parser("chart", help="a chart copy versioned and defaulted for the tag")
    notes = steps.add_parser("notes", help="the GitHub release text for the tag")
    for step in (chart, notes):
        step.add_argument("--tag", required=True, help="release tag, vX.Y.Z[-pre]")
        step.add_argument(
            "--digest",
            action="append",
            default=[],
            metavar="IMAGE=sha256:...",
            help=f"digest of a pushed image; once for each of {', '.join(IMAGES)}",
        )
    chart.add_argument("--registry", required=True, help="image registry host, e.g. docker.io")
    chart.add_argument("--owner", required=True, help="namespace the images were pushed to")
    chart.add_argument("--source", required=True, help="URL of the repository that releases the chart")
    chart.add_argument("--out", required=True, type=Path, help="directory for the chart copy")
    notes.add_argument("--chart", required=True, help="OCI reference of the pushed chart")
    notes.add_argument("--changelog", type=Path, default=CHANGELOG, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def release_version(tag: str) -> str:
    match = TAG.fullmatch(tag)
    if match is None:
        raise ReleaseError(f"tag {tag!r} is not a release tag vMAJOR.MINOR.PATCH[-PRERELEASE]")
    return match["version"]


def parse_digests(pairs: list[str]) -> dict[str, str]:
    digests: dict[str, str] = {}
    for pair in pairs:
        image, _, digest = pair.partition("=")
        if image not in IMAGES:
            raise ReleaseError(f"--digest {pair!r}: image must be one of {', '.join(IMAGES)}")
        if DIGEST.fullmatch(digest) is None:
            raise ReleaseError(f"--digest {pair!r}: digest must be sha256: and 64 hex digits")
        if image in digests:
            raise ReleaseError(f"--digest {image} given twice")
        digests[image] = digest
    missing = [image for image in IMAGES if image not in digests]
    if missing:
        raise ReleaseError(f"no --digest for {', '.join(missing)}: a release pins every image")
    return digests


def set_scalar(lines: list[str], path: list[str], value: str) -> None:
    """Set the scalar at `path` (keys from the top) of a block-style YAML document, in place.

    Editing lines rather than re-serialising keeps the comments that `helm show values` shows
    users. A path that is not found is an error: the chart changed shape and this must follow.
    """
    indent, depth, start = 0, 0, 0
    for number in range(start, len(lines)):
        line = lines[number]
        stripped = line.lstrip(" ")
        if not stripped.strip() or stripped.startswith("#"):
            continue
        current = len(line) - len(stripped)
        if current < indent:
            break
        if current > indent:
            continue
        key, colon, rest = stripped.partition(":")
        if not colon or key != path[depth]:
            continue
        if depth == len(path) - 1:
            comment = rest[rest.index(" #") :] if " #" in rest else ""
            lines[number] = f"{' ' * current}{key}: {value}{comment}".rstrip() + "\n"
            return
        depth += 1
        following = next(
            (n for n in lines[number + 1 :] if n.strip() and not n.lstrip().startswith("#")), ""
        )
        indent = len(following) - len(following.lstrip(" "))
        if indent <= current:
            break
    raise ReleaseError(f"{'.'.join(path)} not found in the chart's values.yaml")


def yaml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def service_keys(values: list[str]) -> dict[str, str]:
    """Image name -> key under `services`, read from values.yaml (`name: bird-api` lines)."""
    keys: dict[str, str] = {}
    current = None
    for line in values:
        match = re.fullmatch(r"  ([A-Za-z]+):\s*(#.*)?\n?", line)
        if match:
            current = match[1]
        name = re.fullmatch(r"      name: ([a-z-]+)\s*(#.*)?\n?", line)
        if name and current and name[1] in IMAGES:
            keys[name[1]] = current
    missing = [image for image in IMAGES if image not in keys]
    if missing:
        raise ReleaseError(f"values.yaml has no services.*.image.name for {', '.join(missing)}")
    return keys


def prepare(tag: str, registry: str, owner: str, source: str, digests: dict[str, str], out: Path) -> Path:
    version = release_version(tag)
    repository = SOURCE.fullmatch(source)
    if repository is None:
        raise ReleaseError(f"--source {source!r} is not a repository URL (https://<host>/<owner>/<name>)")
    if REGISTRY.fullmatch(registry) is None:
        raise ReleaseError(f"--registry {registry!r} is not a registry host")
    if OWNER.fullmatch(owner) is None:
        raise ReleaseError(f"--owner {owner!r} is not a lower-case registry namespace")

    target = out / CHART.name
    if target.exists():
        raise ReleaseError(f"{target} exists already; give an empty --out")
    shutil.copytree(CHART, target)

    chart = (target / "Chart.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
    set_scalar(chart, ["version"], version)
    set_scalar(chart, ["appVersion"], yaml_string(version))
    maintainer = repository["owner"]
    host = source[: source.index(f"/{maintainer}/")]
    chart += [
        f"home: {yaml_string(source)}\n",
        f"sources:\n  - {yaml_string(source)}\n",
        f"maintainers:\n  - name: {yaml_string(maintainer)}\n    url: {yaml_string(f'{host}/{maintainer}')}\n",
    ]
    (target / "Chart.yaml").write_text("".join(chart), encoding="utf-8")

    values = (target / "values.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
    set_scalar(values, ["image", "registry"], registry)
    set_scalar(values, ["image", "owner"], yaml_string(owner))
    # The tag stays empty: the chart then uses its appVersion, which is this release.
    set_scalar(values, ["image", "tag"], '""')
    for image, key in service_keys(values).items():
        set_scalar(values, ["services", key, "image", "digest"], yaml_string(digests[image]))
    (target / "values.yaml").write_text("".join(values), encoding="utf-8")
    return target


def changelog_section(changelog: str, version: str) -> str:
    """The body of `## [version]` (up to the next `## `), without its heading."""
    heading = re.compile(rf"## \[{re.escape(version)}\](?: - \d{{4}}-\d{{2}}-\d{{2}})?")
    lines = changelog.splitlines()
    start = next((n for n, line in enumerate(lines) if heading.fullmatch(line.strip())), None)
    if start is None:
        raise ReleaseError(
            f"CHANGELOG.md has no section '## [{version}] - YYYY-MM-DD': write the release notes first"
        )
    end = next(
        (n for n in range(start + 1, len(lines)) if lines[n].startswith("## ")), len(lines)
    )
    body = "\n".join(lines[start + 1 : end]).strip()
    if not body:
        raise ReleaseError(f"CHANGELOG.md's section for {version} is empty")
    return body


def release_notes(tag: str, chart: str, digests: dict[str, str], changelog: str) -> str:
    version = release_version(tag)
    if re.fullmatch(r"oci://[a-z0-9.:-]+(/[a-z0-9._-]+)+", chart) is None:
        raise ReleaseError(f"--chart {chart!r} is not an oci:// chart reference")
    images = "\n".join(f"| `{image}` | `{version}` | `{digests[image]}` |" for image in IMAGES)
    return (
        f"{changelog_section(changelog, version)}\n\n"
        "## Install\n\n"
        f"```sh\nhelm upgrade --install bird {chart} --version {version} \\\n  --namespace bird --create-namespace\n```\n\n"
        "The chart defaults to the images below, pinned by digest; `cosign verify` them and the\n"
        "chart as docker/README.md and bird-chart/README.md show.\n\n"
        "| image | tag | digest |\n|---|---|---|\n"
        f"{images}\n"
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        digests = parse_digests(args.digest)
        if args.step == "chart":
            print(prepare(args.tag, args.registry, args.owner, args.source, digests, args.out))
        else:
            changelog = args.changelog.read_text(encoding="utf-8")
            print(release_notes(args.tag, args.chart, digests, changelog), end="")
    except ReleaseError as error:
        print(f"release: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
