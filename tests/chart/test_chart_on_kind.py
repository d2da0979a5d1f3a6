"""The laptop cluster's run (kind/cluster.py) against the chart it installs: its dry-run plan waits
for every Deployment, probes the pods of every NetworkPolicy both ways exactly as the policies
say, upgrades from the release the rules select, loses a pod of every Deployment under load and
checks the uninstall by a label every object carries. Also: its stand-in Unsplash is the compose
overlay's, and its tools are pinned with checksums.

The run itself needs Docker and a cluster, so it happens in CI on GitHub (the `cluster` job).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .manifests import CHART_DIR, KIND_VALUES, Rendered
from .policies import Endpoint, Network
from .test_chart_upgrade import previous_chart, previous_release  # noqa: F401 (a fixture)

REPO = CHART_DIR.parent
KIND = REPO / "kind"
# kind/cluster.py's release and namespace: those of the Terraform path.
RELEASE = NAMESPACE = "bird"
RUN_LABEL = "cluster-check.bird-stack.io/run"
PREVIOUS_TAG = "kind-previous"

# `helm template` for the dry run, rendered by Helm's Go SDK (helm-python-sdk) as the CLI would.
FAKE_HELM = """#!{python}
import os
import sys
import yaml
import helm_python as helm

args = sys.argv[1:]
if args == ["version", "--template", "{{{{.Version}}}}"]:
    sys.exit(print("{helm_version}"))
if args[:1] != ["template"]:
    with open(os.environ["CALLS"], "a") as calls:
        print("helm", *args, file=calls)
    sys.exit(99)
release, chart, rest = args[1], args[2], args[3:]
options, values = {{}}, {{}}

def merged(base, override):
    for key, value in override.items():
        base[key] = merged(base.get(key, {{}}), value) if isinstance(value, dict) else value
    return base

for flag, value in zip(rest[::2], rest[1::2]):
    if flag == "--values":
        values = merged(values, yaml.safe_load(open(value)))
    elif flag == "--set":
        values = merged(values, helm.parse_set_string(value))
    elif flag in ("--namespace", "--kube-version"):
        options[flag] = value
    else:
        sys.exit(f"fake helm does not know {{flag}}")
with helm.Chart.load(chart) as loaded:
    files = loaded.render(values, name=release, namespace=options["--namespace"], is_install=True)
for path, text in sorted(files.items()):
    if not path.endswith("NOTES.txt"):
        print(f"---\\n# Source: {{path}}\\n{{text}}")
"""

# Any other tool the dry run tried to run would leave its name here.
REFUSING_TOOL = """#!/bin/sh
echo "$(basename "$0") $*" >> "$CALLS"
exit 99
"""

# For a run that fails: tools that answer what the run asks first, record every call, and refuse
# the first change to the new cluster (its namespace).
RECORDING_TOOL = """#!/bin/sh
echo "$(basename "$0") $*" >> "$CALLS"
case "$(basename "$0") $*" in
  "kind version") echo "kind {kind_version} go1.25 linux/amd64" ;;
  "kubectl version --client -o json") echo '{{"clientVersion": {{"gitVersion": "{kubectl_version}"}}}}' ;;
  "kubectl --context kind-bird create namespace bird") echo "namespace refused" >&2; exit 1 ;;
  "kubectl --context kind-bird get pods --namespace bird -o name") echo pod/bird-api-5d9f8c7b6d-abcde ;;
esac
"""


def versions() -> dict[str, str]:
    lines = (KIND / "versions.env").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def tools(bin_dir: Path, others: str) -> dict[str, str]:
    """A PATH with the fake helm first and `others` for kind, kubectl and docker; the env to run with."""
    pinned = versions()
    (bin_dir / "helm").write_text(
        FAKE_HELM.format(python=sys.executable, helm_version=pinned["HELM_VERSION"])
    )
    for tool in ("kind", "kubectl", "docker"):
        (bin_dir / tool).write_text(
            others.format(kind_version=pinned["KIND_VERSION"], kubectl_version=pinned["KUBECTL_VERSION"])
        )
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", CALLS=str(bin_dir / "calls.log"))


@pytest.fixture(scope="module")
def run_dry(tmp_path_factory):
    """run_dry(repository) -> the output of `kind/cluster.py up --dry-run` in that clone."""
    bin_dir = tmp_path_factory.mktemp("bin")
    env = tools(bin_dir, REFUSING_TOOL)
    calls = bin_dir / "calls.log"

    def run(repository: Path) -> str:
        proc = subprocess.run(
            [sys.executable, str(repository / "kind" / "cluster.py"), "up", "--dry-run"],
            cwd=repository, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert not calls.exists(), f"the dry run ran {calls.read_text()}"
        return proc.stdout

    return run


@pytest.fixture(scope="module")
def dry_run(run_dry) -> str:
    return run_dry(REPO)


def commands(output: str) -> list[list[str]]:
    """The printed commands, split as the shell would split them."""
    return [shlex.split(line[2:]) for line in output.splitlines() if line.startswith("+ ")]


def index(cmds: list[list[str]], *words: str, start: int = 0) -> int:
    """Position of the first command at or after `start` that holds `words` in this order."""
    for i in range(start, len(cmds)):
        cmd = cmds[i]
        positions = [cmd.index(w) for w in words if w in cmd]
        if len(positions) == len(words) and positions == sorted(positions):
            return i
    raise AssertionError(f"no command with {words} after #{start}")


@pytest.fixture(scope="module")
def kind_values() -> dict[str, Any]:
    return yaml.safe_load(KIND_VALUES.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def current(render, kind_values) -> Rendered:
    return render(kind_values, release=RELEASE, namespace=NAMESPACE)


@pytest.fixture(scope="module")
def previous(previous_chart, kind_values) -> Rendered:  # noqa: F811 (the fixture imported above)
    import helm_python as helm

    values = {**kind_values, "image": {**kind_values["image"], "tag": PREVIOUS_TAG}}
    with helm.Chart.load(previous_chart) as chart:
        return Rendered(values, chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True))


def helm_step(cmds: list[list[str]], verb: str, chart: str | None = None) -> int:
    """Position of `helm <verb> bird [chart]` (every helm command names the kind cluster first)."""
    for i, cmd in enumerate(cmds):
        if cmd[:1] == ["helm"] and cmd[3:5] == [verb, RELEASE] and (chart is None or cmd[5] == chart):
            return i
    raise AssertionError(f"no helm {verb} {chart or ''}")


def waited_for(cmds: list[list[str]], start: int, end: int) -> set[str]:
    return {
        word.removeprefix("deployment/")
        for cmd in cmds[start:end]
        if cmd[:1] == ["kubectl"] and "rollout" in cmd and "status" in cmd
        for word in cmd
        if word.startswith("deployment/")
    }


def test_every_deployment_is_waited_for_after_every_helm_step(dry_run, current, previous):
    cmds = commands(dry_run)
    steps = [
        (helm_step(cmds, "install", str(Path(cmds[helm_step(cmds, "install")][5]))), previous),
        (helm_step(cmds, "upgrade", "bird-chart"), current),
        (helm_step(cmds, "rollback"), previous),
        (helm_step(cmds, "install", "bird-chart"), current),
    ]
    assert [i for i, _ in steps] == sorted(i for i, _ in steps)
    for (i, rendered), (end, _) in zip(steps, steps[1:] + [(len(cmds), None)]):
        deployments = set(rendered.of_kind("Deployment"))
        assert deployments and waited_for(cmds, i, end) == deployments, " ".join(cmds[i][:6])
        # An HPA holds at least minReplicas; the run waits for them before the rollout.
        for hpa in rendered.of_kind("HorizontalPodAutoscaler").values():
            target, minimum = hpa["spec"]["scaleTargetRef"]["name"], hpa["spec"]["minReplicas"]
            index(
                cmds, "wait", f"deployment/{target}", f"--for=jsonpath={{.spec.replicas}}={minimum}", start=i
            )
    # helm test runs once everything is up.
    assert helm_step(cmds, "test") > steps[-1][0]


def test_the_upgrade_starts_from_the_release_the_rules_select(dry_run):
    """The newest release tag behind HEAD, else the chart's first commit (test_chart_upgrade)."""
    cmds = commands(dry_run)
    archive = cmds[index(cmds, "git", "archive")]
    assert archive[-2:] == [previous_release(), "bird-chart"]
    previous_install = cmds[helm_step(cmds, "install")]
    assert previous_install[5].endswith("/bird-chart") and previous_install[5] != "bird-chart"
    assert f"image.tag={PREVIOUS_TAG}" in previous_install
    # Under load: the load starts after the previous release is up and stops after the rollback.
    load_start = index(cmds, "kubectl", "run", "bird-load")
    upgrade, rollback = helm_step(cmds, "upgrade", "bird-chart"), helm_step(cmds, "rollback")
    load_stop = index(cmds, "exec", "bird-load", "kill", start=rollback)
    assert helm_step(cmds, "install") < load_start < upgrade < rollback < load_stop
    assert cmds[rollback][5] == "1", "back to the previous release's revision"
    assert "--values" in cmds[upgrade] and "kind/values.yaml" in cmds[upgrade]


def test_after_a_release_the_upgrade_starts_from_the_newest_release_tag(run_dry, tmp_path):
    """In a clone with release tags, by version (v0.10.0 is newer than v0.9.0, though older)."""

    def git(*args: str, cwd: Path = tmp_path / "clone") -> str:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    git("clone", "--quiet", str(REPO), "clone", cwd=tmp_path)
    # The run and the chart as they are in this working tree, on the clone's history.
    for directory in ("kind", "bird-chart", "docker"):
        shutil.copytree(REPO / directory, tmp_path / "clone" / directory, dirs_exist_ok=True)
    git("tag", "v0.10.0", "HEAD~2")
    git("tag", "v0.9.0", "HEAD~1")
    git("tag", "zz-nightly", "HEAD")  # not a release: sorts before them
    cmds = commands(run_dry(tmp_path / "clone"))
    assert cmds[index(cmds, "git", "archive")][-2:] == ["v0.10.0", "bird-chart"]


def source_endpoint(source: str, current: Rendered) -> Endpoint:
    if source.startswith("deployment/"):
        deployment = current.get("Deployment", source.removeprefix("deployment/"))
        labels = deployment["spec"]["template"]["metadata"]["labels"]
    else:
        labels = dict(pair.split("=", 1) for pair in source.removeprefix("labels:").split(","))
    return Endpoint("10.244.1.10", NAMESPACE, labels)


def target_endpoint(url: str, current: Rendered) -> tuple[Endpoint, int, str]:
    """The pods behind a probed Service port, the container port, and the Deployment."""
    match = re.fullmatch(r"(?:http|tcp)://([\w-]+):(\d+)(?:/metrics)?", url)
    assert match, url
    service = current.get("Service", match[1])
    (port,) = [p for p in service["spec"]["ports"] if p["port"] == int(match[2])]
    for name, deployment in current.of_kind("Deployment").items():
        template = deployment["spec"]["template"]
        if service["spec"]["selector"].items() <= template["metadata"]["labels"].items():
            ports = {
                p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c["ports"]
            }
            target = port["targetPort"]
            number = ports[target] if isinstance(target, str) else target
            assert url.startswith("http://") == (port.get("name") == "http"), url
            return Endpoint("10.244.2.20", NAMESPACE, template["metadata"]["labels"]), number, name
    raise AssertionError(f"{url}: no Deployment behind {match[1]}")


def probes(output: str) -> list[tuple[str, str, bool]]:
    found = re.findall(r"^probe: (\S+) -> (\S+) expect (open|closed)$", output, flags=re.MULTILINE)
    return [(source, url, expect == "open") for source, url, expect in found]


def test_every_probe_expects_what_the_network_policies_allow(dry_run, current):
    """Each expectation of the run agrees with tests/chart/policies.py's evaluator, egress and
    ingress both, on the policies the run installs."""
    network = Network(list(current.of_kind("NetworkPolicy").values()))
    planned = probes(dry_run)
    assert planned
    for source, url, expect_open in planned:
        destination, port, _ = target_endpoint(url, current)
        assert network.can_connect(source_endpoint(source, current), destination, port) == expect_open, (
            source,
            url,
        )


def test_every_pod_probes_every_other_service_port(dry_run, current):
    """From a pod of every Deployment, a pod of every other peer the policies name, and a pod
    without the chart's labels, to every port of every Service but its own."""
    planned = probes(dry_run)
    sources = {source for source, _, _ in planned}
    deployments = set(current.of_kind("Deployment"))
    assert {f"deployment/{d}" for d in deployments} <= sources
    assert f"labels:{RUN_LABEL}=true" in sources, "a pod without the chart's labels"
    peers = {
        ",".join(f"{k}={v}" for k, v in sorted({**peer["podSelector"]["matchLabels"], RUN_LABEL: "true"}.items()))
        for policy in current.of_kind("NetworkPolicy").values()
        for rule in policy["spec"].get("ingress") or []
        for peer in rule.get("from", [])
        if "podSelector" in peer and "namespaceSelector" not in peer
        and not any(
            peer["podSelector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
            for d in current.of_kind("Deployment").values()
        )
    }  # fmt: skip
    assert peers and {f"labels:{p}" for p in peers} <= sources
    ports = [
        f"{'http' if p.get('name') == 'http' else 'tcp'}://{name}:{p['port']}"
        + ("/metrics" if p.get("name") == "http" else "")
        for name, service in current.of_kind("Service").items()
        for p in service["spec"]["ports"]
    ]
    for source in sources:
        own = {u for u in ports if source == f"deployment/{target_endpoint(u, current)[2]}"}
        assert {url for s, url, _ in planned if s == source} == set(ports) - own, source


def test_every_network_policy_is_probed_allowed_and_denied(dry_run, current):
    """The pods each NetworkPolicy protects are reached from somewhere allowed and refused to
    somewhere else; in particular a pod without the chart's labels reaches only the public
    frontend, and the frontend reaches bird-api alone."""
    planned = probes(dry_run)
    protected = 0
    for policy in current.of_kind("NetworkPolicy").values():
        selector = policy["spec"]["podSelector"]["matchLabels"]
        urls = {
            url for _, url, _ in planned
            if selector.items() <= target_endpoint(url, current)[0].labels.items()
        }  # fmt: skip
        if not urls:
            # Only the helm test pod's policy protects pods no Service fronts.
            assert policy["metadata"]["name"].endswith("-test"), policy["metadata"]["name"]
            continue
        protected += 1
        seen = {expect for _, url, expect in planned if url in urls}
        assert seen == {True, False}, policy["metadata"]["name"]
    assert protected == len(current.of_kind("Deployment"))
    outsider = {url for s, url, e in planned if s == f"labels:{RUN_LABEL}=true" and e}
    assert outsider == {"http://bird-frontend-service:80/metrics"}
    frontend = {url for s, url, e in planned if s == "deployment/bird-frontend" and e}
    assert frontend == {"http://bird-api-service:4201/metrics"}


def test_every_probe_runs_from_its_source(dry_run):
    """Each planned probe is an argument of the command that starts its source: an ephemeral
    container in a pod of the Deployment, or a pod of the run with the source's labels, both
    under the restricted profile the namespace enforces."""
    cmds = commands(dry_run)
    for source, url, _ in probes(dry_run):
        if source.startswith("deployment/"):
            pod = f"pod/<a {source.removeprefix('deployment/')} pod>"
            (cmd,) = [c for c in cmds if c[3:4] == ["debug"] and pod in c]
            assert "--profile=restricted" in cmd and any(w.startswith("--custom=") for w in cmd)
        else:
            (cmd,) = [
                c for c in cmds if c[3:4] == ["run"] and f"--labels={source.removeprefix('labels:')}" in c
            ]
            # The restricted security context goes into the generated container, merged by name.
            overrides = json.loads(next(w for w in cmd if w.startswith("--overrides=")).split("=", 1)[1])
            assert "--override-type=strategic" in cmd
            assert [c["name"] for c in overrides["spec"]["containers"]] == [cmd[4]]
            assert overrides["spec"]["securityContext"]["runAsNonRoot"] is True
        assert cmd[cmd.index("--") + 1 :][:4] == ["sh", "-c", "$(cat kind/probe.sh)", "probe"]
        assert url in cmd[cmd.index("probe") :], (source, url)


def test_one_pod_of_every_deployment_is_lost_under_load(dry_run, current):
    cmds = commands(dry_run)
    install = helm_step(cmds, "install", "bird-chart")
    load_start = index(cmds, "kubectl", "run", "bird-load", start=install)
    delete = index(cmds, "kubectl", "delete", "pod", start=load_start)
    load_stop = index(cmds, "exec", "bird-load", "kill", start=delete)
    lost = {w.removeprefix("<a ").removesuffix(" pod>") for w in cmds[delete] if w.startswith("<a ")}
    assert lost == set(current.of_kind("Deployment"))
    assert waited_for(cmds, delete, load_stop) == lost


def test_the_uninstall_leaves_no_object_with_the_release_label(dry_run, current, previous):
    cmds = commands(dry_run)
    uninstall = helm_step(cmds, "uninstall")
    check = cmds[index(cmds, "kubectl", "get", "--all-namespaces", start=uninstall)]
    label = check[check.index("-l") + 1]
    key, value = label.split("=")
    for rendered in (current, previous):
        for doc in rendered.docs:
            assert doc["metadata"]["labels"][key] == value, doc["metadata"]["name"]
    assert helm_step(cmds, "rollback") < uninstall < helm_step(cmds, "install", "bird-chart")


def test_every_image_the_chart_runs_is_built_and_loaded(dry_run, current, kind_values):
    cmds = commands(dry_run)
    builds = [c for c in cmds if c[:3] == ["docker", "buildx", "build"]]
    prefix = f"docker.io/{kind_values['image']['owner']}/"
    ours = {
        c["image"]
        for d in current.of_kind("Deployment").values()
        for c in d["spec"]["template"]["spec"]["containers"]
        if c["image"].startswith(prefix)
    }
    assert (
        {c[c.index("--tag") + 1] for c in builds}
        == ours
        == {
            f"{prefix}{name}:{kind_values['image']['tag']}"
            for name in ("bird-api", "bird-image-api", "bird-frontend")
        }
    )
    dockerfile = (REPO / "docker" / "Dockerfile").read_text(encoding="utf-8")
    for build in builds:
        assert re.search(rf"^FROM \S+ AS {build[build.index('--target') + 1]}$", dockerfile, re.MULTILINE)
    (load,) = [c for c in cmds if c[:3] == ["kind", "load", "docker-image"]]
    assert set(load) >= ours | {ref.replace(":kind", f":{PREVIOUS_TAG}") for ref in ours}
    # The images built here are never pulled (others, such as a sidecar's, are).
    assert all(c["imagePullPolicy"] == "Never" for d in current.of_kind("Deployment").values()
               for c in d["spec"]["template"]["spec"]["containers"] if c["image"] in ours)  # fmt: skip


def test_the_namespace_enforces_restricted_pod_security(dry_run):
    cmds = commands(dry_run)
    label = cmds[index(cmds, "kubectl", "label", "namespace", NAMESPACE)]
    assert "pod-security.kubernetes.io/enforce=restricted" in label
    create = index(cmds, "kind", "create", "cluster")
    assert cmds[create][cmds[create].index("--image") + 1] == versions()["KIND_NODE_IMAGE"]
    assert create < index(cmds, "kind", "load") < helm_step(cmds, "install")


def test_the_stand_in_unsplash_is_the_compose_overlays(dry_run, kind_values):
    """The same image, server block and search result as docker/compose.offline.yaml, reached by
    bird-image on loopback, with the files in the ConfigMap the run makes."""
    compose = yaml.safe_load((REPO / "docker" / "compose.offline.yaml").read_text())["services"][
        "fake-unsplash"
    ]
    bird_image = kind_values["services"]["birdImage"]
    (sidecar,) = bird_image["sidecars"]
    assert sidecar["image"] == compose["image"]
    mounts = {
        m["mountPath"]: m.get("subPath") for m in sidecar["volumeMounts"] if m["name"] == "fake-unsplash"
    }
    composed = {target: Path(source).name for source, target, _ in (v.split(":") for v in compose["volumes"])}
    assert mounts == composed
    cmds = commands(dry_run)
    create = cmds[index(cmds, "kubectl", "create", "configmap")]
    (volume,) = [v for v in bird_image["extraVolumes"] if v["name"] == "fake-unsplash"]
    assert create[create.index("configmap") + 1] == volume["configMap"]["name"]
    assert {w.split("/")[-1] for w in create if w.startswith("--from-file=")} == set(composed.values())
    assert bird_image["env"]["UNSPLASH_API_URL"] == "http://127.0.0.1:8080"


def test_the_tools_are_pinned_with_checksums():
    pinned = versions()
    for tool in ("KIND", "KUBECTL", "HELM"):
        assert re.fullmatch(r"v\d+\.\d+\.\d+", pinned[f"{tool}_VERSION"]), tool
        for arch in ("AMD64", "ARM64"):
            assert re.fullmatch(r"[0-9a-f]{64}", pinned[f"{tool}_SHA256_LINUX_{arch}"]), (tool, arch)
    node = re.fullmatch(r"kindest/node:v(\d+)\.(\d+)\.\d+@sha256:[0-9a-f]{64}", pinned["KIND_NODE_IMAGE"])
    assert node, "the node image is pinned by digest"
    kubectl = re.fullmatch(r"v(\d+)\.(\d+)\.\d+", pinned["KUBECTL_VERSION"])
    assert kubectl[1] == node[1] and abs(int(kubectl[2]) - int(node[2])) <= 1, "kubectl's version skew"
    script = (KIND / "install-tools.sh").read_text()
    assert 'source "$here/versions.env"' in script and "sha256sum --check" in script
    for tool in ("KIND", "KUBECTL", "HELM"):
        assert f"{tool}_SHA256_$platform" in script and f"${tool}_VERSION" in script


def test_a_failure_shows_the_state_of_the_cluster(tmp_path):
    """Once the cluster exists, a failed step prints the pods, the events, and every pod's last
    logs, and with --logs-dir saves them with the nodes' logs; it runs nothing after the failure."""
    env = tools(tmp_path, RECORDING_TOOL)
    logs = tmp_path / "logs"
    proc = subprocess.run(
        [sys.executable, str(KIND / "cluster.py"), "up", "--pinned-tools", "--logs-dir", str(logs)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "namespace refused" in proc.stderr and "kind/cluster.py: exit status 1" in proc.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    context = "kubectl --context kind-bird"
    for diagnostic in (
        f"{context} get events --namespace bird --sort-by=.lastTimestamp",
        f"{context} describe pods --namespace bird",
        f"{context} logs --namespace bird pod/bird-api-5d9f8c7b6d-abcde --all-containers --prefix --tail=60",
        "helm --kube-context kind-bird history bird --namespace bird",
        f"kind export logs {logs}/kind --name bird",
    ):
        assert diagnostic in calls
    assert "== What the cluster looked like" in proc.stdout
    assert f"+ {context} get events" in (logs / "diagnostics.txt").read_text()
    assert not [
        c for c in calls if c.startswith(("docker buildx build", "helm --kube-context kind-bird install"))
    ]


def test_with_pinned_tools_another_version_is_refused(tmp_path):
    """CI passes --pinned-tools: a kind other than kind/versions.env's stops the run before it
    creates anything; on a laptop it is a warning."""
    other = RECORDING_TOOL.replace('"kind version") echo "kind {kind_version}', '"kind version") echo "kind v0.1.0')
    env = tools(tmp_path, other)
    pinned = [sys.executable, str(KIND / "cluster.py"), "up", "--pinned-tools"]
    proc = subprocess.run(pinned, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1
    assert f"kind is v0.1.0, kind/versions.env pins {versions()['KIND_VERSION']}" in proc.stderr
    assert not [c for c in (tmp_path / "calls.log").read_text().splitlines() if "create" in c]
    proc = subprocess.run(pinned[:-1], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert "warning: kind is v0.1.0" in proc.stderr
    assert "kind create cluster" in (tmp_path / "calls.log").read_text()
