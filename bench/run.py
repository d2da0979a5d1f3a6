#!/usr/bin/env python3
"""Benchmark of the bird stack on this machine.

Builds the release binaries, starts a fake Unsplash and the three services on loopback,
measures exec -> first `/ready` 200, warms the caches, drives each endpoint with wrk and
prints (and writes to bench/results/latest.md) throughput, latency, peak memory, upstream
calls and the issue's targets. Standard library only; needs `wrk` (Debian package `wrk`).

This reports figures; it asserts nothing. Tests of behaviour live in the test suites.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
RELEASE_DIR = ROOT / "target" / "release"

BIRDS = (
    "American Robin", "Bald Eagle", "Blue Jay", "Cardinal", "Roseate Spoonbill",
    "Great Blue Heron", "Mallard", "Red-tailed Hawk", "Mourning Dove",
    "Pileated Woodpecker", "Steller's Jay", "American Goldfinch",
)
DISGUISED = "Bird in disguise"
# bird-image's production default; a run is far shorter, so each name may be looked up once.
DEFAULT_CACHE_TTL_SECS = 3600

# The targets for this 2-core machine.
BIRD_SHARE_OF_HEALTH = 0.40
BIRD_P99_MS = 5.0
FRONTEND_SHARE_OF_HEALTH = 0.30
PEAK_RSS_MIB = 15.0
READY_MS = 100.0

# The fixed marker that carries a run's raw figures inside its Markdown report.
DATA_MARKER = "bench-data:"


# --------------------------------------------------------------------------------------------
# Parsing (pure functions, covered by tests/bench)
# --------------------------------------------------------------------------------------------

_DURATION_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def duration_ms(text: str) -> float:
    """A wrk duration such as `627.00us`, `1.23ms`, `2.00s` or `1.50m`, in milliseconds."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


@dataclasses.dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def parse_wrk(output: str) -> WrkResult:
    """The figures of one `wrk --latency` run, from its standard output."""
    def need(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise ValueError(f"wrk output lacks {pattern!r}:\n{output}")
        return match

    total = need(r"^\s*(\d+) requests in ([0-9.]+\w+),")
    percentiles = {
        int(m.group(1)): duration_ms(m.group(2))
        for m in re.finditer(r"^\s*(50|75|90|99)%\s+(\S+)\s*$", output, re.MULTILINE)
    }
    if 50 not in percentiles or 99 not in percentiles:
        raise ValueError(f"wrk output lacks the latency distribution (run with --latency):\n{output}")
    non_2xx = re.search(r"^\s*Non-2xx or 3xx responses: (\d+)", output, re.MULTILINE)
    sockets = re.search(
        r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output, re.MULTILINE
    )
    return WrkResult(
        requests=int(total.group(1)),
        seconds=duration_ms(total.group(2)) / 1000.0,
        rps=float(need(r"^Requests/sec:\s+([0-9.]+)").group(1)),
        p50_ms=percentiles[50],
        p99_ms=percentiles[99],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )


def parse_counter_sums(metrics_text: str, name: str, *labels: str) -> dict[str, float]:
    """Sums of the Prometheus/OpenMetrics counter `name` by the values of `labels`, joined by a space."""
    sums: dict[str, float] = {}
    sample = re.compile(rf"^{re.escape(name)}\{{([^}}]*)\}}\s+([0-9.eE+-]+)")
    for line in metrics_text.splitlines():
        match = sample.match(line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1)))
        key = " ".join(found.get(label, "") for label in labels)
        sums[key] = sums.get(key, 0.0) + float(match.group(2))
    return sums


def status_kib(status_text: str, field: str) -> int:
    """A `VmRSS`/`VmHWM`-style field of /proc/<pid>/status, in KiB."""
    match = re.search(rf"^{field}:\s+(\d+) kB$", status_text, re.MULTILINE)
    if not match:
        raise ValueError(f"{field} missing from /proc status")
    return int(match.group(1))


def embed_data(data: dict) -> str:
    return f"<!-- {DATA_MARKER} {json.dumps(data, sort_keys=True)} -->\n"


def extract_data(markdown: str) -> dict | None:
    """The raw figures embedded in a report by [`embed_data`], if any."""
    match = re.search(rf"<!-- {re.escape(DATA_MARKER)} (.*) -->", markdown)
    return json.loads(match.group(1)) if match else None


# --------------------------------------------------------------------------------------------
# Fake Unsplash
# --------------------------------------------------------------------------------------------

class FakeUnsplash:
    """`/search/photos` answering one photo per query, after `delay` seconds, counting calls."""

    def __init__(self, delay: float) -> None:
        self.calls: Counter[str] = Counter()
        self.refused = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
                parts = urlsplit(self.path)
                query = parse_qs(parts.query).get("query", [""])[0]
                if parts.path != "/search/photos" or not query:
                    self._send(404, {"errors": ["Not found"]})
                    return
                if not self.headers.get("Authorization", "").startswith("Client-ID "):
                    with fake._lock:
                        fake.refused += 1
                    self._send(401, {"errors": ["OAuth error: The access token is invalid"]})
                    return
                with fake._lock:
                    fake.calls[query] += 1
                time.sleep(delay)
                self._send(200, search_answer(query))

            def _send(self, status: int, body: dict) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeUnsplash:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def search_answer(query: str) -> dict:
    """A search answer shaped like Unsplash's, with the small preview sizes it really sends."""
    slug = re.sub(r"[^a-z0-9]+", "-", query.lower()).strip("-")
    return {
        "total": 1,
        "total_pages": 1,
        "results": [{
            "id": f"bench-{slug}",
            "urls": {
                "full": f"https://images.unsplash.com/photo-bench-{slug}?ixid=bench&fm=jpg&q=80&w=200",
                "regular": f"https://images.unsplash.com/photo-bench-{slug}?ixid=bench&fm=jpg&q=80&w=1080",
            },
            "user": {
                "name": "Bench Photographer",
                "links": {"html": "https://unsplash.com/@bench"},
            },
            "links": {"html": f"https://unsplash.com/photos/bench-{slug}"},
        }],
    }


# --------------------------------------------------------------------------------------------
# Services
# --------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, str, str]:
    """Status, content type and body of `GET http://127.0.0.1:<port><path>`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read().decode()
    finally:
        conn.close()


@dataclasses.dataclass
class Service:
    name: str
    port: int
    env: dict[str, str]
    log: IO[bytes]
    process: subprocess.Popen[bytes] | None = None
    ready_ms: float = math.nan
    idle_rss_kib: int = 0

    def start(self, bin_dir: Path) -> None:
        """Execs the release binary and waits for its first `/ready` 200, timing it."""
        binary = bin_dir / self.name
        started = time.perf_counter()
        self.process = subprocess.Popen([str(binary)], env=self.env, stdout=self.log, stderr=self.log)
        deadline = started + 10.0
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log.name}")
            try:
                status, _, _ = http_get(self.port, "/ready", timeout=1.0)
            except OSError:
                time.sleep(0.0005)
                continue
            if status == 200:
                self.ready_ms = (time.perf_counter() - started) * 1000.0
                self.idle_rss_kib = self.status_kib("VmRSS")
                return
        raise RuntimeError(f"{self.name} not ready within 10 s; see {self.log.name}")

    def status_kib(self, field: str) -> int:
        assert self.process is not None
        return status_kib(Path(f"/proc/{self.process.pid}/status").read_text(), field)

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def service_env(port: int, extra: dict[str, str], **variables: str) -> dict[str, str]:
    """A clean environment: nothing from the caller's shell (no real key) but PATH."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_FORMAT": "json",
        "RUST_LOG": "info",
        "SHUTDOWN_DRAIN_SECS": "0",
        "SHUTDOWN_TIMEOUT_SECS": "2",
        # /health is each server's ceiling only if it crosses the same middleware as the
        # endpoints, access log included (probes are not logged by default).
        "ACCESS_LOG_PROBES": "true",
    }
    env.update(variables)
    env.update(extra)
    return env


def stack_environments(ports: dict[str, int], unsplash_url: str, extra: dict[str, str],
                       cache_ttl: int = DEFAULT_CACHE_TTL_SECS) -> dict[str, dict[str, str]]:
    """Each service's environment, wired to the others on `ports` (a service not in `ports`
    gets port 0 and is not meant to start)."""
    def port(name: str) -> int:
        return ports.get(name, 0)

    return {
        # The whole demo hour, so every bird gets its photo in the cold-cache burst; explicit,
        # so that builds from before 50 became the default get it too.
        "bird-image": service_env(port("bird-image"), extra, UNSPLASH_API_URL=unsplash_url,
                                  UNSPLASH_ACCESS_KEY="bench-dummy-key", CACHE_TTL_SECS=str(cache_ttl),
                                  UNSPLASH_MAX_CALLS_PER_HOUR="50"),
        "bird": service_env(port("bird"), extra, BIRD_IMAGE_URL=f"http://127.0.0.1:{port('bird-image')}"),
        "frontend": service_env(port("frontend"), extra, UNSPLASH_APP_NAME="bird-bench",
                                BIRD_API_URL=f"http://127.0.0.1:{port('bird')}"),
    }


# --------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Row:
    server: str
    path: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    rps_runs: list[float]
    p99_runs: list[float]
    cpu_percent: dict[str, float]

    @property
    def key(self) -> str:
        return f"{self.server} {self.path}"


def wrk(url: str, seconds: float, connections: int, threads: int) -> WrkResult:
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "5s", url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return parse_wrk(done.stdout)


def measure(
    services: dict[str, Service], server: str, path: str, args: argparse.Namespace
) -> Row:
    """`args.repeat` wrk runs of one endpoint, summarised by [`summarise`]."""
    url = f"http://127.0.0.1:{services[server].port}{path}"
    runs: list[tuple[WrkResult, dict[str, float]]] = []
    for _ in range(args.repeat):
        cpu_before = {name: s.cpu_seconds() for name, s in services.items()}
        result = wrk(url, args.duration, args.connections, args.threads)
        cpu = {
            name: 100.0 * (s.cpu_seconds() - cpu_before[name]) / result.seconds
            for name, s in services.items()
        }
        runs.append((result, cpu))
        time.sleep(args.pause)
    return summarise(server, path, runs)


def summarise(server: str, path: str, runs: list[tuple[WrkResult, dict[str, float]]]) -> Row:
    """Each figure is the median over the runs, taken on its own: one run disturbed by a busy
    neighbour moves none of them. CPU shares are those of the run with the median throughput."""
    by_rps = sorted(runs, key=lambda run: run[0].rps)
    results = [result for result, _ in runs]
    return Row(
        server=server,
        path=path,
        rps=statistics.median(r.rps for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        errors=sum(r.non_2xx + r.socket_errors for r in results),
        rps_runs=[r.rps for r in results],
        p99_runs=[r.p99_ms for r in results],
        cpu_percent=by_rps[len(by_rps) // 2][1],
    )


def check_answers(services: dict[str, Service]) -> list[str]:
    """Stops the run when the stack answers the fallback bird: its figures would mean nothing.
    Returns the bird names bird-image answers with the default image instead of a photo."""
    status, _, body = http_get(services["bird"].port, "/")
    if status != 200 or json.loads(body).get("name") not in BIRDS:
        raise RuntimeError(f"bird / answered {status} {body[:300]}")
    if "frontend" in services:
        status, kind, body = http_get(services["frontend"].port, "/")
        if status != 200 or not kind.startswith("text/html") or DISGUISED in body:
            raise RuntimeError(f"frontend / answered {status} {kind} {body[:300]}")
        status, _, body = http_get(services["frontend"].port, "/api/bird")
        if status != 200 or json.loads(body).get("name") not in BIRDS:
            raise RuntimeError(f"frontend /api/bird answered {status} {body[:300]}")
    defaults = []
    for bird in BIRDS:
        status, _, body = http_get(services["bird-image"].port, f"/v1/image?birdName={quote(bird)}")
        if status != 200 or json.loads(body).get("credit") is None:
            defaults.append(bird)
    return defaults


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def health_share(data: dict, row: dict) -> float:
    health = data["rows"].get(f"{row['server']} /health")
    return row["rps"] / health["rps"] if health and health["rps"] else math.nan


def cpu_per_request_us(row: dict) -> float:
    """CPU time the whole stack spent per request served: steadier than req/s on a busy machine."""
    return sum(row["cpu_percent"].values()) / 100.0 / row["rps"] * 1e6 if row["rps"] else math.nan


def targets(data: dict) -> list[tuple[str, str, bool]]:
    """(target, figure, met) for each target of the issue that this run measured."""
    rows = data["rows"]
    checks: list[tuple[str, str, bool]] = []
    bird = rows.get("bird /")
    if bird:
        share = health_share(data, bird)
        checks.append((f"bird / >= {BIRD_SHARE_OF_HEALTH:.0%} of bird /health", f"{share:.0%}",
                       share >= BIRD_SHARE_OF_HEALTH))
        checks.append((f"bird / p99 <= {BIRD_P99_MS:g} ms", ms(bird["p99_ms"]), bird["p99_ms"] <= BIRD_P99_MS))
    page = rows.get("frontend /")
    if page:
        share = health_share(data, page)
        checks.append((f"frontend / >= {FRONTEND_SHARE_OF_HEALTH:.0%} of frontend /health", f"{share:.0%}",
                       share >= FRONTEND_SHARE_OF_HEALTH))
    for name, proc in data["services"].items():
        checks.append((f"{name} peak RSS <= {PEAK_RSS_MIB:g} MiB", mib(proc["peak_rss_kib"]),
                       proc["peak_rss_kib"] <= PEAK_RSS_MIB * 1024))
    for name, proc in data["services"].items():
        checks.append((f"{name} /ready <= {READY_MS:g} ms after exec", ms(proc["ready_ms"]),
                       proc["ready_ms"] <= READY_MS))
    unsplash = data["unsplash"]
    worst = max(unsplash["calls"].values(), default=0)
    checks.append((f"Unsplash calls per name <= {unsplash['allowed_per_name']} "
                   f"(1 per {unsplash['ttl_secs']} s TTL)", str(worst), worst <= unsplash["allowed_per_name"]))
    return checks


def render(data: dict) -> str:
    meta = data["meta"]
    lines = [
        "# Bird stack benchmark",
        "",
        f"{meta['date']} · commit {meta['commit']} · {meta['cpus']} CPUs · load average at start "
        f"{meta['load_at_start']} · wrk {meta['connections']} connections, {meta['threads']} threads, "
        f"{meta['duration']:g} s per run, median of {meta['repeat']}",
        "",
        f"| server | endpoint | req/s | p50 | p99 | errors | of /health | CPU ({', '.join(data['services'])}) "
        "| stack CPU per request |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for row in data["rows"].values():
        cpu = ", ".join(f"{row['cpu_percent'][name]:.0f}%" for name in data["services"])
        lines.append(
            f"| {row['server']} | `{row['path']}` | {row['rps']:,.0f} | {ms(row['p50_ms'])} | "
            f"{ms(row['p99_ms'])} | {row['errors']} | {health_share(data, row):.0%} | {cpu} | "
            f"{cpu_per_request_us(row):.0f} µs |"
        )
    lines += [
        "",
        "| service | exec -> /ready | RSS idle | peak RSS (VmHWM) | upstream calls |",
        "|---|---:|---:|---:|---|",
    ]
    for name, proc in data["services"].items():
        calls = ", ".join(f"{up}: {n:,.0f}" for up, n in sorted(proc["upstream_calls"].items())) or "-"
        lines.append(f"| {name} | {ms(proc['ready_ms'])} | {mib(proc['idle_rss_kib'])} | "
                     f"{mib(proc['peak_rss_kib'])} | {calls} |")
    unsplash = data["unsplash"]
    per_name = ", ".join(f"{name} {n}" for name, n in sorted(unsplash["calls"].items()))
    lines += [
        "",
        f"Unsplash (fake, {unsplash['delay_ms']:g} ms per answer, CACHE_TTL_SECS={unsplash['ttl_secs']}): "
        f"{sum(unsplash['calls'].values())} calls over {unsplash['elapsed_secs']:.0f} s: {per_name or 'none'}.",
    ]
    if unsplash["default_image_names"]:
        lines.append(f"After the cold-cache warm-up, bird-image answered the default image instead of a photo for: "
                     f"{', '.join(unsplash['default_image_names'])}.")
    lines += [
        "",
        "| target | figure | met |",
        "|---|---:|---|",
    ]
    lines += [f"| {name} | {figure} | {'yes' if met else '**no**'} |" for name, figure, met in targets(data)]
    return "\n".join(lines) + "\n\n" + embed_data(data)


def comparison(previous: dict, current: dict) -> list[str]:
    """One line per figure that both runs have: previous -> current (change)."""
    def change(old: float, new: float) -> str:
        return f"{(new - old) / old:+.0%}" if old else "n/a"

    lines = [f"compared with the run of {previous['meta']['date']} (commit {previous['meta']['commit']}):"]
    for key, row in current["rows"].items():
        old = previous["rows"].get(key)
        if old:
            lines.append(
                f"  {key:38} req/s {old['rps']:>9,.0f} -> {row['rps']:>9,.0f} ({change(old['rps'], row['rps'])})"
                f"   p99 {ms(old['p99_ms'])} -> {ms(row['p99_ms'])}"
                f"   CPU/req {cpu_per_request_us(old):.0f} -> {cpu_per_request_us(row):.0f} µs"
            )
    for name, proc in current["services"].items():
        old = previous["services"].get(name)
        if old:
            lines.append(
                f"  {name:38} peak RSS {mib(old['peak_rss_kib'])} -> {mib(proc['peak_rss_kib'])}"
                f"   ready {ms(old['ready_ms'])} -> {ms(proc['ready_ms'])}"
            )
    return lines


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "service-kit", "bird", "bird-image",
                "frontend", "Cargo.toml", "Cargo.lock")
    return f"{commit}{' + local changes' if dirty else ''}"


def parse_args(argv: list[str]) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=float(env("BENCH_DURATION", "10")),
                        help="seconds of load per run (env BENCH_DURATION, default 10)")
    parser.add_argument("--repeat", type=int, default=int(env("BENCH_REPEAT", "1")),
                        help="runs per endpoint; the median is reported (env BENCH_REPEAT, default 1)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before measuring")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds of rest between runs")
    parser.add_argument("--unsplash-delay-ms", type=float, default=50.0,
                        help="how long the fake Unsplash takes to answer (default 50)")
    parser.add_argument("--cache-ttl", type=int, default=DEFAULT_CACHE_TTL_SECS,
                        help=f"bird-image CACHE_TTL_SECS (default {DEFAULT_CACHE_TTL_SECS})")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment variable for every service (repeatable), "
                             "e.g. TOKIO_WORKER_THREADS=1")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 s per endpoint, 1 s warm-up, no pauses")
    parser.add_argument("--no-build", action="store_true", help="use the release binaries as they are")
    parser.add_argument("--bin-dir", type=Path, default=RELEASE_DIR,
                        help="take the binaries from this directory, unbuilt (to compare two builds)")
    parser.add_argument("--without-frontend", action="store_true",
                        help="benchmark bird-image and bird only")
    parser.add_argument("--save-baseline", action="store_true",
                        help="also write bench/results/baseline.md (committed)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.pause, args.repeat = 2.0, 1.0, 0.2, 1
    if args.duration <= 0 or args.repeat < 1 or args.connections < 1 or args.threads < 1:
        parser.error("duration, repeat, connections and threads must be positive")
    args.extra_env = env_assignments(parser, args.env)
    return args


def env_assignments(parser: argparse.ArgumentParser, items: list[str]) -> dict[str, str]:
    """The `--env NAME=VALUE` options as a dict; anything else stops with a usage error."""
    try:
        return dict(item.split("=", 1) for item in items)
    except ValueError:
        parser.error("--env takes NAME=VALUE")


def run(args: argparse.Namespace) -> dict:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install -y wrk)")
    if not args.no_build and args.bin_dir == RELEASE_DIR:
        print("building release binaries ...", flush=True)
        subprocess.run(["cargo", "build", "--release", "--locked", "--bins"], cwd=ROOT, check=True)
    names = ["bird-image", "bird"] + ([] if args.without_frontend else ["frontend"])
    for name in names:
        if not (args.bin_dir / name).is_file():
            hint = " (or pass --without-frontend)" if name == "frontend" else ""
            raise RuntimeError(f"no release binary {args.bin_dir / name}{hint}")

    load_at_start = os.getloadavg()[0]
    if load_at_start > 1.0:
        print(f"note: load average {load_at_start:.2f}: other work shares the CPUs, figures will be noisy")
    ports = {name: free_port() for name in names}
    extra = args.extra_env
    with tempfile.TemporaryDirectory(prefix="bird-bench-") as logs, \
            FakeUnsplash(args.unsplash_delay_ms / 1000.0) as unsplash:
        started = time.monotonic()
        environments = stack_environments(ports, unsplash.url, extra, args.cache_ttl)
        services: dict[str, Service] = {}
        try:
            for name in names:
                log = open(Path(logs) / f"{name}.log", "wb")  # noqa: SIM115 (closed with the directory)
                services[name] = Service(name, ports[name], environments[name], log)
                services[name].start(args.bin_dir)
                print(f"{name}: ready {services[name].ready_ms:.1f} ms after exec", flush=True)

            # Cold caches on purpose: the first burst is where concurrent misses must collapse.
            entry = ("frontend", "/api/bird") if "frontend" in services else ("bird", "/")
            wrk(f"http://127.0.0.1:{ports[entry[0]]}{entry[1]}", args.warmup, args.connections, args.threads)
            default_image_names = check_answers(services)
            if default_image_names:
                print(f"note: after the warm-up bird-image answers the default image for {', '.join(default_image_names)}")

            plan = [("bird-image", "/health"), ("bird-image", "/?birdName=American%20Robin"),
                    ("bird", "/health"), ("bird", "/")]
            if "frontend" in services:
                plan += [("frontend", "/health"), ("frontend", "/"), ("frontend", "/api/bird")]
            rows = {}
            for server, path in plan:
                row = measure(services, server, path, args)
                rows[row.key] = dataclasses.asdict(row)
                print(f"  {row.key:36} {row.rps:>9,.0f} req/s  p50 {ms(row.p50_ms):>9}  p99 {ms(row.p99_ms):>9}"
                      f"  errors {row.errors}", flush=True)

            processes = {}
            for name, service in services.items():
                _, _, metrics = http_get(service.port, "/metrics")
                processes[name] = {
                    "ready_ms": service.ready_ms,
                    "idle_rss_kib": service.idle_rss_kib,
                    "peak_rss_kib": service.status_kib("VmHWM"),
                    "upstream_calls": parse_counter_sums(metrics, "upstream_requests_total", "upstream", "outcome"),
                }
            elapsed = time.monotonic() - started
        finally:
            for service in reversed(list(services.values())):
                service.stop()
                service.log.close()

    return {
        "meta": {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": git_commit(),
            "cpus": os.cpu_count(),
            "load_at_start": f"{load_at_start:.2f}",
            "connections": args.connections,
            "threads": args.threads,
            "duration": args.duration,
            "repeat": args.repeat,
            "env": extra,
        },
        "rows": rows,
        "services": processes,
        "unsplash": {
            "calls": dict(unsplash.calls),
            "refused": unsplash.refused,
            "default_image_names": default_image_names,
            "delay_ms": args.unsplash_delay_ms,
            "ttl_secs": args.cache_ttl,
            "elapsed_secs": elapsed,
            "allowed_per_name": math.ceil(elapsed / args.cache_ttl),
        },
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        data = run(args)
    except (RuntimeError, subprocess.CalledProcessError) as err:
        print(f"bench: {err}", file=sys.stderr)
        return 1
    report = render(data)
    print()
    print(report.split("<!--")[0].rstrip())

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    latest = RESULTS_DIR / "latest.md"
    baseline = RESULTS_DIR / "baseline.md"
    previous_file = latest if latest.exists() else baseline if baseline.exists() else None
    previous = extract_data(previous_file.read_text()) if previous_file else None
    if previous:
        print()
        print("\n".join(comparison(previous, data)))
    latest.write_text(report)
    print(f"\nwritten to {latest.relative_to(ROOT)}")
    if args.save_baseline:
        baseline.write_text(report)
        print(f"written to {baseline.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
