"""moto's AWS emulator (`moto_server`) on a free loopback port, for the apply rehearsal."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import boto3

# Without the AWS-managed policies, attaching AmazonEKSClusterPolicy and the like fails with NoSuchEntity.
SERVER_ENV = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
START_TIMEOUT_SECONDS = 60


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Moto:
    """One moto server; accounts are reached by assuming a role in them, as moto allows for any ARN."""

    def __init__(self) -> None:
        port = free_loopback_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env={**os.environ, **SERVER_ENV},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        """Werkzeug names the address on stderr once it listens; the rest of stderr is drained in the background."""
        ready = threading.Event()
        lines: list[str] = []

        def read() -> None:
            for line in self.process.stderr:
                if not ready.is_set():
                    lines.append(line)
                    if f"Running on {self.endpoint}" in line:
                        ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(START_TIMEOUT_SECONDS):
            self.stop()
            raise RuntimeError(f"moto_server did not start on {self.endpoint}:\n{''.join(lines)}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def session(self, account_id: str, region: str) -> boto3.Session:
        """A session in one emulated account, as Terraform's providers get it (assume_role)."""
        base = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
        credentials = base.client("sts", endpoint_url=self.endpoint).assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/rehearsal", RoleSessionName="rehearsal"
        )["Credentials"]
        return boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region,
        )

    def client(self, session: boto3.Session, service: str):
        return session.client(service, endpoint_url=self.endpoint)
