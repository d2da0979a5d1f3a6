#!/usr/bin/env python3
"""The Bird stack on a laptop Kubernetes (kind), installed from this working tree and checked.

    kind/cluster.py up [--dry-run] [--logs-dir DIR] [--pinned-tools]
    kind/cluster.py delete [--dry-run]

`up` needs Docker, kind, kubectl and helm (kind/versions.env has the versions CI uses) and:

1. builds the chart's images from docker/Dockerfile, creates the kind cluster of
   kind/cluster.yaml (whose network plugin enforces NetworkPolicies), loads the images into its
   nodes and creates namespace `bird` under the restricted Pod Security Standard;
2. installs the previous release's chart (the newest release tag, else the chart's first
   commit), upgrades it to this tree's chart and rolls it back, under a steady load from inside
   the cluster that must see no failed request, uninstalls it, and checks that nothing labelled
   with the release is left;
3. installs this tree's chart with kind/values.yaml (a stand-in Unsplash beside bird-image, so
   birds get photos with no key and no internet), waits for every Deployment, runs `helm test`,
   asks for the page and /api/bird through a port-forward, probes every Service port from every
   kind of pod and compares what answers with what the NetworkPolicies allow (/metrics
   included), and deletes one pod of each Deployment under load, with no failed request;
4. leaves the stack running and prints how to open it.

What it builds, waits for and probes is derived from the chart as `helm template` renders it, so
a Deployment, Service or NetworkPolicy the chart gains is covered without a change here. A
failure prints the events, the pods' states and their last logs; with --logs-dir it also saves
them there, with the nodes' logs (`kind export logs`). --dry-run prints every command and runs
only the local reads the plan is made from (git, helm template).

`delete` deletes the cluster.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
HERE = REPO / "kind"
CHART = "bird-chart"
VALUES = "kind/values.yaml"
FAKE_UNSPLASH = REPO / "docker" / "fake-unsplash"

# The release and namespace of the Terraform path (infrastructure/), so runbooks read the same.
RELEASE = "bird"
NAMESPACE = "bird"
# Every object the chart renders carries it; after `helm uninstall` nothing may.
RELEASE_LABEL = f"app.kubernetes.io/instance={RELEASE}"
# The ConfigMap kind/values.yaml mounts into bird-image's stand-in Unsplash, made from FAKE_UNSPLASH.
FAKE_UNSPLASH_CONFIGMAP = "fake-unsplash"
# The images of the previous release: the ones built here, under a second tag, so the upgrade and
# the rollback change every pod template (chart and tag) but not the binaries.
PREVIOUS_TAG_SUFFIX = "-previous"
# Every pod this run makes (probes, load) carries RUN_LABEL. ROLE_LABEL tells the load pod, and
# kind/values.yaml admits the pods with role scraper to every service's /metrics.
RUN_LABEL = "cluster-check.bird-stack.io/run"
ROLE_LABEL = "cluster-check.bird-stack.io/role"
LOAD_POD = "bird-load"
# What the frontend serves for /api/bird, and bird's answer when bird-image could not help.
API_PATH = "/api/bird"
DISGUISED = "Bird in disguise"
# The steady load: a few requests a second, for at least a minute around the pods it loses.
LOAD_INTERVAL_SECONDS = 0.25
LOAD_MIN_SECONDS = 60
LOAD_LEAD_SECONDS = 5
LOAD_MAX_SECONDS = 900
TIMEOUT = "10m"


class Failure(Exception):
    """A check that did not hold, or a command that failed: the message says which."""


# --- Running commands -------------------------------------------------------------------------


class ScriptFile(str):
    """A script of this directory passed whole as one argument (`sh -c <script>`), to pods whose
    image is all they have; printed as the shell would read it from the file."""

    def __new__(cls, path: str) -> ScriptFile:
        script = super().__new__(cls, (REPO / path).read_text(encoding="utf-8"))
        script.path = path
        return script

    def shown(self) -> str:
        return f'"$(cat {self.path})"'


def shown(cmd: list[str]) -> str:
    return " ".join(arg.shown() if isinstance(arg, ScriptFile) else shlex.quote(arg) for arg in cmd)


class Shell:
    """Runs commands, printing each first. In a dry run only the local reads run."""

    def __init__(self, dry_run: bool):
        self.dry_run = dry_run

    def run(self, cmd: list[str], *, read: bool = False, capture: bool = False) -> str:
        """Runs `cmd` (`read`: it changes nothing, so a dry run runs it too); returns its output
        when `capture`. A non-zero exit is a Failure."""
        print("+ " + shown(cmd), flush=True)
        if self.dry_run and not read:
            return ""
        try:
            result = subprocess.run(
                cmd, cwd=REPO, text=True, check=False, stdout=subprocess.PIPE if capture else None
            )
        except FileNotFoundError:
            raise Failure(
                f"{cmd[0]} is not installed (kind/versions.env says which version CI uses)"
            ) from None
        if result.returncode != 0:
            raise Failure(f"exit status {result.returncode}: {shown(cmd)[:300]}")
        return result.stdout if capture else ""

    def note(self, text: str) -> None:
        print(f"\n== {text}", flush=True)


def kubectl(*args: str) -> list[str]:
    """A kubectl command against the kind cluster only, whatever the current context is."""
    return ["kubectl", "--context", f"kind-{cluster_name()}", *args]


def helm(*args: str) -> list[str]:
    return ["helm", "--kube-context", f"kind-{cluster_name()}", *args]


# --- Configuration ----------------------------------------------------------------------------


def read_versions() -> dict[str, str]:
    """kind/versions.env: KEY=value lines."""
    versions = {}
    for line in (HERE / "versions.env").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            versions[key.strip()] = value.strip()
    return versions


def cluster_name() -> str:
    return yaml.safe_load((HERE / "cluster.yaml").read_text(encoding="utf-8"))["name"]


def node_kubernetes_version(versions: dict[str, str]) -> str:
    match = re.search(r":(v\d+\.\d+\.\d+)@", versions["KIND_NODE_IMAGE"])
    if not match:
        raise Failure(f"KIND_NODE_IMAGE names no Kubernetes version: {versions['KIND_NODE_IMAGE']}")
    return match[1]


def chart_values() -> dict[str, Any]:
    """The chart's defaults with kind/values.yaml over them (one level deep is all this reads)."""
    defaults = yaml.safe_load((REPO / CHART / "values.yaml").read_text(encoding="utf-8"))
    ours = yaml.safe_load((REPO / VALUES).read_text(encoding="utf-8"))
    return {key: {**defaults.get(key, {}), **ours.get(key, {})} for key in ("image", "tests")}


def image_tag() -> str:
    return str(chart_values()["image"]["tag"])


def probe_image() -> str:
    """The chart's own helm test image (curl), for every pod this run makes."""
    image = chart_values()["tests"]["image"]
    ref = f"{image['registry']}/{image['repository']}:{image['tag']}"
    return f"{ref}@{image['digest']}" if image.get("digest") else ref


# --- The plan, from the rendered chart --------------------------------------------------------


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if set(selector) - {"matchLabels"}:
        raise Failure(f"this run understands matchLabels selectors only: {selector}")
    return selector.get("matchLabels", {}).items() <= labels.items()


@dataclass
class Workload:
    """A Deployment: its pods' labels, the replicas its HPA keeps at least, its images."""

    name: str
    selector: dict[str, str]
    labels: dict[str, str]
    min_replicas: int | None
    ports: dict[str, int]
    images: list[str]


@dataclass
class Target:
    """One port of a Service: /metrics over HTTP on a port named http, else a TCP connection."""

    service: str
    port: int
    container_port: int
    workload: Workload
    http: bool

    @property
    def pod_port(self) -> tuple[int, str | None]:
        """The container port as a NetworkPolicy may name it: number, and name if it has one."""
        names = [name for name, number in self.workload.ports.items() if number == self.container_port]
        return self.container_port, names[0] if names else None

    @property
    def url(self) -> str:
        return (
            f"http://{self.service}:{self.port}/metrics" if self.http else f"tcp://{self.service}:{self.port}"
        )


@dataclass
class Source:
    """Where a probe runs from: a pod of a Deployment (an ephemeral container in it), or a pod of
    this run's own with given labels."""

    name: str
    labels: dict[str, str]
    workload: Workload | None = None


@dataclass
class Probe:
    source: Source
    target: Target
    expect_open: bool


@dataclass
class Plan:
    workloads: list[Workload] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    entry: Target | None = None
    test_pod: dict[str, Any] | None = None


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return sorted((d for d in docs if d["kind"] == kind), key=lambda d: d["metadata"]["name"])


def admits(
    policies: list[dict[str, Any]],
    direction: str,
    pod: dict[str, str],
    peer: dict[str, str],
    port: tuple[int, str | None],
) -> bool:
    """Whether the NetworkPolicies let `pod` (labels) exchange traffic with `peer` (labels), both
    pods of NAMESPACE, on a container port (number, name): `direction` Ingress is peer -> pod,
    Egress pod -> peer. A pod no policy of that direction selects is open."""
    applying = [
        p
        for p in policies
        if direction in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], pod)
    ]
    if not applying:
        return True
    peers_key = "from" if direction == "Ingress" else "to"
    namespace_labels = {"kubernetes.io/metadata.name": NAMESPACE}
    for policy in applying:
        for rule in policy["spec"].get(direction.lower()) or []:
            ports = rule.get("ports")
            if ports and not any(p.get("protocol", "TCP") == "TCP" and p.get("port") in port for p in ports):
                continue
            if peers_key not in rule:
                return True
            for candidate in rule[peers_key]:
                # ipBlock rules are for addresses outside the cluster, never for pods.
                if "ipBlock" in candidate:
                    continue
                in_namespace = selects(candidate.get("namespaceSelector", {}), namespace_labels)
                if in_namespace and selects(candidate.get("podSelector", {}), peer):
                    return True
    return False


def plan_from(docs: list[dict[str, Any]]) -> Plan:
    plan = Plan()
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h["spec"]["minReplicas"]
        for h in of_kind(docs, "HorizontalPodAutoscaler")
    }
    for deployment in of_kind(docs, "Deployment"):
        template = deployment["spec"]["template"]
        containers = template["spec"]["containers"] + template["spec"].get("initContainers", [])
        plan.workloads.append(
            Workload(
                name=deployment["metadata"]["name"],
                selector=deployment["spec"]["selector"]["matchLabels"],
                labels=template["metadata"]["labels"],
                min_replicas=hpas.get(deployment["metadata"]["name"]),
                ports={
                    p["name"]: p["containerPort"]
                    for c in containers
                    for p in c.get("ports", [])
                    if "name" in p
                },
                images=[c["image"] for c in containers],
            )
        )
    for service in of_kind(docs, "Service"):
        selector = service["spec"].get("selector")
        for workload in plan.workloads:
            if not selector or not selects({"matchLabels": selector}, workload.labels):
                continue
            for port in service["spec"]["ports"]:
                target_port = port.get("targetPort", port["port"])
                container_port = workload.ports[target_port] if isinstance(target_port, str) else target_port
                plan.targets.append(
                    Target(
                        service["metadata"]["name"],
                        port["port"],
                        container_port,
                        workload,
                        port.get("name") == "http",
                    )
                )
    tests = [
        p
        for p in of_kind(docs, "Pod")
        if (p["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"
    ]
    plan.test_pod = tests[0] if tests else None

    # Probe sources: a pod of every Deployment; a pod for every other peer the policies name in the
    # namespace (the helm test pod's labels, a scraper); and a pod with none of the chart's labels.
    policies = of_kind(docs, "NetworkPolicy")
    mark = {RUN_LABEL: "true"}
    plan.sources = [Source(w.name, w.labels, w) for w in plan.workloads]
    peers: list[dict[str, str]] = []
    for policy in policies:
        for rule in policy["spec"].get("ingress") or []:
            for peer in rule.get("from", []):
                if "ipBlock" in peer or not selects(
                    peer.get("namespaceSelector", {}), {"kubernetes.io/metadata.name": NAMESPACE}
                ):
                    continue
                labels = peer.get("podSelector", {}).get("matchLabels", {})
                if (
                    labels
                    and not any(selects({"matchLabels": labels}, w.labels) for w in plan.workloads)
                    and labels not in peers
                ):
                    peers.append(labels)
    plan.sources += [Source(f"probe-peer-{i}", {**mark, **labels}) for i, labels in enumerate(peers, start=1)]
    plan.sources.append(Source("probe-outsider", dict(mark)))

    for source in plan.sources:
        for target in plan.targets:
            if target.workload is source.workload:
                continue
            destination = target.workload.labels
            port = target.pod_port
            open_ = admits(policies, "Egress", source.labels, destination, port) and admits(
                policies, "Ingress", destination, source.labels, port
            )
            plan.probes.append(Probe(source, target, open_))

    # The way in from outside: an http port of a Service whose pods take traffic from anyone.
    public = [
        t for t in plan.targets if t.http and admits(policies, "Ingress", t.workload.labels, {}, t.pod_port)
    ]
    if len(public) != 1:
        raise Failure(f"expected one public http Service port, found {[(t.service, t.port) for t in public]}")
    plan.entry = public[0]
    return plan


# --- Steps ------------------------------------------------------------------------------------


def check_tools(sh: Shell, versions: dict[str, str], pinned: bool) -> None:
    """The tools on PATH, and whether they are the pinned versions (a warning, or with `pinned`
    a failure)."""
    kind = sh.run(["kind", "version"], capture=True)
    kubectl_client = sh.run(["kubectl", "version", "--client", "-o", "json"], capture=True)
    helm_version = sh.run(["helm", "version", "--template", "{{.Version}}"], capture=True)
    sh.run(["docker", "buildx", "version"])
    if sh.dry_run:
        return
    found = {
        "KIND_VERSION": kind.split()[1],
        "KUBECTL_VERSION": json.loads(kubectl_client)["clientVersion"]["gitVersion"],
        "HELM_VERSION": helm_version.strip(),
    }
    for key, version in found.items():
        if version != versions[key]:
            message = f"{key.split('_')[0].lower()} is {version}, kind/versions.env pins {versions[key]}"
            if pinned:
                raise Failure(message)
            print(f"warning: {message}", file=sys.stderr)


def git(sh: Shell, *args: str) -> str:
    return sh.run(["git", *args], read=True, capture=True).strip()


def previous_release(sh: Shell) -> str:
    """The newest release tag behind HEAD; before the first release, the commit that added the
    chart (what anyone installing from a clone could have deployed)."""
    if git(sh, "rev-parse", "--is-shallow-repository") != "false":
        raise Failure("the upgrade check needs the chart's history: clone with full history (fetch-depth: 0)")
    tags = git(sh, "tag", "--merged", "HEAD", "--list", "v[0-9]*", "--sort=-v:refname").split()
    if tags:
        return tags[0]
    first = git(sh, "log", "--diff-filter=A", "--format=%H", "--", f"{CHART}/Chart.yaml").split()
    if not first:
        raise Failure(f"{CHART}/Chart.yaml has no history")
    return first[-1]


def previous_chart(sh: Shell, ref: str, workdir: Path) -> Path:
    archive = workdir / "previous-chart.tar"
    sh.run(["git", "archive", "--format=tar", f"--output={archive}", ref, CHART], read=True)
    with tarfile.open(archive) as tar:
        tar.extractall(workdir, filter="data")
    return workdir / CHART


def render(sh: Shell, chart: str | Path, versions: dict[str, str], *extra: str) -> list[dict[str, Any]]:
    manifest = sh.run(
        ["helm", "template", RELEASE, str(chart), "--namespace", NAMESPACE,
         "--kube-version", node_kubernetes_version(versions), "--values", VALUES, *extra],
        read=True, capture=True,
    )  # fmt: skip
    return [doc for doc in yaml.safe_load_all(manifest) if doc]


def built_images(plan: Plan) -> list[str]:
    """The images of the chart's Deployments that docker/Dockerfile builds (its targets are the
    image names), as kind/values.yaml names them."""
    image = chart_values()["image"]
    prefix = f"{image['registry']}/{image['owner']}/"
    return sorted({ref for w in plan.workloads for ref in w.images if ref.startswith(prefix)})


def build_and_load(sh: Shell, plan: Plan, previous: Plan) -> None:
    sh.note("Images from docker/Dockerfile, loaded into the kind nodes")
    commit = git(sh, "rev-parse", "HEAD")
    refs = built_images(plan)
    tag = image_tag()
    previous_refs = [f"{ref.rsplit(':', 1)[0]}:{tag}{PREVIOUS_TAG_SUFFIX}" for ref in refs]
    unknown = set(built_images(previous)) - set(previous_refs)
    if unknown:
        raise Failure(f"the previous release runs images this tree does not build: {sorted(unknown)}")
    for ref, previous_ref in zip(refs, previous_refs):
        target = ref.rsplit("/", 1)[1].split(":")[0]
        sh.run(["docker", "buildx", "build", "--file", "docker/Dockerfile", "--target", target,
                "--build-arg", f"GIT_COMMIT={commit}", "--tag", ref, "--load", "."])  # fmt: skip
        sh.run(["docker", "tag", ref, previous_ref])
    sh.run(["kind", "load", "docker-image", "--name", cluster_name(), *refs, *previous_refs])


def create_cluster(sh: Shell, versions: dict[str, str]) -> None:
    sh.note(
        f"kind cluster {cluster_name()} (kind/cluster.yaml), namespace {NAMESPACE} under restricted Pod Security"
    )
    sh.run(["kind", "create", "cluster", "--config", "kind/cluster.yaml",
            "--image", versions["KIND_NODE_IMAGE"], "--wait", "3m"])  # fmt: skip
    sh.run(kubectl("create", "namespace", NAMESPACE))
    sh.run(kubectl("label", "namespace", NAMESPACE,
                   "pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/warn=restricted"))  # fmt: skip
    sh.run(kubectl("create", "configmap", FAKE_UNSPLASH_CONFIGMAP, "--namespace", NAMESPACE,
                   f"--from-file={FAKE_UNSPLASH.relative_to(REPO)}/nginx.conf",
                   f"--from-file={FAKE_UNSPLASH.relative_to(REPO)}/search-photos.json"))  # fmt: skip


def wait_for_workloads(sh: Shell, plan: Plan) -> None:
    """Every Deployment rolled out, at the replicas its HPA keeps at least (no metrics-server
    runs here, so the HPAs hold their minimum)."""
    for workload in plan.workloads:
        deployment = f"deployment/{workload.name}"
        if workload.min_replicas:
            sh.run(kubectl("wait", "--namespace", NAMESPACE, deployment,
                           f"--for=jsonpath={{.spec.replicas}}={workload.min_replicas}", "--timeout=2m"))  # fmt: skip
        sh.run(kubectl("rollout", "status", "--namespace", NAMESPACE, deployment, f"--timeout={TIMEOUT}"))


def running_pod(sh: Shell, workload: Workload) -> str:
    """A ready pod of a Deployment that is not on its way out."""
    selector = selector_arg(workload.selector)
    listing = sh.run(
        kubectl("get", "pods", "--namespace", NAMESPACE, "-l", selector, "-o", "json"), capture=True
    )
    if sh.dry_run:
        return f"<a {workload.name} pod>"
    for pod in json.loads(listing)["items"]:
        statuses = pod["status"].get("containerStatuses", [])
        if "deletionTimestamp" not in pod["metadata"] and statuses and all(s["ready"] for s in statuses):
            return pod["metadata"]["name"]
    raise Failure(f"no ready pod of {workload.name}")


def selector_arg(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def test_pod_container(plan: Plan) -> dict[str, Any]:
    if plan.test_pod is None:
        raise Failure(
            "the chart renders no helm test pod, whose image and security context this run's pods use"
        )
    return plan.test_pod["spec"]["containers"][0]


def run_pod(sh: Shell, plan: Plan, name: str, labels: dict[str, str], argv: list[str]) -> None:
    """Starts a pod of this run's own: the chart's test image and the restricted security context
    of the chart's test pod (merged into the container kubectl generates, by name)."""
    container = test_pod_container(plan)
    overrides = {
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": plan.test_pod["spec"]["securityContext"],
            "containers": [
                {
                    "name": name,
                    "securityContext": container["securityContext"],
                    "resources": container["resources"],
                }
            ],
        }
    }
    sh.run(kubectl("run", name, "--namespace", NAMESPACE, f"--image={probe_image()}", "--restart=Never",
                   f"--labels={selector_arg(labels)}", "--override-type=strategic",
                   f"--overrides={json.dumps(overrides, sort_keys=True)}",
                   "--command", "--", *argv))  # fmt: skip


def finished(sh: Shell, pod: str) -> str:
    """Waits for a pod of this run to end, returns its log and deletes it."""
    sh.run(kubectl("wait", "--namespace", NAMESPACE, f"pod/{pod}", "--for=jsonpath={.status.phase}=Succeeded",
                   f"--timeout={TIMEOUT}"))  # fmt: skip
    log = sh.run(kubectl("logs", "--namespace", NAMESPACE, pod), capture=True)
    sh.run(kubectl("delete", "pod", "--namespace", NAMESPACE, pod))
    return log


# --- Load -------------------------------------------------------------------------------------


def load_argv(
    url: str, interval: float = LOAD_INTERVAL_SECONDS, max_seconds: int = LOAD_MAX_SECONDS
) -> list[str]:
    """kind/load.sh on `url`: a request every `interval` seconds until SIGTERM."""
    return ["sh", "-c", ScriptFile("kind/load.sh"), "load", url, str(interval), str(max_seconds)]


def load_summary(log: str) -> tuple[int, int]:
    match = re.search(r"^load: sent=(\d+) failed=(\d+)$", log, flags=re.MULTILINE)
    if not match:
        raise Failure(f"the load pod printed no summary:\n{log}")
    return int(match[1]), int(match[2])


def start_load(sh: Shell, plan: Plan) -> float:
    """A steady load on the public Service's API from a pod inside the cluster."""
    url = f"http://{plan.entry.service}:{plan.entry.port}{API_PATH}"
    run_pod(sh, plan, LOAD_POD, {RUN_LABEL: "true", ROLE_LABEL: "load"}, load_argv(url))
    sh.run(
        kubectl("wait", "--namespace", NAMESPACE, f"pod/{LOAD_POD}", "--for=condition=Ready", "--timeout=3m")
    )
    return time.monotonic()


def stop_load(sh: Shell, started: float, min_seconds: int) -> None:
    """Stops the load once it has run `min_seconds`; fails on any failed request."""
    if not sh.dry_run:
        time.sleep(max(0.0, min_seconds - (time.monotonic() - started)))
    sh.run(kubectl("exec", "--namespace", NAMESPACE, LOAD_POD, "--", "kill", "-TERM", "1"))
    log = finished(sh, LOAD_POD)
    if sh.dry_run:
        return
    sent, failed = load_summary(log)
    print(f"load: {sent} requests, {failed} failed")
    if failed or sent < max(20, min_seconds):
        raise Failure(f"the load sent {sent} requests, {failed} failed (none may; at least 20 sent):\n{log}")


# --- Probes -----------------------------------------------------------------------------------


def probe_argv(urls: list[str]) -> list[str]:
    """kind/probe.sh on each URL (http://<service>:<port>/metrics or tcp://<service>:<port>)."""
    return ["sh", "-c", ScriptFile("kind/probe.sh"), "probe", *urls]


@dataclass
class Seen:
    connected: bool
    exit: int
    http: str
    metrics: bool


def parse_checks(log: str) -> dict[str, Seen]:
    seen = {}
    for match in re.finditer(
        r"^check (\S+) connected=([01]) exit=(\d+) http=(\d*) metrics=(yes|no)$", log, flags=re.MULTILINE
    ):
        seen[match[1]] = Seen(match[2] == "1", int(match[3]), match[4], match[5] == "yes")
    return seen


def holds(probe: Probe, seen: Seen | None) -> bool:
    """Open: connected, and on an http port /metrics answered 200 with Prometheus text. Closed:
    no connection, refused or timed out (curl 7 or 28), not a name that did not resolve."""
    if seen is None:
        return False
    if probe.expect_open:
        return seen.connected and (
            not probe.target.http or (seen.exit == 0 and seen.http == "200" and seen.metrics)
        )
    return not seen.connected and seen.exit in (7, 28)


def describe(source: Source) -> str:
    return (
        f"deployment/{source.workload.name}" if source.workload else f"labels:{selector_arg(source.labels)}"
    )


def run_probes(sh: Shell, plan: Plan, workdir: Path) -> None:
    sh.note("NetworkPolicies and /metrics: every pod tries every Service port it may and may not reach")
    for probe in plan.probes:
        print(
            f"probe: {describe(probe.source)} -> {probe.target.url} expect {'open' if probe.expect_open else 'closed'}"
        )
    # An ephemeral container takes the restricted debug profile, then the security context of the
    # chart's test pod over it: its user too, so any pod can run the curl image (whose USER is a
    # name, which runAsNonRoot cannot check).
    custom = workdir / "probe-container.json"
    custom.write_text(json.dumps({"securityContext": test_pod_container(plan)["securityContext"]}))
    print(f"{custom}: {custom.read_text()}")
    started = []
    for number, source in enumerate(plan.sources, start=1):
        argv = probe_argv([p.target.url for p in plan.probes if p.source is source])
        if source.workload:
            # From inside a real pod of the Deployment (an ephemeral container shares its network),
            # so its own egress policy and its labels are what the target sees.
            pod, container = running_pod(sh, source.workload), f"probe-{number}"
            sh.run(kubectl("debug", "--namespace", NAMESPACE, f"pod/{pod}", f"--container={container}",
                           f"--image={probe_image()}", "--profile=restricted", f"--custom={custom}", "--quiet",
                           "--", *argv))  # fmt: skip
        else:
            pod, container = source.name, None
            run_pod(sh, plan, source.name, source.labels, argv)
        started.append((source, pod, container))
    seen: dict[tuple[str, str], Seen | None] = {}
    for source, pod, container in started:
        if container:
            done = f'{{.status.ephemeralContainerStatuses[?(@.name=="{container}")].state.terminated.reason}}'
            sh.run(kubectl("wait", "--namespace", NAMESPACE, f"pod/{pod}", f"--for=jsonpath={done}=Completed",
                           f"--timeout={TIMEOUT}"))  # fmt: skip
            log = sh.run(
                kubectl("logs", "--namespace", NAMESPACE, f"pod/{pod}", f"--container={container}"),
                capture=True,
            )
        else:
            log = finished(sh, pod)
        for url, result in parse_checks(log).items():
            seen[(source.name, url)] = result
    if sh.dry_run:
        return
    wrong = []
    for probe in plan.probes:
        result = seen.get((probe.source.name, probe.target.url))
        verdict = "as expected" if holds(probe, result) else "WRONG"
        print(
            f"{describe(probe.source)} -> {probe.target.url}: expected {'open' if probe.expect_open else 'closed'}, saw {result} {verdict}"
        )
        if verdict == "WRONG":
            wrong.append(f"{describe(probe.source)} -> {probe.target.url}")
    if wrong:
        raise Failure("these connections did not go as the NetworkPolicies say:\n  " + "\n  ".join(wrong))


# --- The page, through a port-forward ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def stand_in_photo() -> tuple[str, str]:
    """The photo URL (without its query) and the photographer of the stand-in's search result."""
    result = json.loads((FAKE_UNSPLASH / "search-photos.json").read_text(encoding="utf-8"))["results"][0]
    return result["urls"]["full"].split("?")[0], result["user"]["name"]


def check_bird(answer: dict[str, Any]) -> None:
    photo, photographer = stand_in_photo()
    image = urllib.parse.urlsplit(answer.get("image", ""))
    query = urllib.parse.parse_qs(image.query)
    problems = []
    if answer.get("name") in (None, DISGUISED):
        problems.append(f"the bird is {answer.get('name')!r}: {answer.get('description')}")
    if image._replace(query="").geturl() != photo or query.get("w") != ["2000"] or query.get("q") != ["100"]:
        problems.append(
            f"the image is not the stand-in photo at width 2000, quality 100: {answer.get('image')}"
        )
    if (answer.get("credit") or {}).get("name") != photographer:
        problems.append(f"the credit is not the stand-in photographer's: {answer.get('credit')}")
    if problems:
        raise Failure("/api/bird: " + "; ".join(problems))


def check_page(sh: Shell, plan: Plan) -> None:
    sh.note(f"The page and {API_PATH} from this machine, through a port-forward")
    entry = plan.entry
    port = "<free port>" if sh.dry_run else str(free_port())
    cmd = kubectl("port-forward", "--namespace", NAMESPACE, f"service/{entry.service}", f"{port}:{entry.port}",
                  "--address=127.0.0.1")  # fmt: skip
    print("+ " + shlex.join(cmd) + " &", flush=True)
    base = f"http://127.0.0.1:{port}"
    if sh.dry_run:
        print(f"GET {base}/\nGET {base}{API_PATH}")
        return
    forward = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        ready = threading.Event()
        threading.Thread(target=lambda: forward.stdout.readline() and ready.set(), daemon=True).start()
        if not ready.wait(60):
            raise Failure("kubectl port-forward did not start")
        status, api = get(base + API_PATH)
        if status != 200:
            raise Failure(f"{API_PATH} answered {status}: {api[:300]}")
        check_bird(json.loads(api))
        status, page = get(base + "/")
        photo, photographer = stand_in_photo()
        if status != 200 or photo not in page or photographer not in page or DISGUISED in page:
            raise Failure(
                f"the page ({status}) does not show a bird with the stand-in photo {photo} by {photographer}"
            )
        print(f"{API_PATH}: {json.loads(api)['name']} with the stand-in photo; the page shows one too")
    finally:
        forward.terminate()
        forward.wait(timeout=30)


# --- Scenarios --------------------------------------------------------------------------------


def install(sh: Shell, chart: str | Path, *extra: str) -> None:
    sh.run(helm("install", RELEASE, str(chart), "--namespace", NAMESPACE, "--values", VALUES, *extra,
                "--wait", f"--timeout={TIMEOUT}"))  # fmt: skip


def upgrade_and_roll_back(sh: Shell, plan: Plan, previous: Plan, ref: str, previous_dir: Path) -> None:
    sh.note(f"The previous release's chart ({ref}), upgraded to this tree's and rolled back under load")
    install(sh, previous_dir, "--set", f"image.tag={image_tag()}{PREVIOUS_TAG_SUFFIX}")
    wait_for_workloads(sh, previous)
    started = start_load(sh, plan)
    sh.run(helm("upgrade", RELEASE, CHART, "--namespace", NAMESPACE, "--values", VALUES,
                "--wait", f"--timeout={TIMEOUT}"))  # fmt: skip
    wait_for_workloads(sh, plan)
    sh.run(helm("rollback", RELEASE, "1", "--namespace", NAMESPACE, "--wait", f"--timeout={TIMEOUT}"))
    wait_for_workloads(sh, previous)
    stop_load(sh, started, 0)


def uninstall(sh: Shell) -> None:
    sh.note("helm uninstall leaves nothing of the release behind")
    sh.run(helm("uninstall", RELEASE, "--namespace", NAMESPACE, "--wait", "--cascade=foreground",
                f"--timeout={TIMEOUT}"))  # fmt: skip
    kinds = ",".join(sh.run(kubectl("api-resources", "--verbs=list", "-o", "name"), capture=True).split())
    left = sh.run(
        kubectl(
            "get", kinds or "<every listable kind>", "--all-namespaces", "-l", RELEASE_LABEL, "-o", "name"
        ),
        capture=True,
    )
    records = sh.run(
        kubectl("get", "secrets", "--all-namespaces", "-l", f"owner=helm,name={RELEASE}", "-o", "name"),
        capture=True,
    )
    if left.strip() or records.strip():
        raise Failure(f"left behind after helm uninstall:\n{left}{records}")


def lose_a_pod_of_each(sh: Shell, plan: Plan) -> None:
    sh.note("One pod of each Deployment deleted under a steady load")
    started = start_load(sh, plan)
    if not sh.dry_run:
        time.sleep(LOAD_LEAD_SECONDS)  # the load runs a while before the first pod goes
    pods = [running_pod(sh, workload) for workload in plan.workloads]
    sh.run(kubectl("delete", "pod", "--namespace", NAMESPACE, *pods, "--wait=true", f"--timeout={TIMEOUT}"))
    wait_for_workloads(sh, plan)
    stop_load(sh, started, LOAD_MIN_SECONDS)


def install_and_check(sh: Shell, plan: Plan, workdir: Path) -> None:
    sh.note("This tree's chart, installed and checked")
    install(sh, CHART)
    wait_for_workloads(sh, plan)
    sh.run(helm("test", RELEASE, "--namespace", NAMESPACE, "--logs", f"--timeout={TIMEOUT}"))
    check_page(sh, plan)
    run_probes(sh, plan, workdir)
    lose_a_pod_of_each(sh, plan)


def diagnose(logs_dir: Path | None) -> None:
    """The cluster's state after a failure, on stdout and (with --logs-dir) in files."""
    print("\n== What the cluster looked like", flush=True)
    commands = [
        kubectl("get", "nodes", "-o", "wide"),
        kubectl(
            "get",
            "all,networkpolicies,poddisruptionbudgets,configmaps",
            "--namespace",
            NAMESPACE,
            "-o",
            "wide",
        ),
        kubectl("get", "events", "--namespace", NAMESPACE, "--sort-by=.lastTimestamp"),
        kubectl("describe", "pods", "--namespace", NAMESPACE),
        helm("history", RELEASE, "--namespace", NAMESPACE),
    ]
    pods = subprocess.run(
        kubectl("get", "pods", "--namespace", NAMESPACE, "-o", "name"),
        capture_output=True,
        text=True,
        check=False,
    )
    for pod in pods.stdout.split():
        commands.append(
            kubectl("logs", "--namespace", NAMESPACE, pod, "--all-containers", "--prefix", "--tail=60")
        )
    report = []
    for cmd in commands:
        result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
        report.append(f"+ {shlex.join(cmd)}\n{result.stdout}{result.stderr}")
    print("\n".join(report), flush=True)
    if logs_dir:
        logs_dir.mkdir(parents=True, exist_ok=True)
        (logs_dir / "diagnostics.txt").write_text("\n".join(report), encoding="utf-8")
        subprocess.run(
            ["kind", "export", "logs", str(logs_dir / "kind"), "--name", cluster_name()], check=False
        )


def up(sh: Shell, args: argparse.Namespace) -> None:
    versions = read_versions()
    sh.note("Tools")
    check_tools(sh, versions, args.pinned_tools)
    if cluster_name() in sh.run(["kind", "get", "clusters"], capture=True).split():
        raise Failure(f"kind cluster {cluster_name()} exists already: `make cluster-delete` first")

    sh.note("The plan, from the chart as helm renders it with kind/values.yaml")
    plan = plan_from(render(sh, CHART, versions))
    ref = previous_release(sh)
    with tempfile.TemporaryDirectory(prefix="bird-cluster-") as tmp:
        workdir = Path(tmp)
        previous_dir = previous_chart(sh, ref, workdir)
        previous_tag = f"image.tag={image_tag()}{PREVIOUS_TAG_SUFFIX}"
        previous = plan_from(render(sh, previous_dir, versions, "--set", previous_tag))
        try:
            create_cluster(sh, versions)
            build_and_load(sh, plan, previous)
            upgrade_and_roll_back(sh, plan, previous, ref, previous_dir)
            uninstall(sh)
            install_and_check(sh, plan, workdir)
        except Failure:
            if not sh.dry_run:
                diagnose(args.logs_dir)
            raise

    entry = plan.entry
    print(
        f"\nThe Bird stack runs in kind cluster {cluster_name()} (kubectl context kind-{cluster_name()}),"
        f" namespace {NAMESPACE}. To open it:\n"
        f"  kubectl --context kind-{cluster_name()} --namespace {NAMESPACE} port-forward service/{entry.service} 8080:{entry.port}\n"
        "  then browse to http://localhost:8080/\n"
        "Delete the cluster with `make cluster-delete`."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "delete"])
    parser.add_argument(
        "--dry-run", action="store_true", help="print every command; run only git and helm template"
    )
    parser.add_argument(
        "--logs-dir", type=Path, help="on failure, save the diagnostics and the nodes' logs here"
    )
    parser.add_argument(
        "--pinned-tools",
        action="store_true",
        help="fail unless kind, kubectl and helm are the versions of kind/versions.env",
    )
    args = parser.parse_args(argv)
    sh = Shell(args.dry_run)
    if args.dry_run:
        print("Dry run: every command is printed; only git and helm template are run.")
    try:
        if args.command == "delete":
            sh.run(["kind", "delete", "cluster", "--name", cluster_name()])
        else:
            up(sh, args)
    except Failure as failure:
        print(f"\nkind/cluster.py: {failure}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
