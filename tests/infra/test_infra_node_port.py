"""The frontend's NodePort has one source of truth, the chart's services.frontend.service.nodePort:
Terraform's frontend_node_port defaults to it, the printed helm command carries the variable, the
deploy workflow has no default of its own, and the chart's README names no other port."""

import re

import yaml

from .conftest import INFRA, REPO

CHART = REPO / "bird-chart"
NODE_PORT_RANGE = range(30000, 32768)


def chart_node_port() -> int:
    return yaml.safe_load((CHART / "values.yaml").read_text())["services"]["frontend"]["service"]["nodePort"]


def terraform_default() -> int:
    block = (INFRA / "variables.tf").read_text().split('variable "frontend_node_port" {', 1)[1]
    return int(re.search(r"^\s*default\s*=\s*(\d+)", block, re.M).group(1))


def test_terraform_defaults_to_the_charts_node_port():
    assert terraform_default() == chart_node_port()


def test_the_printed_chart_command_sets_the_variable():
    assert "--set services.frontend.service.nodePort=${var.frontend_node_port}" in (INFRA / "outputs.tf").read_text()


def test_no_other_file_of_the_deploy_path_names_a_node_port_of_its_own():
    """Any NodePort-range number in the deploy workflow or the READMEs is the chart's."""
    port = chart_node_port()
    for path in [REPO / ".github" / "workflows" / "deploy.yml", CHART / "README.md", INFRA / "README.md"]:
        numbers = {int(n) for n in re.findall(r"(?<![\d.])(3[0-2]\d{3})(?![\d.])", path.read_text())}
        others = {n for n in numbers if n in NODE_PORT_RANGE} - {port}
        assert not others, f"{path.relative_to(REPO)} names NodePorts {others}, the chart's is {port}"
    assert not re.search(r"NODE_PORT:.*\|\|", (REPO / ".github" / "workflows" / "deploy.yml").read_text())
