#!/usr/bin/env python3
"""Soak test of the bird stack: steady load on the whole chain for a long time.

Starts the release binaries against the benchmark's fake Unsplash, measures the maximum
throughput of `frontend /api/bird` (which crosses all three services), then drives it at a
fraction of that (half by default) for ten minutes, one minute at a time, and reports each
minute's throughput, latency, errors and every service's memory. Memory that keeps growing
minute after minute, or any error, is what a soak is for.

Not part of `make test`: it takes ten minutes and reports rather than asserts. `make soak`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402 (the benchmark's stack and load helpers)

RESULT = bench.RESULTS_DIR / "soak-latest.md"

# wrk has no rate option; each connection waits `delay` ms before each request instead.
PACED_SCRIPT = """
local pause = tonumber(os.getenv("SOAK_DELAY_MS"))
function delay()
  return pause
end
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=10, help="length of the soak (default 10)")
    parser.add_argument("--fraction", type=float, default=0.5, help="share of the maximum load (default 0.5)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-build", action="store_true", help="use the release binaries as they are")
    args = parser.parse_args(argv)
    if args.minutes < 1 or not 0 < args.fraction <= 1:
        parser.error("--minutes must be at least 1 and --fraction in (0, 1]")
    return args


def paced_wrk(url: str, seconds: int, connections: int, threads: int, delay_ms: int, script: Path) -> bench.WrkResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s",
               "-s", str(script), url]
    env = dict(os.environ, SOAK_DELAY_MS=str(delay_ms))
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return bench.parse_wrk(done.stdout)


def soak(args: argparse.Namespace) -> str:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install -y wrk)")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--locked", "--bins"], cwd=bench.ROOT, check=True)
    names = ["bird-image", "bird", "frontend"]
    ports = {name: bench.free_port() for name in names}
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bird-soak-") as logs, bench.FakeUnsplash(0.05) as unsplash:
        script = Path(logs) / "paced.lua"
        script.write_text(PACED_SCRIPT)
        environments = {
            "bird-image": bench.service_env(ports["bird-image"], {}, UNSPLASH_API_URL=unsplash.url,
                                            UNSPLASH_ACCESS_KEY="soak-dummy-key", UNSPLASH_MAX_CALLS_PER_HOUR="50"),
            "bird": bench.service_env(ports["bird"], {}, BIRD_IMAGE_URL=f"http://127.0.0.1:{ports['bird-image']}"),
            "frontend": bench.service_env(ports["frontend"], {}, BIRD_API_URL=f"http://127.0.0.1:{ports['bird']}"),
        }
        services: dict[str, bench.Service] = {}
        try:
            for name in names:
                log = open(Path(logs) / f"{name}.log", "wb")  # noqa: SIM115 (closed with the directory)
                services[name] = bench.Service(name, ports[name], environments[name], log)
                services[name].start(bench.RELEASE_DIR)
            url = f"http://127.0.0.1:{ports['frontend']}/api/bird"

            maximum = bench.wrk(url, 10, args.connections, args.threads)
            target = maximum.rps * args.fraction
            # Each connection sends one request per (pause + latency): solve for the pause, then
            # correct it once with the latency a short paced run really shows.
            delay_ms = max(0, round(1000.0 * args.connections / target - maximum.p50_ms))
            trial = paced_wrk(url, 5, args.connections, args.threads, delay_ms, script)
            latency_ms = 1000.0 * args.connections / trial.rps - delay_ms
            delay_ms = max(0, round(1000.0 * args.connections / target - latency_ms))
            rss_start = {name: s.status_kib("VmRSS") for name, s in services.items()}
            lines += [
                f"# Soak of the bird stack, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {bench.git_commit()}",
                "",
                f"`frontend /api/bird` (all three services), {args.connections} connections: maximum "
                f"{maximum.rps:,.0f} req/s; soak target {target:,.0f} req/s ({args.fraction:.0%}) for "
                f"{args.minutes} min, wrk pacing each connection with a {delay_ms} ms pause.",
                "",
                "| minute | req/s | p50 | p99 | errors | " + " | ".join(f"{n} RSS" for n in names) + " |",
                "|---|---|---|---|---|" + "---|" * len(names),
                "| start | | | | | " + " | ".join(bench.mib(rss_start[n]) for n in names) + " |",
            ]
            print("\n".join(lines), flush=True)
            errors = 0
            requests = 0
            for minute in range(1, args.minutes + 1):
                result = paced_wrk(url, 60, args.connections, args.threads, delay_ms, script)
                failed = result.non_2xx + result.socket_errors
                errors += failed
                requests += result.requests
                rss = {name: s.status_kib("VmRSS") for name, s in services.items()}
                line = (f"| {minute} | {result.rps:,.0f} | {bench.ms(result.p50_ms)} | {bench.ms(result.p99_ms)} | "
                        f"{failed} | " + " | ".join(bench.mib(rss[n]) for n in names) + " |")
                lines.append(line)
                print(line, flush=True)
            peak = {name: s.status_kib("VmHWM") for name, s in services.items()}
            lines += [
                "| peak | | | | | " + " | ".join(bench.mib(peak[n]) for n in names) + " |",
                "",
                f"{requests:,} requests, {errors} errors; Unsplash calls: {sum(unsplash.calls.values())} "
                f"for {len(unsplash.calls)} names.",
            ]
        finally:
            for service in reversed(list(services.values())):
                service.stop()
                service.log.close()
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    report = soak(parse_args(argv))
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(report)
    print(report.rsplit("\n", 3)[-2])
    print(f"written to {RESULT.relative_to(bench.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
