"""The store crosses the two halves: what the printed helm command sets with store_enabled must be
chart values the chart's schema accepts for every value Terraform's variables allow. The
rehearsal renders the printed command itself (test_infra_rehearsal.py); this keeps the names in
step without an apply."""

import json
import re

from .conftest import INFRA, REPO

CHART = REPO / "bird-chart"


def store_schema() -> dict:
    schema = json.loads((CHART / "values.schema.json").read_text())
    return schema["properties"]["store"], schema["definitions"]


def variable_default(name: str):
    block = re.search(rf'variable "{name}" \{{(.*?)\n\}}', (INFRA / "variables.tf").read_text(), re.S)
    assert block, f"variables.tf has no variable {name}"
    return block.group(1)


def test_what_the_printed_command_sets_is_a_store_value_of_the_chart():
    outputs = (INFRA / "outputs.tf").read_text()
    settings = dict(re.findall(r"^\s*\"--set '?store\.([\w.]+)=(.*?)'?\",$", outputs, re.M))
    assert settings == {
        "type": "external",
        "external.existingSecret": "${var.store_secret_name}",
        "external.cidrs": '{${join(",", aws_subnet.private[*].cidr_block)}}',
        "external.port": "${local.store_port}",
    }
    store, definitions = store_schema()
    assert "external" in store["properties"]["type"]["enum"]
    assert set(store["properties"]["external"]["properties"]) >= {"existingSecret", "cidrs", "port"}


def test_every_secret_name_and_subnet_terraform_allows_is_one_the_chart_takes():
    _, definitions = store_schema()
    secret_pattern = definitions["dnsSubdomainOrEmpty"]["pattern"]
    terraform_pattern = re.search(r'regex\("([^"]+)", var\.store_secret_name\)', variable_default("store_secret_name")).group(1)
    for name in ("bird-cache", "c", "a" * 63, "cache-0", re.search(r'default\s*=\s*"([^"]+)"', variable_default("store_secret_name")).group(1)):
        assert re.fullmatch(terraform_pattern.replace("\\\\", "\\"), name), name
        assert re.fullmatch(secret_pattern, name), name
    cidr = definitions["cidr"]["pattern"]
    for block in re.findall(r'"([0-9./]+)"', re.search(r"default\s*=\s*\[(.*?)\]", variable_default("private_subnet_cidrs")).group(1)):
        assert re.fullmatch(cidr, block), block

