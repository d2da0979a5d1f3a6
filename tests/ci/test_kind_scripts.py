"""The scripts the laptop cluster's run starts in its pods (kind/probe.sh, kind/load.sh), run here
with curl against servers on loopback, and read back by kind/cluster.py as the run reads them.
(tests/chart/test_chart_on_kind.py checks the run's plan; shellcheck checks the scripts.)"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .helpers import REPO, free_port, tool, wait_for

spec = importlib.util.spec_from_file_location("kind_cluster", REPO / "kind" / "cluster.py")
cluster = importlib.util.module_from_spec(spec)
sys.modules["kind_cluster"] = cluster  # dataclasses look their module up there
spec.loader.exec_module(cluster)

BIRD = {"name": "Mallard", "description": "A dabbling duck.", "image": "https://images.unsplash.com/x"}
DISGUISED = {"name": "Bird in disguise", "description": "This bird is in disguise because: timeout"}


class Stack(ThreadingHTTPServer):
    """/metrics in Prometheus text, /plain without it, and /api/bird answering in turn a bird, the
    disguised bird and a 502; it counts what it served."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.served: list[str] = []
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Stack

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/metrics":
            self._answer(200, "text/plain", "# TYPE build_info gauge\nbuild_info 1\n")
        elif self.path == "/plain":
            self._answer(200, "text/plain", "hello\n")
        elif self.path == "/api/bird":
            with self.server.lock:
                kind = ("bird", "disguised", "error")[len(self.server.served) % 3]
                self.server.served.append(kind)
            if kind == "error":
                self._answer(502, "application/json", '{"error":"bird is down"}')
            else:
                body = json.dumps(BIRD if kind == "bird" else DISGUISED, separators=(",", ":"))
                self._answer(200, "application/json", body)
        else:
            self._answer(404, "text/plain", "")

    def _answer(self, status: int, content_type: str, body: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stack() -> Iterator[Stack]:
    server = Stack()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def probe(urls: list[str]) -> dict[str, object]:
    tool("curl", "install Debian's curl (.ci/run does)")
    argv = cluster.probe_argv(urls)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return cluster.parse_checks(proc.stdout)


def target(http: bool) -> object:
    workload = cluster.Workload("w", {}, {}, None, {}, [])
    return cluster.Target("s", 1, 1, workload, http)


def test_probe_tells_an_open_metrics_port_from_a_closed_one(stack):
    closed = f"127.0.0.1:{free_port()}"
    urls = [
        f"{stack.base}/metrics",
        f"tcp://{stack.base.removeprefix('http://')}",
        f"{stack.base}/plain",
        f"http://{closed}/metrics",
        f"tcp://{closed}",
    ]
    seen = probe(urls)
    assert set(seen) == set(urls)

    def holds(url: str, http: bool, expect_open: bool) -> bool:
        return cluster.holds(cluster.Probe(None, target(http), expect_open), seen[url])

    # Open: connected, and on an http port answered with Prometheus text.
    assert holds(urls[0], http=True, expect_open=True)
    assert holds(urls[1], http=False, expect_open=True)
    assert seen[urls[0]].http == "200" and seen[urls[0]].metrics
    # An answer that is not metrics is not the /metrics the run asks for; but it did connect.
    assert not holds(urls[2], http=True, expect_open=True)
    assert not holds(urls[2], http=True, expect_open=False)
    # Closed: no connection (refused here; a NetworkPolicy's drop times out, curl 28).
    for url, http in ((urls[3], True), (urls[4], False)):
        assert not seen[url].connected and seen[url].exit == 7, seen[url]
        assert holds(url, http, expect_open=False)
        assert not holds(url, http, expect_open=True)


def test_a_probe_whose_name_does_not_resolve_proves_nothing():
    """A denial is a refused or timed-out connection; a name that does not resolve (curl 6) is
    neither allowed nor denied."""
    url = "http://bird-nowhere.invalid:80/metrics"
    seen = probe([url])
    assert not cluster.holds(cluster.Probe(None, target(True), False), seen[url])
    assert cluster.holds(cluster.Probe(None, target(True), False), None) is False


def test_load_counts_every_failed_request_and_stops_on_sigterm(stack):
    tool("curl", "install Debian's curl (.ci/run does)")
    argv = cluster.load_argv(f"{stack.base}/api/bird", interval=0.05, max_seconds=60)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(stack.served) >= 9, 30, "nine requests of the load")
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    sent, failed = cluster.load_summary(output)
    assert sent == len(stack.served)
    # The disguised bird (bird-image could not help) and the 502 count, the real bird does not.
    assert failed == sum(kind != "bird" for kind in stack.served)
    assert output.count("load: failed: ") == failed
    assert "Bird in disguise" in output and "bird is down" in output


def test_load_stops_by_itself_after_its_longest_run(stack):
    tool("curl", "install Debian's curl (.ci/run does)")
    argv = cluster.load_argv(f"{stack.base}/metrics", interval=0.1, max_seconds=1)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    sent, failed = cluster.load_summary(proc.stdout)
    assert sent >= 1 and failed == 0
