#!/usr/bin/env python3
"""A fleet of bird-image processes, cold, against a fake Unsplash: the calls it makes and the
placeholder answers it gives.

Starts `--instances` bird-image processes from `--bin-dir` (sharing a fresh `redis-server` as
`CACHE_URL` with `--store shared`), asks each for bird's twelve birds twice (the processes at
once, each its birds in turn), then starts one more process and asks it for the twelve. Prints,
per fleet size: Unsplash calls, placeholder answers (the default image) of the fleet and of the
late process, and the answers' latency. `--store down` points `CACHE_URL` at a port nobody
listens on, `--store hang` at a server that accepts connections and never answers.

This reports figures; it asserts nothing. Standard library only; needs `redis-server` for
`--store shared`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import run as bench

# bird's twelve birds, read from where they are defined.
BIRDS = tuple(re.findall(r'name: "([^"]+)"',
                         (Path(__file__).resolve().parent.parent / "catalogue/src/lib.rs").read_text()))
PLACEHOLDER = "https://www.pokemonmillennium.net/wp-content/uploads/2015/11/missingno.png"
STORE_PASSWORD = "bench-store-password"


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (`share` from 0 to 1) of `values`."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return ordered[rank - 1]


def ask_twelve(port: int, rounds: int, answers: list[tuple[str, float]]) -> None:
    """Asks one process for the twelve birds `rounds` times, recording (url, seconds)."""
    for _ in range(rounds):
        for bird in BIRDS:
            started = time.perf_counter()
            status, _, body = bench.http_get(port, f"/?birdName={quote(bird)}", timeout=10.0)
            took = time.perf_counter() - started
            answers.append((json.loads(body) if status == 200 else f"status {status}", took))


@contextlib.contextmanager
def store(kind: str) -> Iterator[str | None]:
    """`CACHE_URL` for the kind of store asked for (None for no store)."""
    if kind == "none":
        yield None
        return
    if kind == "down":
        yield f"redis://:{STORE_PASSWORD}@127.0.0.1:{bench.free_port()}"
        return
    if kind == "hang":
        with socket.create_server(("127.0.0.1", 0)) as listener:
            held: list[socket.socket] = []
            stop = threading.Event()

            def hold() -> None:
                listener.settimeout(0.2)
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        held.append(listener.accept()[0])

            thread = threading.Thread(target=hold, daemon=True)
            thread.start()
            try:
                yield f"redis://:{STORE_PASSWORD}@127.0.0.1:{listener.getsockname()[1]}"
            finally:
                stop.set()
                thread.join()
                for connection in held:
                    connection.close()
        return
    port = bench.free_port()
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--requirepass", STORE_PASSWORD,
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.01)
        yield f"redis://:{STORE_PASSWORD}@127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def run_fleet(args: argparse.Namespace, size: int, logs: Path) -> dict:
    with bench.FakeUnsplash(args.unsplash_delay_ms / 1000.0) as unsplash, store(args.store) as cache_url:
        extra = dict(args.extra_env)
        if cache_url:
            extra["CACHE_URL"] = cache_url
        services: list[bench.Service] = []

        def start(label: str) -> bench.Service:
            port = bench.free_port()
            env = bench.stack_environments({"bird-image": port}, unsplash.url, extra)["bird-image"]
            log = open(logs / f"{size}-{label}.log", "wb")  # noqa: SIM115 (closed below)
            service = bench.Service("bird-image", port, env, log)
            services.append(service)
            service.start(args.bin_dir)
            return service

        try:
            fleet = [start(str(n)) for n in range(size)]
            answers: list[list[tuple[str, float]]] = [[] for _ in fleet]
            threads = [threading.Thread(target=ask_twelve, args=(s.port, 2, a)) for s, a in zip(fleet, answers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            calls_before_late = sum(unsplash.calls.values())
            late: list[tuple[str, float]] = []
            ask_twelve(start("late").port, 1, late)
        finally:
            for service in services:
                service.stop()
                service.log.close()
        fleet_answers = [answer for per_process in answers for answer in per_process]
        seconds = [took for _, took in fleet_answers + late]
        return {
            "instances": size,
            "calls": calls_before_late,
            "placeholders": sum(url == PLACEHOLDER for url, _ in fleet_answers),
            "answers": len(fleet_answers),
            "late_placeholders": sum(url == PLACEHOLDER for url, _ in late),
            "late_calls": sum(unsplash.calls.values()) - calls_before_late,
            "failures": sum(not url.startswith("https://") for url, _ in fleet_answers + late),
            "p50_ms": statistics.median(seconds) * 1000,
            "p99_ms": percentile(seconds, 0.99) * 1000,
            "max_ms": max(seconds) * 1000,
        }


def render(rows: list[dict]) -> str:
    lines = [
        "| instances | Unsplash calls | placeholder answers | late instance: placeholders, calls "
        "| failed answers | p50 | p99 | max |",
        "|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['instances']} | {row['calls']} | {row['placeholders']} of {row['answers']} "
            f"| {row['late_placeholders']} of 12, {row['late_calls']} | {row['failures']} "
            f"| {row['p50_ms']:.1f} ms | {row['p99_ms']:.1f} ms | {row['max_ms']:.1f} ms |")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", type=Path, required=True, help="directory holding the bird-image binary")
    parser.add_argument("--instances", default="1,3,10", help="fleet sizes, comma-separated (default 1,3,10)")
    parser.add_argument("--store", choices=("none", "shared", "down", "hang"), default="shared")
    parser.add_argument("--unsplash-delay-ms", type=float, default=50.0)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment variable for every process (repeatable)")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(size) for size in args.instances.split(",")]
    except ValueError:
        parser.error("--instances takes whole numbers, e.g. 1,3,10")
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--instances takes sizes of at least 1")
    args.extra_env = bench.env_assignments(parser, args.env)
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    print(f"bird-image from {args.bin_dir}, store: {args.store}, extra environment: {args.extra_env or 'none'}")
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="bird-fleet-") as logs:
            for size in args.sizes:
                rows.append(run_fleet(args, size, Path(logs)))
    except (RuntimeError, OSError) as err:
        print(f"fleet: {err}", file=sys.stderr)
        return 1
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
