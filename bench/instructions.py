#!/usr/bin/env python3
"""Instructions per request of one service, counted by callgrind.

Starts a fake Unsplash and the stack up to the service under test from `--bin-dir`, that one
under `valgrind --tool=callgrind` with instrumentation off. It fills the caches, switches
instrumentation on, sends `--requests` requests one after another over one keep-alive
connection, switches it off, and divides the instructions the whole process executed (every
thread) by the number of requests. Unlike req/s, the count does not move with the load other
work puts on the machine, so two builds can be told apart by a percent or less.

With `--simulate`, callgrind also simulates the caches and branch prediction, and the script
prints KCachegrind's cycle estimate: instructions, plus 10 per first-level cache miss or
mispredicted branch, plus 100 per last-level miss.

This reports figures; it asserts nothing. Standard library only; needs `valgrind`
(Debian package `valgrind`).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ab
import run as bench

WARMUP_REQUESTS = 300
# Under callgrind a service runs some fifty times slower: it gets longer to become ready.
READY_TIMEOUT_SECS = 120.0


def parse_totals(text: str) -> dict[str, int]:
    """The event totals of a callgrind output file: `events:` names them, `totals:` sums them.
    (Its `summary:` line stays 0 when instrumentation starts off.)"""
    events = re.search(r"^events:\s*(.+)$", text, re.MULTILINE)
    totals = re.search(r"^totals:\s*(.+)$", text, re.MULTILINE)
    if not events or not totals:
        raise ValueError("not a callgrind output file")
    return dict(zip(events.group(1).split(), (int(n) for n in totals.group(1).split()), strict=True))


def estimated_cycles(totals: dict[str, int]) -> int:
    """KCachegrind's estimate; needs the events of --cache-sim and --branch-sim."""
    first_level = totals["I1mr"] + totals["D1mr"] + totals["D1mw"]
    last_level = totals["ILmr"] + totals["DLmr"] + totals["DLmw"]
    branches = totals["Bcm"] + totals["Bim"]
    return totals["Ir"] + 10 * (first_level + branches) + 100 * last_level


def send(port: int, path: str, count: int) -> None:
    """`count` requests over one keep-alive connection; each must answer 2xx."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for _ in range(count):
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if not 200 <= response.status < 300:
                raise RuntimeError(f"{path} answered {response.status}")
    finally:
        conn.close()


def start_under_callgrind(service: bench.Service, bin_dir: Path, out: Path, simulate: bool) -> None:
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    if simulate:
        command += ["--cache-sim=yes", "--branch-sim=yes"]
    service.process = subprocess.Popen([*command, str(bin_dir / service.name)], env=service.env,
                                       stdout=service.log, stderr=service.log)
    deadline = time.monotonic() + READY_TIMEOUT_SECS
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited under valgrind; see {service.log.name}")
        try:
            if bench.http_get(service.port, "/ready", timeout=5.0)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{service.name} not ready under valgrind; see {service.log.name}")


def callgrind_control(service: bench.Service, *args: str) -> None:
    """Runs `callgrind_control` on the service. valgrind names the pipes it listens on after the
    `HOST` variable, which the services read as their listen address: the same value finds them."""
    assert service.process is not None
    env = {**os.environ, "HOST": service.env["HOST"]}
    subprocess.run(["callgrind_control", *args, str(service.process.pid)], env=env, check=True,
                   stdout=subprocess.DEVNULL)


def count(args: argparse.Namespace) -> dict[str, int]:
    names = list(ab.SERVERS[: ab.SERVERS.index(args.server) + 1])
    ports = {name: bench.free_port() for name in names}
    with tempfile.TemporaryDirectory(prefix="bird-callgrind-") as work, bench.FakeUnsplash(0.0) as unsplash:
        environments = bench.stack_environments(ports, unsplash.url, args.extra_env)
        out = args.out or Path(work) / "callgrind.out"
        services: dict[str, bench.Service] = {}
        try:
            for name in names:
                log = open(Path(work) / f"{name}.log", "wb")  # noqa: SIM115 (closed in stop_stack)
                services[name] = bench.Service(name, ports[name], environments[name], log)
                if name == args.server:
                    start_under_callgrind(services[name], args.bin_dir, out, args.simulate)
                else:
                    services[name].start(args.bin_dir)
            target = services[args.server]
            send(target.port, args.path, WARMUP_REQUESTS)
            callgrind_control(target, "--instr=on")
            send(target.port, args.path, args.requests)
            callgrind_control(target, "--instr=off")
        finally:
            ab.stop_stack(services)
        return parse_totals(out.read_text())


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", type=Path, default=bench.RELEASE_DIR,
                        help="directory of the release binaries (default target/release)")
    parser.add_argument("--server", choices=ab.SERVERS, default="bird")
    parser.add_argument("--path", default="/", help="path and query to request (default /)")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--out", type=Path,
                        help="keep callgrind's output here, for callgrind_annotate (a profile by function)")
    parser.add_argument("--simulate", action="store_true",
                        help="simulate caches and branches too, for the estimated cycles (slower)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment variable for every service (repeatable)")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be positive")
    args.extra_env = {"TOKIO_WORKER_THREADS": "1", **bench.env_assignments(parser, args.env)}
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if shutil.which("valgrind") is None:
        print("instructions: valgrind is not installed (Debian: apt-get install -y valgrind)", file=sys.stderr)
        return 1
    try:
        totals = count(args)
    except (RuntimeError, OSError, ValueError, subprocess.CalledProcessError) as err:
        print(f"instructions: {err}", file=sys.stderr)
        return 1
    line = f"{args.server} {args.path}: {totals['Ir'] / args.requests:,.0f} instructions per request"
    if args.simulate:
        line += f", {estimated_cycles(totals) / args.requests:,.0f} estimated cycles"
    print(f"{line} ({args.requests} requests, {os.path.basename(args.bin_dir.resolve())})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
