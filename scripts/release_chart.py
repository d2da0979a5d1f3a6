#!/usr/bin/env python3
"""Prepare bird-chart for a release: a copy of the chart whose version, appVersion and default
images are those of one git tag, ready for `helm package`.

    scripts/release_chart.py --tag v1.2.3 --registry docker.io --owner alice \
        --digest bird-api=sha256:... --digest bird-image-api=sha256:... \
        --digest bird-frontend=sha256:... --out build/chart

The repository's chart is never edited: its Chart.yaml keeps a development version and its
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

CHART = Path(__file__).resolve().parents[1] / "bird-chart"
IMAGES = ("bird-api", "bird-image-api", "bird-frontend")

# A release tag: v + semantic version, with an optional pre-release. No build metadata: `+` is
# not allowed in OCI tags, and the chart version becomes one.
TAG = re.compile(r"v(?P<version>(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?)")
# Registry host (optionally with a port) and repository namespace, as Docker reference grammar
# allows them (lower-case path components).
REGISTRY = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?")
OWNER = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class ReleaseError(Exception):
    """A bad input or a chart this script cannot edit; the message is the whole story."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", required=True, help="release tag, vX.Y.Z[-pre]")
    parser.add_argument("--registry", required=True, help="image registry host, e.g. docker.io")
    parser.add_argument("--owner", required=True, help="namespace the images were pushed to")
    parser.add_argument(
        "--digest",
        action="append",
        default=[],
        metavar="IMAGE=sha256:...",
        help=f"digest of a pushed image; once for each of {', '.join(IMAGES)}",
    )
    parser.add_argument("--out", required=True, type=Path, help="directory for the chart copy")
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


def prepare(tag: str, registry: str, owner: str, digests: dict[str, str], out: Path) -> Path:
    version = release_version(tag)
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


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        target = prepare(args.tag, args.registry, args.owner, parse_digests(args.digest), args.out)
    except ReleaseError as error:
        print(f"release_chart: {error}", file=sys.stderr)
        return 2
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
