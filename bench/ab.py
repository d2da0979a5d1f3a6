#!/usr/bin/env python3
"""A/B of two builds on one endpoint, in alternating short runs.

`run.py --bin-dir` measures one build per run, and on a shared machine the speed drifts by
tens of percent between two runs minutes apart. This starts both builds' stacks side by side
(one fake Unsplash), then loads one endpoint of each in turn: short runs in pairs, the order
flipped every pair, only one stack under load at a time. Drift is slow next to a pair, so the
ratio within each pair cancels it, and the median ratio over the pairs is the figure.

This reports figures; it asserts nothing. Standard library only; needs `wrk`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import run as bench

SERVERS = ("bird-image", "bird", "frontend")
# Fills the caches (bird-image's, bird's) before the first measured run.
WARMUP_SECS = 2.0


def median_ratio(old: list[float], new: list[float]) -> float:
    """The median over the pairs of new / old (a pair is one run of each, next to each other)."""
    if not old or len(old) != len(new):
        raise ValueError("one figure of each build per pair")
    return statistics.median(b / a for a, b in zip(old, new, strict=True))


def start_stack(label: str, bin_dir: Path, server: str, unsplash_url: str, extra: dict[str, str],
                logs: Path) -> dict[str, bench.Service]:
    """bird-image and bird, and the frontend when it is the server under test, from `bin_dir`."""
    names = list(SERVERS[: SERVERS.index(server) + 1])
    ports = {name: bench.free_port() for name in names}
    environments = bench.stack_environments(ports, unsplash_url, extra)
    services: dict[str, bench.Service] = {}
    for name in names:
        log = open(logs / f"{label}-{name}.log", "wb")  # noqa: SIM115 (closed in stop_stack)
        services[name] = bench.Service(name, ports[name], environments[name], log)
        services[name].start(bin_dir)
    return services


def stop_stack(services: dict[str, bench.Service]) -> None:
    for service in reversed(list(services.values())):
        service.stop()
        service.log.close()


def load(services: dict[str, bench.Service], args: argparse.Namespace, seconds: float) -> tuple[float, float]:
    """One wrk run: requests per second, and the stack's CPU per request in microseconds."""
    cpu_before = sum(s.cpu_seconds() for s in services.values())
    result = bench.wrk(f"http://127.0.0.1:{services[args.server].port}{args.path}", seconds,
                       args.connections, args.threads)
    if result.non_2xx or result.socket_errors:
        raise RuntimeError(f"{args.server} {args.path}: {result.non_2xx + result.socket_errors} errors")
    cpu = sum(s.cpu_seconds() for s in services.values()) - cpu_before
    return result.rps, cpu / (result.rps * result.seconds) * 1e6


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="directory of the baseline build's binaries")
    parser.add_argument("--new", type=Path, required=True, help="directory of the build under test")
    parser.add_argument("--server", choices=SERVERS, default="bird")
    parser.add_argument("--path", default="/", help="path and query to load (default /)")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment variable for every service (repeatable)")
    args = parser.parse_args(argv)
    if args.pairs < 1 or args.duration <= 0:
        parser.error("pairs and duration must be positive")
    args.extra_env = bench.env_assignments(parser, args.env)
    return args


def compare(stacks: dict[str, dict[str, bench.Service]], args: argparse.Namespace,
            figures: dict[str, list[tuple[float, float]]]) -> None:
    """The pairs of runs, printed as they come."""
    print(f"{args.server} {args.path}: {args.pairs} pairs of {args.duration:g} s runs, "
          f"load average at start {os.getloadavg()[0]:.2f}")
    print(f"{'pair':>4} {'old req/s':>10} {'new req/s':>10} {'ratio':>6} {'old µs':>7} {'new µs':>7}")
    for pair in range(args.pairs):
        for label in ("old", "new") if pair % 2 == 0 else ("new", "old"):
            figures[label].append(load(stacks[label], args, args.duration))
        (old_rps, old_us), (new_rps, new_us) = figures["old"][-1], figures["new"][-1]
        print(f"{pair + 1:>4} {old_rps:>10,.0f} {new_rps:>10,.0f} {new_rps / old_rps:>6.3f}"
              f" {old_us:>7.1f} {new_us:>7.1f}", flush=True)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    figures: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    stacks: dict[str, dict[str, bench.Service]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bird-ab-") as logs, bench.FakeUnsplash(0.05) as unsplash:
            try:
                for label, bin_dir in (("old", args.old), ("new", args.new)):
                    stacks[label] = start_stack(label, bin_dir, args.server, unsplash.url, args.extra_env,
                                                Path(logs))
                    load(stacks[label], args, WARMUP_SECS)
                compare(stacks, args, figures)
            finally:
                for stack in stacks.values():
                    stop_stack(stack)
    except (RuntimeError, OSError) as err:
        print(f"ab: {err}", file=sys.stderr)
        return 1
    rps = median_ratio([f[0] for f in figures["old"]], [f[0] for f in figures["new"]])
    cpu = median_ratio([f[1] for f in figures["old"]], [f[1] for f in figures["new"]])
    print(f"\nnew / old, median over the pairs: req/s {rps:.3f} ({(rps - 1) * 100:+.1f} %), "
          f"stack CPU per request {cpu:.3f} ({(cpu - 1) * 100:+.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
