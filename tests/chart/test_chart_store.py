"""store.*: the fleet's store. The release's own Valkey as rendered, its command line and probe run
for real under Debian's redis-server (the same protocol and options), bird-image's URL opening it,
the helm test that checks bird-image reaches it, and the modes without it."""

from __future__ import annotations

import base64
import http.server
import os
import re
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from .manifests import VALKEY

STORE_TEST = "bird-image-api-store-test"
# What bird-image keeps per bird name is a few hundred bytes: 32 MB holds any CACHE_MAX_ENTRIES.
MAXMEMORY_BYTES = 32 * 1024 * 1024


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"`{name}` is not installed: `apt-get install redis-server curl` (.ci/run installs them)")
    return found


def options(args: list[str]) -> dict[str, str]:
    """valkey-server's `--name value` pairs."""
    assert len(args) % 2 == 0 and all(a.startswith("--") for a in args[::2]), args
    return dict(zip(args[::2], args[1::2]))


def secret_data(rendered, name: str) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in rendered.get("Secret", name)["data"].items()}


def test_valkey_is_one_pod_that_keeps_nothing_on_disk(default):
    spec = default.get("Deployment", VALKEY["name"])["spec"]
    # One store, replaced rather than rolled, so the fleet never splits its allowance over two.
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    # A budget for a single pod would block every node drain; one pod does not autoscale.
    assert f"{VALKEY['name']}-pdb" not in default.of_kind("PodDisruptionBudget")
    assert f"{VALKEY['name']}-hpa" not in default.of_kind("HorizontalPodAutoscaler")
    container = default.container(VALKEY["name"])
    assert container["command"] == ["valkey-server"]
    assert options(container["args"]) == {
        "--port": "6379",
        "--requirepass": "$(VALKEYCLI_AUTH)",
        "--save": "",
        "--appendonly": "no",
        "--dir": "/data",
        "--maxmemory": "32mb",
        "--maxmemory-policy": "allkeys-lru",
    }
    assert container["ports"] == [{"name": "valkey", "containerPort": 6379, "protocol": "TCP"}]
    assert container["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"cpu": "250m", "memory": "128Mi"},
    }
    # Data up to maxmemory, and as much again for Valkey itself, beneath the limit.
    limit = int(container["resources"]["limits"]["memory"].removesuffix("Mi")) * 1024 * 1024
    assert 2 * MAXMEMORY_BYTES <= limit


def test_valkey_is_the_official_image_pinned_and_labelled_with_its_version(default, render):
    deployment = default.get("Deployment", VALKEY["name"])
    assert default.container(VALKEY["name"])["image"] == "docker.io/valkey/valkey:9.1.4-alpine"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == "9.1.4-alpine"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/component"] == "store"
    assert default.container(VALKEY["name"])["imagePullPolicy"] == "IfNotPresent"
    digest = "sha256:" + "c" * 64
    image = {"registry": "registry.example", "repository": "mirror/valkey", "tag": "9.1.4", "digest": digest}
    rendered = render({"store": {"valkey": {"image": image, "maxmemory": "48mb", "maxmemoryPolicy": "allkeys-lfu"}}})
    container = rendered.container(VALKEY["name"])
    assert container["image"] == f"registry.example/mirror/valkey:9.1.4@{digest}"
    # The services' pull policy is theirs: a cluster that loads our images (kind) and never pulls
    # them still pulls Valkey's.
    never = render({"image": {"pullPolicy": "Never"}})
    assert never.container("bird-api")["imagePullPolicy"] == "Never"
    assert never.container(VALKEY["name"])["imagePullPolicy"] == "IfNotPresent"
    assert options(container["args"])["--maxmemory"] == "48mb"
    assert options(container["args"])["--maxmemory-policy"] == "allkeys-lfu"


def test_valkey_probes_ask_it_for_an_authenticated_pong(default):
    container = default.container(VALKEY["name"])
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"] == ["sh", "-c", "valkey-cli -p 6379 ping | grep -qx PONG"], probe


def test_the_service_selects_valkey_on_its_port(default):
    service = default.get("Service", f"{VALKEY['name']}-service")
    deployment = default.get("Deployment", VALKEY["name"])
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"] == [{"name": "valkey", "port": 6379, "targetPort": "valkey", "protocol": "TCP"}]


@pytest.mark.parametrize("name", ["external-store", "no-store"])
def test_the_other_modes_run_no_valkey(render_set, name):
    rendered = render_set(name)
    assert [(d["kind"], d["metadata"]["name"]) for d in rendered.docs if VALKEY["name"] in d["metadata"]["name"]] == []


def command_line(rendered, port: int, workdir: Path) -> list[str]:
    """Valkey's container command as the kubelet would run it ($(VAR) expanded from its env, each
    secretKeyRef read from the rendered Secret), on a free loopback port and a scratch directory
    instead of 6379 and the pod's emptyDir; Debian's redis-server instead of valkey-server."""
    container = rendered.container(VALKEY["name"])
    env = {}
    for entry in container["env"]:
        ref = entry["valueFrom"]["secretKeyRef"]
        env[entry["name"]] = secret_data(rendered, ref["name"])[ref["key"]]
    args = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], arg) for arg in container["args"]]
    settings = options(args)
    assert (settings["--port"], settings["--dir"]) == ("6379", "/data")
    settings |= {"--port": str(port), "--dir": str(workdir), "--bind": "127.0.0.1"}
    assert container["command"] == ["valkey-server"]
    return [tool("redis-server"), *[item for pair in settings.items() for item in pair]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def valkey(default, tmp_path):
    """The rendered Valkey running; yields its port."""
    port = free_port()
    server = subprocess.Popen(command_line(default, port, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in server.stdout:
            if "Ready to accept connections" in line:
                break
        else:
            pytest.fail(f"redis-server exited ({server.wait()}) with the rendered command line")
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def cli(*args: str) -> str:
    """redis-cli's answer (its warning about a password on the command line aside)."""
    result = subprocess.run([tool("redis-cli"), "--no-auth-warning", *args], capture_output=True, text=True, timeout=10)
    return (result.stdout + result.stderr).strip()


def test_bird_images_url_opens_the_rendered_valkey_and_nothing_else_does(default, valkey):
    url = urlsplit(secret_data(default, VALKEY["secret"])["CACHE_URL"])
    assert url.hostname == f"{VALKEY['name']}-service"
    local = urlunsplit(url._replace(netloc=f"{url.username}:{url.password}@127.0.0.1:{valkey}"))
    assert cli("-u", local, "ping") == "PONG"
    assert "NOAUTH" in cli("-p", str(valkey), "ping")
    assert "WRONGPASS" in cli("-u", local.replace(url.password, "not-the-password"), "ping")
    # A cache in memory: bounded, least recently used keys first, nothing saved.
    config = cli("-u", local, "config", "get", "*").splitlines()
    config = dict(zip(config[::2], config[1::2]))
    assert config["maxmemory"] == str(MAXMEMORY_BYTES)
    assert config["maxmemory-policy"] == "allkeys-lru"
    assert (config["save"], config["appendonly"]) == ("", "no")


def test_the_rendered_probe_passes_with_the_password_only(default, valkey, tmp_path):
    """The probe as rendered, with valkey-cli played by redis-cli (which reads REDISCLI_AUTH where
    valkey-cli 9 reads VALKEYCLI_AUTH)."""
    (shim := tmp_path / "bin" / "valkey-cli").parent.mkdir()
    shim.write_text(f'#!/bin/sh\nREDISCLI_AUTH="$VALKEYCLI_AUTH" exec {tool("redis-cli")} "$@"\n')
    shim.chmod(0o755)
    command = default.container(VALKEY["name"])["readinessProbe"]["exec"]["command"]
    assert " -p 6379 " in command[2]
    command = [*command[:2], command[2].replace(" -p 6379 ", f" -p {valkey} ")]
    password = secret_data(default, VALKEY["secret"])["VALKEY_PASSWORD"]

    def probe(auth: str) -> int:
        env = {"PATH": f"{shim.parent}:{os.environ['PATH']}", "VALKEYCLI_AUTH": auth}
        return subprocess.run(command, env=env, capture_output=True, timeout=10).returncode

    assert probe(password) == 0
    # redis-cli exits 0 on an error reply: the probe's grep is what fails it.
    assert probe("wrong") != 0


class Metrics(http.server.BaseHTTPRequestHandler):
    """bird-image's /metrics, answering each GET with the next of `pages`."""

    pages: list[str] = []

    def do_GET(self):
        body = (self.pages.pop(0) if len(self.pages) > 1 else self.pages[0]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def run_store_test(rendered, pages: list[str]) -> subprocess.CompletedProcess:
    """The store's helm test script against a stand-in bird-image on loopback, with two tries
    instead of thirty."""
    (container,) = rendered.get("Pod", STORE_TEST)["spec"]["containers"]
    assert container["command"][:2] == ["sh", "-c"]
    script = container["command"][2]
    metrics = "http://bird-image-api-service:4200/metrics"
    assert metrics in script and "$(seq 30)" in script
    Metrics.pages = list(pages)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        script = script.replace(metrics, f"http://127.0.0.1:{server.server_port}/metrics").replace("$(seq 30)", "$(seq 2)")
        tool("curl")
        return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)
    finally:
        server.shutdown()


UP = "# TYPE image_store_up gauge\nimage_store_up 1\nimage_store_hits_total 4\n"
DOWN = "# TYPE image_store_up gauge\nimage_store_up 0\n"


@pytest.mark.parametrize(
    ("pages", "passes"),
    [
        pytest.param([UP], True, id="up"),
        # Connecting in the background at start-up: 0 first, then 1.
        pytest.param([DOWN, UP], True, id="up-on-the-second-try"),
        pytest.param([UP.replace(" 1\n", " 1.0\n")], True, id="up-as-a-float"),
        pytest.param([DOWN], False, id="down"),
        pytest.param([UP.replace(" 1\n", " 10\n")], False, id="not-one"),
        pytest.param(["build_info 1\n"], False, id="no-store-metric"),
    ],
)
def test_helm_test_passes_only_when_bird_image_reaches_its_store(default, pages, passes):
    result = run_store_test(default, pages)
    assert (result.returncode == 0) is passes, result.stdout + result.stderr


def test_the_store_test_runs_where_there_is_a_store_to_reach(default, render_set, render):
    pod = default.get("Pod", STORE_TEST)
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert STORE_TEST in render_set("external-store").of_kind("Pod")
    assert STORE_TEST not in render_set("no-store").of_kind("Pod")
    assert not render({"tests": {"enabled": False}}).of_kind("Pod")


def test_the_notes_describe_the_store(default, render_set):
    notes = " ".join(default.notes.split())
    assert "Valkey runs as Deployment bird-valkey (Service bird-valkey-service:6379)" in notes
    assert "one allowance of 50 Unsplash calls an hour" in notes
    external = " ".join(render_set("external-store").notes.split())
    assert "Secret bird-cache, key CACHE_URL, which you create" in external
    assert "port 6379 to 10.0.101.0/24, 10.0.102.0/24" in external
    alone = " ".join(render_set("no-store").notes.split())
    assert "its own allowance of 50 Unsplash calls an hour" in alone
    assert "Up to 10 pods may spend 500 calls an hour together" in alone

