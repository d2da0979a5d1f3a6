"""Fixtures shared by the container and CI checks."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Iterator

import pytest

from .helpers import DOCKER_DIR, answers_200, free_port, tool, wait_for


@pytest.fixture(scope="session")
def fake_unsplash(tmp_path_factory) -> Iterator[str]:
    """The offline stack's fake Unsplash (docker/fake-unsplash/nginx.conf) under a local nginx.

    The server block is used as committed; only its listen port and the path of the JSON file
    are moved to this test's free port and the committed file. Yields the base URL.
    """
    nginx = tool("nginx", "install Debian's nginx-light (`apt-get install -y nginx-light`)")
    workdir = tmp_path_factory.mktemp("fake-unsplash")
    port = free_port()
    server = (DOCKER_DIR / "fake-unsplash" / "nginx.conf").read_text()
    assert "listen 127.0.0.1:8080;" in server and "/srv/fake-unsplash/search-photos.json" in server
    server = server.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{port};").replace(
        "/srv/fake-unsplash/search-photos.json", str(DOCKER_DIR / "fake-unsplash" / "search-photos.json")
    )
    (workdir / "server.conf").write_text(server)
    # The image's own nginx.conf plays this part in the container.
    (workdir / "nginx.conf").write_text(
        textwrap.dedent(
            f"""\
            daemon off;
            master_process off;
            pid {workdir}/nginx.pid;
            error_log stderr warn;
            events {{}}
            http {{
                access_log off;
                client_body_temp_path {workdir}/body;
                proxy_temp_path {workdir}/proxy;
                fastcgi_temp_path {workdir}/fastcgi;
                uwsgi_temp_path {workdir}/uwsgi;
                scgi_temp_path {workdir}/scgi;
                include {workdir}/server.conf;
            }}
            """
        )
    )
    proc = subprocess.Popen(
        [nginx, "-e", "stderr", "-p", str(workdir), "-c", str(workdir / "nginx.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: proc.poll() is not None or answers_200(f"{base}/healthz"), 10, "the fake Unsplash")
        if proc.poll() is not None:
            pytest.fail(f"nginx refused the fake Unsplash config:\n{proc.stdout.read()}")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
