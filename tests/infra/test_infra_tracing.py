"""Tracing crosses the two halves: bird-chart's default OTLP receiver must be the add-on's agent
whose service account Terraform's IRSA role trusts (and may write to X-Ray), and what the printed
helm command sets must be chart values the chart accepts. The rehearsal renders the printed
command itself (test_infra_rehearsal.py); this keeps the names in step without an apply."""

import json
import re
from urllib.parse import urlparse

import yaml

from .conftest import INFRA, REPO

CHART = REPO / "bird-chart"


def chart_values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def chart_schema() -> dict:
    return json.loads((CHART / "values.schema.json").read_text())


def irsa_service_account(key: str) -> tuple[str, str]:
    """(namespace, name) of an IRSA role's service account, from irsa.tf."""
    line = re.search(rf'^\s*{key}\s*=\s*\{{ namespace = "([^"]+)", name = "([^"]+)" \}}', (INFRA / "irsa.tf").read_text(), re.M)
    assert line, f"irsa.tf has no service account {key}"
    return line.group(1), line.group(2)


def test_the_charts_default_receiver_is_the_agent_terraform_grants():
    """The add-on's operator names the agent's Service like its service account and labels its
    pods app.kubernetes.io/instance=<namespace>.<name>."""
    namespace, name = irsa_service_account("cloudwatch-agent")
    values = chart_values()
    endpoint = urlparse(values["tracing"]["otlpEndpoint"])
    assert (endpoint.scheme, endpoint.hostname, endpoint.port) == ("http", f"{name}.{namespace}", 4316)
    (peer,) = values["networkPolicy"]["tracesTo"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": namespace}
    assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == f"{namespace}.{name}"
    irsa = (INFRA / "irsa.tf").read_text()
    xray = re.search(r'resource "aws_iam_role_policy_attachment" "cloudwatch_agent_xray" \{(.*?)\n\}', irsa, re.S)
    assert xray and 'aws_iam_role.irsa["cloudwatch-agent"]' in xray.group(1) and "AWSXrayWriteOnlyAccess" in xray.group(1)


def test_what_the_printed_command_sets_is_a_chart_value_it_accepts():
    outputs = (INFRA / "outputs.tf").read_text()
    settings = dict(re.findall(r'"--set tracing\.(\w+)=([^"]+)"', outputs))
    assert set(settings) == {"enabled", "samplerArg", "environment"}
    schema = chart_schema()["properties"]["tracing"]["properties"]
    assert set(settings) <= set(schema)
    variables = (INFRA / "variables.tf").read_text()
    # The ratio: Terraform's bounds are the chart's.
    assert settings["samplerArg"] == "${var.tracing_sample_ratio}"
    assert "var.tracing_sample_ratio >= 0 && var.tracing_sample_ratio <= 1" in variables
    (number,) = [s for s in schema["samplerArg"]["anyOf"] if s["type"] == "number"]
    assert (number["minimum"], number["maximum"]) == (0, 1)
    # Helm's --set hands the printed 0.1 to the chart as a string: the chart takes it.
    (string,) = [s for s in schema["samplerArg"]["anyOf"] if s["type"] == "string"]
    default = re.search(r'variable "tracing_sample_ratio" \{.*?default\s*=\s*([0-9.]+)', variables, re.S).group(1)
    assert re.fullmatch(string["pattern"], default)
    # The environment: every value Terraform allows passes the chart's pattern.
    assert settings["environment"] == "${var.environment}"
    allowed = re.search(r'contains\(\[([^\]]+)\], var\.environment\)', variables).group(1)
    for environment in re.findall(r'"([^"]+)"', allowed):
        assert re.fullmatch(schema["environment"]["pattern"], environment), environment


def test_the_tracing_variables_reach_the_printed_command_only():
    """Switching tracing on changes no AWS resource: the agent's grants are there either way."""
    users = {path.name for path in INFRA.glob("*.tf") if "var.tracing_" in path.read_text()}
    assert users == {"variables.tf", "outputs.tf"}
