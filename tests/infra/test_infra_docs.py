"""infrastructure/README.md covers what the configuration promises: every alarm's runbook link
resolves, every output is documented, and the deploy sequence and cost table are there."""

import re

from .conftest import INFRA

README = (INFRA / "README.md").read_text()


def anchors(markdown: str) -> set[str]:
    """GitHub-style anchors of the headings."""
    result = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        result.add(slug)
    return result


def test_every_runbook_link_of_an_alarm_resolves():
    links = set(re.findall(r"README\.md#([a-z0-9-]+)", (INFRA / "monitoring.tf").read_text()))
    assert links == {"pod-cpu", "pod-memory", "pod-restarts", "node-not-ready"}
    missing = links - anchors(README)
    assert not missing, f"README.md has no runbook section for {missing}"


def test_every_output_is_documented():
    outputs = re.findall(r'^output "(\w+)"', (INFRA / "outputs.tf").read_text(), re.M)
    assert outputs
    for name in outputs:
        assert f"`{name}`" in README, f"output {name} is not documented in README.md"


def test_deploy_sequence_and_cost_table():
    for step in ["terraform apply -var-file=dev.tfvars", "helm_cluster_autoscaler_command", "helm_bird_chart_command", "terraform destroy"]:
        assert step in README
    assert re.search(r"^\| item \| dev \| prod \|$", README, re.M)
    assert "**total, about**" in README
