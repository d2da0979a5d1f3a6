"""The images' supply chain in the workflows: an SBOM and provenance on every pushed image, no
build cache restored where images are published or deployed, a keyless cosign signature on each
pushed digest, and a deploy that runs only digests whose signature verifies as CI's, with the
verify command of docker/README.md. Nothing can be pushed from here, so the scripts of those
steps run for real against stand-in `docker` and `cosign` commands."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
import textwrap

import pytest

from .helpers import DOCKER_DIR, REPO, SERVICES, WORKFLOWS_DIR, action, load_yaml

CI = WORKFLOWS_DIR / "ci.yml"
DEPLOY = WORKFLOWS_DIR / "deploy.yml"
ISSUER = "https://token.actions.githubusercontent.com"
IMAGES = list(SERVICES)
DIGESTS = {image: "sha256:" + f"{n:x}" * 64 for n, image in enumerate(IMAGES, start=10)}
CACHE_ACTIONS = {"actions/cache", "actions/cache/restore", "Swatinem/rust-cache"}
# Actions that keep what they download in the Actions cache unless told not to.
CACHING_BY_DEFAULT = {"docker/setup-qemu-action": "cache-image", "docker/setup-buildx-action": "cache-binary"}
# The jobs that push images or the chart, sign them, release or deploy them.
PUBLISHING = {
    ("ci.yml", "images"),
    ("ci.yml", "sign"),
    ("ci.yml", "chart"),
    ("ci.yml", "sign-chart"),
    ("ci.yml", "github-release"),
    ("deploy.yml", "deploy"),
}


@pytest.fixture(scope="module")
def ci():
    return load_yaml(CI)


@pytest.fixture(scope="module")
def deploy():
    return load_yaml(DEPLOY)


def step(job, name):
    (found,) = [s for s in job["steps"] if name in (s.get("name"), s.get("id"), action(s))]
    return found


def install_stand_ins(bin_dir, scripts):
    """Writes each stand-in command (name -> script) into bin_dir, executable."""
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(textwrap.dedent(body))
        path.chmod(0o755)


@pytest.fixture
def stand_ins(tmp_path):
    """A bin directory with `docker`, `cosign` and `sleep` stand-ins, and the environment that
    steers them: DIGESTS (image -> what `imagetools inspect` prints), COSIGN_REJECT (images whose
    signature does not verify). Every cosign call is logged as a JSON list, one per line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "docker": f"""\
            #!{sys.executable}
            import json, os, sys
            assert sys.argv[1:4] == ["buildx", "imagetools", "inspect"], sys.argv
            assert sys.argv[5:] == ["--format", "{{{{.Manifest.Digest}}}}"], sys.argv
            name = sys.argv[4].rsplit("/", 1)[1].split(":")[0]
            digests = json.loads(os.environ["DIGESTS"])
            if name not in digests:
                sys.exit("not found")
            print(digests[name])
            """,
        "cosign": f"""\
            #!{sys.executable}
            import json, os, sys
            with open(os.environ["COSIGN_LOG"], "a") as log:
                log.write(json.dumps(sys.argv[1:]) + "\\n")
            (ref,) = [arg for arg in sys.argv if "@sha256:" in arg]
            name = ref.rsplit("/", 1)[1].split("@")[0]
            sys.exit(1 if name in os.environ.get("COSIGN_REJECT", "").split() else 0)
            """,
        "sleep": "#!/bin/sh\nexit 0\n",
    }
    install_stand_ins(bin_dir, scripts)
    log = tmp_path / "cosign.log"
    log.touch()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "COSIGN_LOG": str(log),
        "DIGESTS": json.dumps(DIGESTS),
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
    }
    (tmp_path / "github_output").touch()
    return env, log


def run_step(script, env, cwd, **extra):
    # GitHub runs bash steps as `bash --noprofile --norc -eo pipefail`.
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        env={**env, **extra},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def cosign_calls(log):
    return [json.loads(line) for line in log.read_text().splitlines()]


def outputs(env):
    with open(env["GITHUB_OUTPUT"]) as output:
        return dict(line.rstrip("\n").split("=", 1) for line in output)


# Publishing in CI


def test_pushed_images_carry_an_sbom_and_full_provenance(ci):
    build = step(ci["jobs"]["images"], "docker/build-push-action")
    assert build["id"] == "build"
    assert build["with"]["sbom"] is True
    assert build["with"]["provenance"] == "mode=max"


def test_jobs_that_publish_or_deploy_restore_no_cache():
    # A cache is written by whatever ran before; restoring it in a job that publishes would let
    # that run's output into a published image or a deploy.
    for path in sorted(WORKFLOWS_DIR.glob("*.yml")):
        for job_id, job in load_yaml(path)["jobs"].items():
            text = json.dumps(job)
            markers = ("secrets.DOCKER", "helm upgrade", "id-token", "gh release create")
            publishes = any(marker in text for marker in markers)
            assert publishes == ((path.name, job_id) in PUBLISHING), f"{path.name} {job_id}"
            if not publishes:
                if any(action(s) in CACHE_ACTIONS for s in job["steps"]):
                    # What zizmor's suppression of these caches rests on: they reach no secret.
                    assert "secrets." not in text and job["permissions"] == {"contents": "read"}, job_id
                continue
            for s in job["steps"]:
                assert action(s) not in CACHE_ACTIONS, f"{path.name} {job_id} restores a cache"
                assert "cache" not in s.get("with", {}), f"{path.name} {job_id}: {action(s)} caches"
                if action(s) in CACHING_BY_DEFAULT:
                    assert s["with"][CACHING_BY_DEFAULT[action(s)]] is False, f"{path.name} {job_id}: {action(s)}"
                if action(s) == "docker/build-push-action":
                    # Empty, so no cache, whenever this build pushes.
                    cache_from = "${{ env.PUSH != 'true' && format('type=gha,scope={0}', matrix.image) || '' }}"
                    assert s["with"]["cache-from"] == cache_from


def test_each_pushed_digest_reaches_the_sign_job(ci):
    images, sign = ci["jobs"]["images"], ci["jobs"]["sign"]
    record, upload = step(images, "Record the digest"), step(images, "actions/upload-artifact")
    assert record["if"] == upload["if"] == "env.PUSH == 'true'"
    assert record["env"]["DIGEST"] == "${{ steps.build.outputs.digest }}"
    assert upload["with"]["path"] == "digests/${{ matrix.image }}"
    assert upload["with"]["if-no-files-found"] == "error"
    download = step(sign, "actions/download-artifact")["with"]
    for image in IMAGES:
        assert fnmatch.fnmatch(upload["with"]["name"].replace("${{ matrix.image }}", image), download["pattern"])
    assert download["path"] == "digests" and download["merge-multiple"] is True
    assert images["outputs"]["pushed"] == "${{ env.PUSH }}"
    assert sign["needs"] == ["images"] and sign["if"] == "needs.images.outputs.pushed == 'true'"
    assert sign["env"]["IMAGES"].split() == IMAGES


def test_record_step_writes_the_file_the_sign_job_reads(ci, tmp_path, stand_ins):
    env, _ = stand_ins
    script = step(ci["jobs"]["images"], "Record the digest")["run"]
    proc = run_step(script, env, tmp_path, DIGEST=DIGESTS["bird-api"], IMAGE="bird-api")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "digests" / "bird-api").read_text() == DIGESTS["bird-api"] + "\n"


SIGNING_JOBS = {
    "sign": ["actions/download-artifact", "sigstore/cosign-installer", "docker/login-action"],
    "sign-chart": ["sigstore/cosign-installer", "docker/login-action"],
}


@pytest.mark.parametrize("job_id", sorted(SIGNING_JOBS))
def test_only_the_signing_jobs_hold_an_oidc_token_and_they_run_no_project_code(ci, job_id):
    sign = ci["jobs"][job_id]
    assert sign["permissions"] == {"id-token": "write"}
    assert "actions/checkout" not in [action(s) for s in sign["steps"]]
    assert [action(s) for s in sign["steps"] if "uses" in s] == SIGNING_JOBS[job_id]
    assert step(sign, "docker/login-action")["with"] == {
        "username": "${{ secrets.DOCKER_USERNAME }}",
        "password": "${{ secrets.DOCKER_PASSWORD_SYMBOLS_ALLOWED }}",
    }
    for other_id, job in ci["jobs"].items():
        if other_id not in SIGNING_JOBS:
            assert "id-token" not in job["permissions"], other_id


def sign_script(ci):
    return step(ci["jobs"]["sign"], "Sign each pushed digest")["run"]


def record_digests(directory, digests):
    (directory / "digests").mkdir()
    for image, digest in digests.items():
        (directory / "digests" / image).write_text(digest + "\n")


def test_sign_job_signs_each_pushed_digest(ci, tmp_path, stand_ins):
    env, log = stand_ins
    record_digests(tmp_path, DIGESTS)
    proc = run_step(sign_script(ci), env, tmp_path, IMAGES=" ".join(IMAGES), IMAGE_NAMESPACE="docker.io/acme")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert cosign_calls(log) == [["sign", "--yes", f"docker.io/acme/{i}@{DIGESTS[i]}"] for i in IMAGES]


@pytest.mark.parametrize("recorded", [{"bird-api": "latest"}, {"bird-api": ""}, {}], ids=["tag", "empty", "missing"])
def test_sign_job_refuses_anything_but_a_digest(ci, tmp_path, stand_ins, recorded):
    env, log = stand_ins
    record_digests(tmp_path, recorded)
    proc = run_step(sign_script(ci), env, tmp_path, IMAGES="bird-api", IMAGE_NAMESPACE="docker.io/acme")
    assert proc.returncode != 0
    assert cosign_calls(log) == []


# Verifying in the deploy workflow


def verify_images(deploy, tmp_path, env, repository="acme/bird.api", **extra):
    script = step(deploy["jobs"]["deploy"], "images")["run"]
    return run_step(
        script, env, tmp_path, GITHUB_REPOSITORY=repository, IMAGE_REGISTRY="docker.io", IMAGE_OWNER="acme",
        TAG="1.2.3", **extra,
    )


def deploy_identity(deploy, tmp_path, stand_ins, repository):
    """The certificate identity regexp the deploy job gives cosign for this repository."""
    env, log = stand_ins
    proc = verify_images(deploy, tmp_path, env, repository=repository)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (identity,) = {call[call.index("--certificate-identity-regexp") + 1] for call in cosign_calls(log)}
    return identity


def test_deploy_verifies_each_digest_before_handing_it_on(deploy, tmp_path, stand_ins):
    env, log = stand_ins
    proc = verify_images(deploy, tmp_path, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = cosign_calls(log)
    assert [call[:2] for call in calls] == [["verify", f"docker.io/acme/{i}@{DIGESTS[i]}"] for i in IMAGES]
    for call in calls:
        assert call[call.index("--certificate-oidc-issuer") + 1] == ISSUER
    assert outputs(env) == DIGESTS


def test_deploy_refuses_a_digest_whose_signature_does_not_verify(deploy, tmp_path, stand_ins):
    env, log = stand_ins
    proc = verify_images(deploy, tmp_path, env, COSIGN_REJECT="bird-frontend")
    assert proc.returncode != 0
    assert "not deploying it" in proc.stdout
    assert "bird-frontend" not in outputs(env)
    # It waited for CI's sign job (40 tries, 30 s apart) before refusing.
    assert sum("bird-frontend" in call[1] for call in cosign_calls(log)) == 40
    # The steps after it, helm among them, run only after success.
    steps = deploy["jobs"]["deploy"]["steps"]
    after = steps[steps.index(step(deploy["jobs"]["deploy"], "images")) + 1 :]
    assert all("always()" not in s.get("if", "") for s in after)
    assert "if" not in step(deploy["jobs"]["deploy"], "helm")


def test_deploy_refuses_a_tag_that_gives_no_digest(deploy, tmp_path, stand_ins):
    env, log = stand_ins
    proc = verify_images(deploy, tmp_path, env, DIGESTS=json.dumps({**DIGESTS, "bird-image-api": "sha256:abc"}))
    assert proc.returncode != 0 and "no usable digest" in proc.stdout
    assert cosign_calls(log) == []


def test_only_ci_on_main_or_a_release_tag_of_this_repository_passes(deploy, tmp_path, stand_ins):
    identity = re.compile(deploy_identity(deploy, tmp_path, stand_ins, "acme/bird.api"))
    workflow = "https://github.com/acme/bird.api/.github/workflows"
    for accepted in ["ci.yml@refs/heads/main", "ci.yml@refs/tags/v1.4.2", "ci.yml@refs/tags/v2.0.0-rc.1"]:
        assert identity.search(f"{workflow}/{accepted}"), accepted
    for refused in [
        f"{workflow}/ci.yml@refs/heads/feature",
        f"{workflow}/ci.yml@refs/pull/7/merge",
        f"{workflow}/ci.yml@refs/tags/latest",
        f"{workflow}/deploy.yml@refs/heads/main",
        f"{workflow}/ci.yml@refs/heads/main/x",
        "https://github.com/acme/birdXapi/.github/workflows/ci.yml@refs/heads/main",
        "https://github.com/fork/bird.api/.github/workflows/ci.yml@refs/heads/main",
        f"https://evil.example/{workflow}/ci.yml@refs/heads/main",
    ]:
        assert not identity.search(refused), refused


def test_helm_deploys_the_verified_digests(deploy):
    job = deploy["jobs"]["deploy"]
    names = [action(s) or s.get("id") or s.get("name") for s in job["steps"]]
    assert names.index("sigstore/cosign-installer") < names.index("images") < names.index("helm")
    helm = step(job, "helm")
    chart = load_yaml(REPO / "bird-chart" / "values.yaml")["services"]
    for key, service in chart.items():
        variable = {"bird": "BIRD_DIGEST", "birdImage": "BIRD_IMAGE_DIGEST", "frontend": "FRONTEND_DIGEST"}[key]
        assert helm["env"][variable] == f"${{{{ steps.images.outputs.{service['image']['name']} }}}}"
        assert f'--set services.{key}.image.digest="${variable}"' in helm["run"]


def test_readme_verify_command_is_the_deploy_check(deploy, tmp_path, stand_ins):
    readme = (DOCKER_DIR / "README.md").read_text()
    (command,) = re.findall(r"^cosign verify .*?(?=^```)", readme, re.M | re.S)
    assert f"--certificate-oidc-issuer {ISSUER}" in command
    (regexp,) = re.findall(r"--certificate-identity-regexp '([^']+)'", command)
    assert regexp == deploy_identity(deploy, tmp_path, stand_ins, "<owner>/<repo>")
    assert "docker.io/<owner>/bird-api@sha256:<digest>" in command


# Publishing the chart (release tags)


@pytest.fixture
def release_stand_ins(stand_ins, tmp_path):
    """`helm` and `gh` stand-ins next to docker and cosign: each call is logged as a JSON list;
    `helm push` prints HELM_PUSH_OUTPUT as Helm does, `gh` copies its notes file to NOTES."""
    env, log = stand_ins
    bin_dir = tmp_path / "bin"
    scripts = {
        "helm": f"""\
            #!{sys.executable}
            import json, os, sys
            with open(os.environ["TOOL_LOG"], "a") as log:
                log.write(json.dumps(["helm", *sys.argv[1:]]) + "\\n")
            if sys.argv[1] == "push":
                print(os.environ["HELM_PUSH_OUTPUT"], file=sys.stderr)
            """,
        "gh": f"""\
            #!{sys.executable}
            import json, os, shutil, sys
            with open(os.environ["TOOL_LOG"], "a") as log:
                log.write(json.dumps(["gh", *sys.argv[1:]]) + "\\n")
            shutil.copy(sys.argv[sys.argv.index("--notes-file") + 1], os.environ["NOTES"])
            """,
    }
    install_stand_ins(bin_dir, scripts)
    tools = tmp_path / "tools.log"
    tools.touch()
    env = {**env, "TOOL_LOG": str(tools), "NOTES": str(tmp_path / "released-notes.md")}
    return env, tools, log


def tool_calls(log):
    return [json.loads(line) for line in log.read_text().splitlines()]


def release_job_flow(ci):
    jobs = ci["jobs"]
    assert jobs["chart"]["needs"] == ["images"]
    assert jobs["chart"]["if"] == (
        "needs.images.outputs.pushed == 'true' && startsWith(github.ref, 'refs/tags/v')"
    )
    assert jobs["sign-chart"]["needs"] == ["chart"]
    assert jobs["github-release"]["needs"] == ["chart", "sign-chart"]
    return jobs


def test_the_chart_is_released_only_from_tags_after_its_images_then_signed(ci):
    jobs = release_job_flow(ci)
    assert jobs["github-release"]["permissions"] == {"contents": "write"}
    assert jobs["chart"]["permissions"] == {"contents": "read"}
    assert jobs["sign-chart"]["env"]["DIGEST"] == "${{ needs.chart.outputs.digest }}"
    assert jobs["chart"]["outputs"]["digest"] == "${{ steps.push.outputs.digest }}"


def test_the_chart_is_packaged_from_the_tag_with_the_pushed_digests(ci, tmp_path, release_stand_ins):
    env, tools, _ = release_stand_ins
    record_digests(tmp_path, DIGESTS)
    (tmp_path / "scripts").symlink_to(REPO / "scripts")
    script = step(ci["jobs"]["chart"], "Package the chart for the tag")["run"]
    source = "https://github.com/acme/bird.api"
    proc = run_step(script, env, tmp_path, TAG="v1.4.2", OWNER="acme", SOURCE=source)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ((helm, package, chart_dir, *rest),) = tool_calls(tools)
    assert (helm, package, rest) == ("helm", "package", ["--destination", "dist"])
    chart = load_yaml(tmp_path / chart_dir / "Chart.yaml")
    assert chart["version"] == chart["appVersion"] == "1.4.2"
    assert chart["home"] == source and chart["sources"] == [source]
    values = load_yaml(tmp_path / chart_dir / "values.yaml")
    assert values["image"]["owner"] == "acme"
    assert {s["image"]["name"]: s["image"]["digest"] for s in values["services"].values()} == DIGESTS


def test_a_bad_tag_stops_the_release_before_helm(ci, tmp_path, release_stand_ins):
    env, tools, _ = release_stand_ins
    record_digests(tmp_path, DIGESTS)
    (tmp_path / "scripts").symlink_to(REPO / "scripts")
    script = step(ci["jobs"]["chart"], "Package the chart for the tag")["run"]
    proc = run_step(script, env, tmp_path, TAG="v1.4", OWNER="acme", SOURCE="https://github.com/acme/bird.api")
    assert proc.returncode != 0 and "not a release tag" in proc.stderr
    assert tool_calls(tools) == []


@pytest.mark.parametrize(
    ("printed", "digest"),
    [
        (f"Pushed: registry-1.docker.io/acme/bird-chart:1.4.2\nDigest: {DIGESTS['bird-api']}", DIGESTS["bird-api"]),
        ("Pushed: registry-1.docker.io/acme/bird-chart:1.4.2", None),
        ("Digest: sha256:abc", None),
    ],
    ids=["digest", "none", "short"],
)
def test_the_push_hands_on_only_a_real_digest(ci, tmp_path, release_stand_ins, printed, digest):
    env, tools, _ = release_stand_ins
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "bird-chart-1.4.2.tgz").write_bytes(b"chart")
    job = ci["jobs"]["chart"]
    proc = run_step(
        step(job, "push")["run"], env, tmp_path, HELM_PUSH_OUTPUT=printed,
        CHART_REPOSITORY="oci://registry-1.docker.io/acme", DOCKER_USERNAME="u", DOCKER_PASSWORD="p",
    )  # fmt: skip
    calls = tool_calls(tools)
    assert calls[0] == ["helm", "registry", "login", "registry-1.docker.io", "--username", "u", "--password-stdin"]
    assert calls[1] == ["helm", "push", "dist/bird-chart-1.4.2.tgz", "oci://registry-1.docker.io/acme"]
    if digest:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert outputs(env) == {"digest": digest}
    else:
        assert proc.returncode != 0 and outputs(env) == {}


@pytest.mark.parametrize("digest", [DIGESTS["bird-api"], "", "latest"])
def test_sign_chart_signs_the_pushed_digest_and_nothing_else(ci, tmp_path, stand_ins, digest):
    env, log = stand_ins
    script = step(ci["jobs"]["sign-chart"], "Sign the pushed chart")["run"]
    chart = "registry-1.docker.io/acme/bird-chart"
    proc = run_step(script, env, tmp_path, CHART=chart, DIGEST=digest)
    if digest.startswith("sha256:"):
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert cosign_calls(log) == [["sign", "--yes", f"{chart}@{digest}"]]
    else:
        assert proc.returncode != 0 and cosign_calls(log) == []


def test_the_github_release_carries_the_changelog_section_digests_and_chart(ci, tmp_path, release_stand_ins):
    env, tools, _ = release_stand_ins
    record_digests(tmp_path, DIGESTS)
    (tmp_path / "scripts").symlink_to(REPO / "scripts")
    (tmp_path / "CHANGELOG.md").write_text("# Changelog\n\n## [1.4.2] - 2027-01-15\n\n### Fixed\n- A bird.\n")
    # The script reads CHANGELOG.md beside itself: give it this one.
    script = step(ci["jobs"]["github-release"], "Create the release")["run"]
    script = script.replace("scripts/release.py notes", f"scripts/release.py notes --changelog {tmp_path}/CHANGELOG.md")
    chart = "oci://registry-1.docker.io/acme/bird-chart"
    proc = run_step(script, env, tmp_path, TAG="v1.4.2", CHART=chart, GITHUB_REPOSITORY="acme/bird")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ((gh, *args),) = tool_calls(tools)
    assert args[:3] == ["release", "create", "v1.4.2"] and "--verify-tag" in args
    assert args[-1] == "dist/bird-chart-*.tgz" or args[-1].endswith(".tgz")
    notes = (tmp_path / "released-notes.md").read_text()
    assert notes.startswith("### Fixed\n- A bird.")
    assert f"helm upgrade --install bird {chart} --version 1.4.2" in notes
    for image, digest in DIGESTS.items():
        assert digest in notes and image in notes
