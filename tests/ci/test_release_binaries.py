"""The release binaries under the conditions of their images, standing in for the images
themselves (no Docker engine here).

Each binary runs as uid/gid 65532 with no new privileges, from a read-only directory, with an
empty environment and in a network namespace of its own, as in a container: so it listens on
its default port and must work with no configuration at all. It must start, pass its own
`healthcheck`, answer /health over HTTP, log JSON lines and stop cleanly on SIGTERM. `ldd`
must show nothing beyond what the runtime image (distroless/cc on Debian 12) provides.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from .helpers import DOCKER_DIR, REPO, SERVICES, answers_200, free_port, http_get, report, run, tool, wait_for

NONROOT = "65532"
BINARIES = [spec["bin"] for spec in SERVICES.values()]
DEFAULT_IMAGE_URL = "https://www.pokemonmillennium.net/wp-content/uploads/2015/11/missingno.png"
# What gcr.io/distroless/cc-debian12 provides that a Rust binary may link: glibc, its loader, libgcc_s.
RUNTIME_LIBRARIES = {
    "linux-vdso.so.1",
    "libc.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
}
# glibc of the runtime base (Debian 12): a binary asking for a newer symbol would not start.
RUNTIME_GLIBC = (2, 36)
# SHUTDOWN_DRAIN_SECS and SHUTDOWN_TIMEOUT_SECS by default: /ready answers 503 for the drain,
# and the process exits within both, with a margin.
DRAIN_SECS = 5
STOP_WITHIN = DRAIN_SECS + 10 + 5


def as_root(cmd: list[str]) -> list[str]:
    """Root is needed to switch users and make namespaces; CI runners that are not root have sudo."""
    return cmd if os.geteuid() == 0 else ["sudo", "-n", *cmd]


def confined(binary: Path, *args: str, env: dict[str, str] | None = None) -> list[str]:
    """The command line that runs `binary` as the image's user with only `env` in its environment."""
    variables = [f"{k}={v}" for k, v in (env or {}).items()]
    setpriv = tool("setpriv", "it comes with util-linux")
    return [
        setpriv,
        f"--reuid={NONROOT}",
        f"--regid={NONROOT}",
        "--clear-groups",
        "--no-new-privs",
        "env",
        "-i",
        *variables,
        str(binary),
        *args,
    ]


@pytest.fixture(scope="module")
def binaries():
    """The release binaries, copied into a read-only directory that also serves as working directory."""
    cargo = tool("cargo", "install the Rust toolchain")
    bins = sorted(v["bin"] for v in SERVICES.values())
    build = run([cargo, "build", "--release", "--locked", *(f"--bin={b}" for b in bins)], cwd=REPO)
    assert build.returncode == 0, report(build)
    metadata = run([cargo, "metadata", "--format-version=1", "--no-deps"], cwd=REPO)
    assert metadata.returncode == 0, report(metadata)
    target = Path(json.loads(metadata.stdout)["target_directory"])
    root = Path(tempfile.mkdtemp(prefix="bird-release-"))
    for name in bins:
        shutil.copy2(target / "release" / name, root / name)
        (root / name).chmod(0o555)
    root.chmod(0o555)
    yield {name: root / name for name in bins}
    root.chmod(0o755)
    shutil.rmtree(root)


class Confined:
    """One binary running alone in a fresh network namespace."""

    def __init__(self, binary: Path, port: int, pidfile: Path):
        self.binary, self.port = binary, port
        ip = tool("ip", "install iproute2")
        unshare = tool("unshare", "it comes with util-linux")
        # The shell brings loopback up, records its pid and becomes the binary (exec keeps the pid).
        script = f'{ip} link set lo up && echo $$ > "$0" && exec "$@"'
        self.proc = subprocess.Popen(
            as_root([unshare, "--net", "--", "sh", "-c", script, str(pidfile), *confined(binary)]),
            cwd=binary.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 10, f"{binary.name} to start")
        self.pid = int(pidfile.read_text())

    def inside(self, cmd: list[str]) -> subprocess.CompletedProcess[str]:
        """Runs `cmd` in the binary's network namespace."""
        nsenter = tool("nsenter", "it comes with util-linux")
        return run(as_root([nsenter, f"--target={self.pid}", "--net", "--", *cmd]), cwd=self.binary.parent)

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        return self.inside(confined(self.binary, "healthcheck"))

    def get(self, path: str) -> int:
        """HTTP status of GET `path` on the binary's default port, asked from its namespace."""
        probe = (
            "import sys, urllib.request, urllib.error\n"
            "try:\n"
            "    print(urllib.request.urlopen(sys.argv[1], timeout=5).status)\n"
            "except urllib.error.HTTPError as err:\n"
            "    print(err.code)\n"
        )
        proc = self.inside([sys.executable, "-c", probe, f"http://127.0.0.1:{self.port}{path}"])
        assert proc.returncode == 0, report(proc)
        return int(proc.stdout)

    def signal(self, signum: int) -> None:
        if os.geteuid() == 0:
            os.kill(self.pid, signum)
        else:
            assert run(["sudo", "-n", "kill", f"-{signum}", str(self.pid)]).returncode == 0

    def stop(self) -> tuple[int, str, str]:
        self.signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=STOP_WITHIN)
        return self.proc.returncode, out, err


@pytest.fixture(scope="module")
def running(binaries, tmp_path_factory):
    """The three binaries, started together so their shutdown drains overlap."""
    pids = tmp_path_factory.mktemp("pids")
    started = {}
    try:
        for spec in SERVICES.values():
            name = spec["bin"]
            started[name] = Confined(binaries[name], spec["port"], pids / name)
        for name, service in started.items():
            wait_for(
                lambda s=service: s.healthcheck().returncode == 0 or s.proc.poll() is not None,
                15,
                f"{name} to become healthy",
            )
            assert service.proc.poll() is None, f"{name} exited: {service.proc.communicate()}"
        yield started
    finally:
        for service in started.values():
            if service.proc.poll() is None:
                service.signal(signal.SIGKILL)
                service.proc.wait(timeout=10)


@pytest.mark.parametrize("name", BINARIES)
def test_runs_as_the_image_user_on_its_default_port(name, running):
    service = running[name]
    status = Path(f"/proc/{service.pid}/status").read_text()
    assert re.search(rf"^Uid:\s+{NONROOT}\s+{NONROOT}\s+{NONROOT}\s+{NONROOT}$", status, re.MULTILINE)
    assert re.search(rf"^Gid:\s+{NONROOT}\s+{NONROOT}\s+{NONROOT}\s+{NONROOT}$", status, re.MULTILINE)
    assert re.search(r"^Groups:\s*$", status, re.MULTILINE)
    assert re.search(r"^CapEff:\s+0+$", status, re.MULTILINE)
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.MULTILINE)
    # Only the process itself (or root) may read its environment.
    environ = run(as_root(["cat", f"/proc/{service.pid}/environ"]))
    assert environ.returncode == 0, report(environ)
    assert environ.stdout == "", f"environment is not empty: {environ.stdout!r}"


@pytest.mark.parametrize("name", BINARIES)
def test_answers_health_and_readiness(name, running):
    service = running[name]
    healthcheck = service.healthcheck()
    assert healthcheck.returncode == 0, report(healthcheck)
    assert service.get("/health") == 200
    assert service.get("/ready") == 200


def test_healthcheck_fails_when_nothing_listens(binaries):
    # A fresh namespace where the service is not running: the check must say so.
    unshare = tool("unshare", "it comes with util-linux")
    ip = tool("ip", "install iproute2")
    for name, binary in binaries.items():
        proc = run(
            as_root(
                [
                    unshare,
                    "--net",
                    "--",
                    "sh",
                    "-c",
                    f'{ip} link set lo up && exec "$@"',
                    "sh",
                    *confined(binary, "healthcheck"),
                ]
            ),
            cwd=binary.parent,
        )
        assert proc.returncode == 1, f"{name}: {report(proc)}"


def test_sigterm_drains_then_exits_zero_with_json_logs(running):
    for service in running.values():
        service.signal(signal.SIGTERM)
    for name, service in running.items():
        # While draining, load balancers are told to stop sending (503) but the process still serves.
        wait_for(lambda s=service: s.get("/ready") == 503, DRAIN_SECS, f"{name}'s /ready to turn 503")
        assert service.get("/health") == 200, name
    for name, service in running.items():
        out, err = service.proc.communicate(timeout=STOP_WITHIN)
        assert service.proc.returncode == 0, f"{name} exited {service.proc.returncode}\n{out}\n{err}"
        lines = out.splitlines()
        assert lines, f"{name} logged nothing on stdout"
        for line in lines:
            record = json.loads(line)
            assert record["service"] == name and record["level"] and record["timestamp"], line


@pytest.mark.parametrize("name", BINARIES)
def test_links_only_against_the_runtime_image(name, binaries):
    ldd = run([tool("ldd", "it comes with glibc (libc-bin)"), str(binaries[name])])
    assert ldd.returncode == 0, report(ldd)
    needed = set()
    for line in ldd.stdout.splitlines():
        soname = line.split()[0]
        assert "not found" not in line, line
        needed.add(Path(soname).name)
    assert needed <= RUNTIME_LIBRARIES, f"not in distroless/cc: {sorted(needed - RUNTIME_LIBRARIES)}"
    assert not any(lib.startswith(("libssl", "libcrypto")) for lib in needed)

    symbols = run([tool("objdump", "install binutils"), "-T", str(binaries[name])])
    assert symbols.returncode == 0, report(symbols)
    versions = {
        tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_(\d+\.\d+(?:\.\d+)?)", symbols.stdout)
    }
    assert versions and max(versions) <= RUNTIME_GLIBC, f"needs glibc {max(versions)}"


def test_runtime_glibc_matches_the_dockerfile():
    runtime = re.search(
        r"^FROM (\S+) AS runtime-base$", (DOCKER_DIR / "Dockerfile").read_text(), re.MULTILINE
    )
    assert runtime and "-debian12:" in runtime[1], "update RUNTIME_GLIBC with the runtime base"


@contextmanager
def bird_image(binary: Path, fake_unsplash: str, key: str) -> Iterator[str]:
    """bird-image as the image's user, on loopback, talking to the fake Unsplash; yields its URL."""
    port = free_port()
    env = {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "UNSPLASH_API_URL": fake_unsplash,
        "UNSPLASH_ACCESS_KEY": key,
        "SHUTDOWN_DRAIN_SECS": "0",
    }
    proc = subprocess.Popen(
        as_root(confined(binary, env=env)),
        cwd=binary.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: proc.poll() is not None or answers_200(f"{base}/health"), 15, "bird-image")
        assert proc.poll() is None, f"bird-image exited: {proc.communicate()}"
        yield base
    finally:
        if proc.poll() is None:
            # Through sudo the signal goes to sudo, which passes it on.
            if os.geteuid() == 0:
                proc.terminate()
            else:
                run(["sudo", "-n", "kill", str(proc.pid)])
            proc.communicate(timeout=STOP_WITHIN)


def test_bird_image_uses_the_offline_fake_unsplash(binaries, fake_unsplash):
    """The offline compose overlay end to end, minus Docker: bird-image against the fake."""
    with bird_image(binaries["bird-image"], fake_unsplash, key="offline-demo-key") as base:
        status, body = http_get(f"{base}/v1/image?birdName=Mallard")
    assert status == 200, body
    answer = json.loads(body)
    fixture = json.loads((DOCKER_DIR / "fake-unsplash" / "search-photos.json").read_text())["results"][0]
    url, expected = urlsplit(answer["url"]), urlsplit(fixture["urls"]["full"])
    assert (url.scheme, url.netloc, url.path) == (expected.scheme, expected.netloc, expected.path)
    query = parse_qs(url.query)
    assert query["w"] == ["2000"] and query["q"] == ["100"], answer["url"]
    assert answer["credit"]["name"] == fixture["user"]["name"]


def test_bird_image_treats_an_empty_key_as_no_key(binaries, fake_unsplash):
    # compose passes UNSPLASH_ACCESS_KEY="" when no key is set: bird-image must start and
    # answer its default image without calling Unsplash.
    with bird_image(binaries["bird-image"], fake_unsplash, key="") as base:
        status, body = http_get(f"{base}/v1/image?birdName=Mallard")
    assert status == 200, body
    assert json.loads(body) == {"url": DEFAULT_IMAGE_URL, "credit": None}
