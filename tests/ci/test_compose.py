"""docker/compose.yaml and its offline overlay: valid, wired as CONTRACT.md says, hardened.

No Docker engine runs here, so the files are checked against the Compose specification's
schema (and by `docker compose config` where the compose plugin is installed), their wiring
is read back, and the fake Unsplash runs under a local nginx.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from urllib.parse import urlsplit

import pytest
import yaml

from .helpers import DOCKER_DIR, REPO, SERVICES, free_port, http_get, report, run, tool

COMPOSE = DOCKER_DIR / "compose.yaml"
OFFLINE = DOCKER_DIR / "compose.offline.yaml"
FIXTURE = DOCKER_DIR / "fake-unsplash" / "search-photos.json"
HEALTHCHECK = ["CMD", "/usr/local/bin/service", "healthcheck"]
CHART_VALUES = REPO / "bird-chart" / "values.yaml"
# The stack's store: a Valkey beside the three services.
STORE = "valkey"
# How compose refuses to start without the store's password.
REQUIRED_PASSWORD = "${VALKEY_PASSWORD:?set VALKEY_PASSWORD in docker/.env (docker/README.md)}"


def load(path):
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def stack():
    return load(COMPOSE)["services"]


@pytest.fixture(scope="module")
def base(stack):
    """The three services (without their store)."""
    return {name: service for name, service in stack.items() if name != STORE}


@pytest.fixture(scope="module")
def offline():
    return load(OFFLINE)["services"]


@pytest.mark.parametrize("path", [COMPOSE, OFFLINE], ids=lambda p: p.name)
def test_matches_the_compose_specification(path):
    checker = tool("check-jsonschema", "it is pinned in tests/requirements.txt")
    proc = run([checker, "--builtin-schema", "vendor.compose-spec", str(path)])
    assert proc.returncode == 0, report(proc)
    # Where the compose plugin is installed, Compose itself has the last word on the merged stack.
    if shutil.which("docker") and run(["docker", "compose", "version"]).returncode == 0:
        command = ["docker", "compose", "-f", str(COMPOSE), "-f", str(OFFLINE), "config", "--quiet"]
        proc = run(command, env=os.environ | {"VALKEY_PASSWORD": "compose0config"})
        assert proc.returncode == 0, report(proc)


def test_runs_the_three_services_on_their_ports(stack, base):
    assert set(stack) == set(SERVICES) | {STORE}
    for name, service in base.items():
        port = SERVICES[name]["port"]
        # Published on loopback only: a laptop stack is not served to the local network.
        assert service["ports"] == [f"127.0.0.1:{port}:{port}"], name


def test_builds_each_service_from_its_dockerfile_target(base):
    for name, service in base.items():
        build = service["build"]
        assert (DOCKER_DIR / build["context"] / build["dockerfile"]).resolve() == DOCKER_DIR / "Dockerfile"
        assert build["target"] == name
        assert re.fullmatch(
            rf"\$\{{IMAGE_NAMESPACE:-[a-z0-9./-]+\}}/{name}:\$\{{IMAGE_TAG:-[\w.-]+\}}", service["image"]
        )


def test_every_service_checks_its_health_with_its_own_binary(base):
    for name, service in base.items():
        assert service["healthcheck"]["test"] == HEALTHCHECK, name


def test_starts_in_order_of_health(stack, base):
    assert "depends_on" not in stack[STORE]
    assert base["bird-image-api"]["depends_on"] == {STORE: {"condition": "service_healthy"}}
    assert base["bird-api"]["depends_on"] == {"bird-image-api": {"condition": "service_healthy"}}
    assert base["bird-frontend"]["depends_on"] == {"bird-api": {"condition": "service_healthy"}}


def test_services_reach_each_other_by_name(base):
    assert base["bird-api"]["environment"]["BIRD_IMAGE_URL"] == "http://bird-image-api:4200"
    assert base["bird-frontend"]["environment"]["BIRD_API_URL"] == "http://bird-api:4201"


def test_unsplash_key_comes_from_the_environment_and_only_to_bird_image(base):
    for name, service in base.items():
        env = service.get("environment", {})
        if name == "bird-image-api":
            assert env["UNSPLASH_ACCESS_KEY"] == "${UNSPLASH_ACCESS_KEY:-}"
        else:
            assert "UNSPLASH_ACCESS_KEY" not in env, name
        assert "env_file" not in service, name


def test_env_file_is_documented_and_git_ignored():
    example = (DOCKER_DIR / ".env.example").read_text()
    assert re.search(r"^UNSPLASH_ACCESS_KEY=$", example, re.MULTILINE), "the example must not carry a key"
    assert re.search(r"^VALKEY_PASSWORD=$", example, re.MULTILINE), "the example must not carry a password"
    proc = run(["git", "check-ignore", "--quiet", "docker/.env"], cwd=REPO)
    assert proc.returncode == 0, "docker/.env must be git-ignored"
    proc = run(["git", "check-ignore", "--quiet", "docker/.env.example"], cwd=REPO)
    assert proc.returncode == 1, "docker/.env.example must be committed"


def _assert_hardened(name, service, network_mode=None):
    assert service["read_only"] is True, name
    assert service["cap_drop"] == ["ALL"], name
    assert "no-new-privileges:true" in service["security_opt"], name
    for key in ("privileged", "cap_add", "pid"):
        assert key not in service, f"{name} sets {key}"
    # The images' own users, except where the image's is root: a numeric non-root uid.
    assert "user" not in service or re.fullmatch(r"[1-9][0-9]{3,}:[1-9][0-9]{3,}", service["user"]), name
    assert service.get("network_mode") == network_mode, name


def test_every_container_is_hardened(stack, offline):
    for name, service in stack.items():
        _assert_hardened(name, service)
    assert "user" in stack[STORE] and all("user" not in s for n, s in stack.items() if n != STORE)
    # The fake shares bird-image's namespace only (no host network): see the next test.
    _assert_hardened("fake-unsplash", offline["fake-unsplash"], "service:bird-image-api")


def test_offline_overlay_points_bird_image_at_the_fake_on_loopback(offline):
    """bird-image refuses plain http to anything but a loopback host (the key would cross a
    network in clear), so the fake lives in bird-image's network namespace."""
    assert set(offline) == {"fake-unsplash", "bird-image-api", "bird-api"}
    bird_image = offline["bird-image-api"]
    api = urlsplit(bird_image["environment"]["UNSPLASH_API_URL"])
    assert api.scheme == "http" and api.hostname == "127.0.0.1"
    assert offline["fake-unsplash"]["network_mode"] == "service:bird-image-api"
    server = (DOCKER_DIR / "fake-unsplash" / "nginx.conf").read_text()
    assert f"listen {api.hostname}:{api.port};" in server
    assert bird_image["environment"]["UNSPLASH_ACCESS_KEY"], "without a key bird-image never calls the fake"
    assert offline["bird-api"]["depends_on"] == {"fake-unsplash": {"condition": "service_healthy"}}


def test_offline_overlay_mounts_committed_files_read_only(offline):
    fake = offline["fake-unsplash"]
    assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", fake["image"]) and not fake["image"].endswith(":latest")
    for volume in fake["volumes"]:
        source, _, mode = volume.split(":")
        assert mode == "ro", volume
        assert (DOCKER_DIR / source).is_file(), volume
    assert fake["healthcheck"]["test"][0] == "CMD"


def test_fake_search_result_is_an_unsplash_search_answer():
    answer = json.loads(FIXTURE.read_text())
    assert answer["total"] >= 1 and answer["results"]
    photo = answer["results"][0]
    # bird-image rejects photo URLs that are not https, as it would from the real API.
    for key in ("raw", "full", "regular", "small", "thumb"):
        assert urlsplit(photo["urls"][key]).scheme == "https", key
    assert photo["user"]["name"]
    assert urlsplit(photo["user"]["links"]["html"]).scheme == "https"


def test_fake_unsplash_answers_like_unsplash(fake_unsplash):
    search = f"{fake_unsplash}/search/photos?query=Blue%20Jay&page=1&per_page=1"
    status, body = http_get(search, {"Authorization": "Client-ID offline-demo-key"})
    assert status == 200
    assert json.loads(body) == json.loads(FIXTURE.read_text())

    status, body = http_get(search)
    assert status == 401, "Unsplash refuses a search without an access key"
    assert "errors" in json.loads(body)

    assert http_get(f"{fake_unsplash}/photos/random", {"Authorization": "Client-ID k"})[0] == 404
    assert http_get(f"{fake_unsplash}/healthz")[0] == 200


def test_valkey_is_the_charts_memory_only_store(stack):
    """The same image as the chart's, unpublished, nothing kept on disk, the password from the
    environment and nowhere in the file."""
    valkey = stack[STORE]
    chart = yaml.safe_load(CHART_VALUES.read_text())["store"]["valkey"]
    assert valkey["image"] == f"{chart['image']['registry']}/{chart['image']['repository']}:{chart['image']['tag']}"
    assert "ports" not in valkey and "volumes" not in valkey
    assert valkey["tmpfs"] == ["/data"]
    assert valkey["environment"] == {"VALKEY_PASSWORD": REQUIRED_PASSWORD}
    command = " ".join(valkey["command"])
    for option in ("--save ''", "--appendonly no", f"--maxmemory {chart['maxmemory']}", f"--maxmemory-policy {chart['maxmemoryPolicy']}"):
        assert option in command, option


def test_bird_image_alone_reads_the_store_url(stack):
    for name, service in stack.items():
        env = service.get("environment", {})
        if name == "bird-image-api":
            assert env["CACHE_URL"] == f"redis://default:{REQUIRED_PASSWORD}@{STORE}:6379"
        else:
            assert "CACHE_URL" not in env, name


def _interpolated(text: str, password: str) -> str:
    """Compose's interpolation of what these files use: the password variable and `$$`."""
    return text.replace(REQUIRED_PASSWORD, password).replace("$$", "$")


@pytest.fixture
def store(stack, tmp_path):
    """The compose file's Valkey command under Debian's redis-server (same protocol and options),
    with valkey-server and valkey-cli played by shims that add a free loopback port; yields
    (port, password)."""
    redis_server = tool("redis-server", "install Debian's redis-server (`apt-get install -y redis-server`)")
    redis_cli = tool("redis-cli", "install Debian's redis-server (`apt-get install -y redis-server`)")
    port, password = free_port(), "compose0test0password"
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "valkey-server").write_text(f'#!/bin/sh\nexec {redis_server} "$@" --port {port} --bind 127.0.0.1 --dir {tmp_path}\n')
    (shims / "valkey-cli").write_text(f'#!/bin/sh\nREDISCLI_AUTH="$VALKEYCLI_AUTH" exec {redis_cli} -p {port} "$@"\n')
    for shim in shims.iterdir():
        shim.chmod(0o755)
    env = {"PATH": f"{shims}:{os.environ['PATH']}"}
    for name, value in stack[STORE]["environment"].items():
        env[name] = _interpolated(value, password)
    command = [_interpolated(word, password) for word in stack[STORE]["command"]]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in server.stdout:
            if "Ready to accept connections" in line:
                break
        else:
            pytest.fail(f"the compose file's Valkey command exited ({server.wait()})")
        yield port, password, env
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_store_answers_bird_images_url_and_its_health_check(stack, store):
    port, password, env = store
    redis_cli = tool("redis-cli", "install Debian's redis-server")
    url = _interpolated(stack["bird-image-api"]["environment"]["CACHE_URL"], password).replace(f"@{STORE}:6379", f"@127.0.0.1:{port}")
    assert run([redis_cli, "--no-auth-warning", "-u", url, "ping"]).stdout.strip() == "PONG"
    assert "NOAUTH" in run([redis_cli, "-p", str(port), "ping"]).stdout
    config = run([redis_cli, "--no-auth-warning", "-u", url, "config", "get", "maxmemory*"]).stdout.split()
    config = dict(zip(config[::2], config[1::2]))
    assert (config["maxmemory"], config["maxmemory-policy"]) == (str(32 * 1024 * 1024), "allkeys-lru")
    kind, check = stack[STORE]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    check = _interpolated(check, password)
    assert run(["sh", "-c", check], env=env).returncode == 0
    # A wrong password fails it, though valkey-cli exits 0 on an error reply.
    assert run(["sh", "-c", check], env=env | {"VALKEY_PASSWORD": "wrong"}).returncode != 0
