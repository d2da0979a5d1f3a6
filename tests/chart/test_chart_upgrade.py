"""`helm upgrade` from the previous release works: the chart as the last release tag had it and
as it is now must not differ in a field Kubernetes refuses to change on an existing object."""

from __future__ import annotations

import base64
import copy
import http.server
import json
import subprocess
import tarfile
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from .manifests import CHART_DIR, NAMESPACE, RELEASE, VALKEY, Rendered, with_required

import helm_python as helm

REPO = CHART_DIR.parent
HOOK = "helm.sh/hook"

# The values a user of the previous release is most likely to have: the defaults, and the
# documented install behind the NLB (infrastructure/README.md).
UPGRADE_VALUES: dict[str, dict[str, Any]] = {
    "default": {},
    "behind-the-nlb": {
        "services": {"frontend": {"service": {"type": "NodePort", "nodePort": 30080}}}
    },
}


def git(*args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def previous_release() -> str:
    """The newest release tag behind HEAD; before the first release, the chart's first commit
    (what anyone installing from a clone could have deployed)."""
    assert git("rev-parse", "--is-shallow-repository") == "false", (
        "the upgrade test reads the chart's history: clone with full history "
        "(actions/checkout with fetch-depth: 0)"
    )
    tags = git("tag", "--merged", "HEAD", "--list", "v[0-9]*", "--sort=-v:refname").split()
    if tags:
        return tags[0]
    first = git("log", "--diff-filter=A", "--format=%H", "--", "bird-chart/Chart.yaml").split()
    assert first, "bird-chart/Chart.yaml has no history"
    return first[-1]


def immutable_fields(doc: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(field, value) pairs the API server will not change in place on an existing object."""
    kind, spec = doc["kind"], doc.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        yield "spec.selector", spec.get("selector")
    if kind == "StatefulSet":
        yield "spec.serviceName", spec.get("serviceName")
        yield "spec.volumeClaimTemplates", spec.get("volumeClaimTemplates")
    if kind == "Service":
        # An explicit clusterIP cannot change; moving to or from ExternalName needs a replace.
        yield "spec.clusterIP", spec.get("clusterIP")
        yield "spec.type is ExternalName", spec.get("type") == "ExternalName"
    if kind == "PodDisruptionBudget":
        # Mutable in policy/v1, but a changed selector silently protects other pods during the
        # rollout that changes it.
        yield "spec.selector", spec.get("selector")
    if kind == "Job":
        yield "spec.template", spec.get("template")
        yield "spec.selector", spec.get("selector")
    if kind == "PersistentVolumeClaim":
        yield "spec.storageClassName", spec.get("storageClassName")
        yield "spec.accessModes", spec.get("accessModes")


def upgrade_breaks(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    """Fields of objects in both renderings that an upgrade from `old` to `new` would change
    although Kubernetes refuses to; hooks (the helm test pod) are recreated, so they are free."""

    def by_identity(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {
            (d["kind"], d["metadata"]["name"]): d
            for d in docs
            if HOOK not in (d["metadata"].get("annotations") or {})
        }

    before, after = by_identity(old), by_identity(new)
    problems = []
    for identity in sorted(before.keys() & after.keys()):
        old_fields = dict(immutable_fields(before[identity]))
        for name, value in immutable_fields(after[identity]):
            if old_fields.get(name) != value:
                problems.append(
                    f"{identity[0]}/{identity[1]} {name}: {old_fields.get(name)!r} -> {value!r}"
                )
    return problems


def render_chart(chart_dir: Path, values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(chart_dir) as chart:
        files = chart.render(
            with_required(values), name=RELEASE, namespace=NAMESPACE, is_upgrade=True
        )
    return Rendered(values, files).docs


@pytest.fixture(scope="module")
def previous_chart(tmp_path_factory) -> Path:
    ref = previous_release()
    target = tmp_path_factory.mktemp("previous")
    archive = target / "chart.tar"
    git("archive", "--format=tar", f"--output={archive}", ref, "bird-chart")
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target / "bird-chart"


@pytest.mark.parametrize("value_set", sorted(UPGRADE_VALUES))
def test_upgrade_from_the_previous_release_changes_no_immutable_field(previous_chart, value_set):
    values = UPGRADE_VALUES[value_set]
    old = render_chart(previous_chart, values)
    new = render_chart(CHART_DIR, values)
    assert {d["kind"] for d in old} & {"Deployment", "Service", "PodDisruptionBudget"}
    assert upgrade_breaks(old, new) == []


def deployment(selector: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "bird-api"},
        "spec": {"replicas": 2, "selector": {"matchLabels": selector}},
    }


def test_a_changed_selector_is_reported():
    old = [deployment({"app": "bird"})]
    new = [deployment({"app": "bird", "tier": "api"})]
    assert upgrade_breaks(old, new) == [
        "Deployment/bird-api spec.selector: {'matchLabels': {'app': 'bird'}} -> "
        "{'matchLabels': {'app': 'bird', 'tier': 'api'}}"
    ]


def test_mutable_changes_and_recreated_hooks_are_not_reported():
    old = [deployment({"app": "bird"})]
    new = copy.deepcopy(old)
    new[0]["spec"]["replicas"] = 5
    hook = {
        "kind": "Job",
        "metadata": {"name": "t", "annotations": {HOOK: "test"}},
        "spec": {"template": {}},
    }
    changed_hook = copy.deepcopy(hook)
    changed_hook["spec"]["template"] = {"spec": {"containers": []}}
    assert upgrade_breaks(old + [hook], new + [changed_hook]) == []


@pytest.mark.parametrize(
    ("old_spec", "new_spec"),
    [
        ({"type": "ClusterIP", "clusterIP": "10.0.0.10"}, {"type": "ClusterIP", "clusterIP": "10.0.0.11"}),
        ({"type": "ClusterIP"}, {"type": "ClusterIP", "clusterIP": "None"}),
        ({"type": "ClusterIP"}, {"type": "ExternalName", "externalName": "example.org"}),
    ],
)
def test_service_changes_that_need_a_replace_are_reported(old_spec, new_spec):
    def service(spec):
        return [{"kind": "Service", "metadata": {"name": "bird-api-service"}, "spec": spec}]

    assert len(upgrade_breaks(service(old_spec), service(new_spec))) == 1


# The store's password across upgrades: the chart reads its own Secret back with `lookup`, which
# real Helm answers here from a stand-in Kubernetes API on loopback.


class FakeApiServer(http.server.BaseHTTPRequestHandler):
    """Discovery of the core v1 Secrets and GET of the Secrets in `secrets`; 404 for the rest."""

    secrets: dict[str, dict[str, Any]] = {}
    asked: list[str] = []

    def do_GET(self):
        path = self.path.split("?")[0]
        self.asked.append(path)
        prefix = f"/api/v1/namespaces/{NAMESPACE}/secrets/"
        if path == "/api/v1":
            body: dict[str, Any] = {
                "kind": "APIResourceList",
                "groupVersion": "v1",
                "resources": [{"name": "secrets", "singularName": "secret", "namespaced": True, "kind": "Secret", "verbs": ["get", "list"]}],
            }
        elif path.startswith(prefix) and path[len(prefix):] in self.secrets:
            body = self.secrets[path[len(prefix):]]
        else:
            body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
        self.send_response(body.get("code", 200))
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def cluster():
    """render(secrets) -> the chart rendered for an upgrade on a cluster holding those Secrets
    (name -> data, base64 as the API gives it)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
            "users": [{"name": "fake", "user": {"token": "fake"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": NAMESPACE}}],
            "current-context": "fake",
        }
    )

    def render(secrets: dict[str, dict[str, str]]) -> Rendered:
        FakeApiServer.secrets = {
            name: {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NAMESPACE}, "data": data}
            for name, data in secrets.items()
        }
        FakeApiServer.asked = []
        with helm.Config(kubeconfig_content=kubeconfig, namespace=NAMESPACE) as config, helm.Chart.load(CHART_DIR) as chart:
            files = config.render(chart, with_required(), name=RELEASE, namespace=NAMESPACE, is_upgrade=True)
        return Rendered({}, files)

    try:
        yield render
    finally:
        server.shutdown()


def store_secret(rendered: Rendered) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in rendered.get("Secret", VALKEY["secret"])["data"].items()}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_an_upgrade_keeps_the_store_password(cluster):
    """Valkey and the running bird-image pods hold the password they started with: a new one in
    the Secret would lock out every pod that restarts."""
    rendered = cluster({VALKEY["secret"]: {"VALKEY_PASSWORD": b64("kept0password1from2install3"), "CACHE_URL": b64("stale")}})
    assert FakeApiServer.asked[-1] == f"/api/v1/namespaces/{NAMESPACE}/secrets/{VALKEY['secret']}"
    assert store_secret(rendered) == {
        "VALKEY_PASSWORD": "kept0password1from2install3",
        "CACHE_URL": f"redis://default:kept0password1from2install3@{VALKEY['name']}-service:{VALKEY['port']}",
    }


@pytest.mark.parametrize("secrets", [{}, {VALKEY["secret"]: {"CACHE_URL": b64("redis://x")}}], ids=["none", "without-a-password"])
def test_without_a_password_to_keep_one_is_made(cluster, secrets):
    password = store_secret(cluster(secrets))["VALKEY_PASSWORD"]
    assert len(password) == 32 and password.isalnum()
