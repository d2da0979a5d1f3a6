"""The deploy workflow (.github/workflows/deploy.yml) against what Terraform creates for it:
the role it assumes, the image tags CI publishes, the chart's NodePort mode, and its tag logic
run for real in bash."""

import re
import subprocess

import pytest
import yaml

from .conftest import INFRA, REPO

WORKFLOW = REPO / ".github" / "workflows" / "deploy.yml"
CI = REPO / ".github" / "workflows" / "ci.yml"


@pytest.fixture(scope="module")
def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def steps(workflow, job="deploy"):
    return workflow["jobs"][job]["steps"]


def step(workflow, name):
    (found,) = [s for s in steps(workflow) if s.get("name") == name or s.get("id") == name]
    return found


def test_matches_the_github_workflow_schema():
    checker = REPO / ".venv" / "bin" / "check-jsonschema"
    assert checker.exists(), "check-jsonschema is missing: run `make test` (tests/requirements.txt)"
    result = subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_runs_on_release_tags_and_by_hand(workflow):
    triggers = workflow[True]  # PyYAML reads the bare `on` key as a boolean
    assert triggers["push"] == {"tags": ["v*.*.*"]}
    assert "image_tag" in triggers["workflow_dispatch"]["inputs"]


def test_no_stored_aws_keys_and_least_privilege(workflow):
    text = WORKFLOW.read_text()
    assert "AWS_ACCESS_KEY_ID" not in text and "aws-secret-access-key" not in text
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["jobs"]["deploy"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert workflow["jobs"]["notify-failure"]["permissions"] == {}


def test_assumes_the_role_terraform_creates(workflow):
    (creds,) = [s for s in steps(workflow) if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert re.fullmatch(r"aws-actions/configure-aws-credentials@[0-9a-f]{40}", creds["uses"]), "pinned to a release commit"
    role = creds["with"]["role-to-assume"]
    assert role == "arn:aws:iam::${{ vars.AWS_ACCOUNT_ID }}:role/${{ env.CLUSTER_NAME }}-${{ matrix.region }}-github-deploy"
    # Terraform names it <cluster>-<region>-github-deploy.
    assert 'name                 = "${local.global_name}-github-deploy"' in (INFRA / "github_deploy.tf").read_text()
    assert 'global_name = "${var.cluster_name}-${var.aws_region}"' in (INFRA / "locals.tf").read_text()
    assert creds["with"]["aws-region"] == "${{ matrix.region }}"


def test_helm_upgrade_is_atomic_in_node_port_mode(workflow):
    script = step(workflow, "helm")["run"]
    assert "helm upgrade --install bird ./bird-chart" in script
    for flag in ["--atomic", "--wait", '--set image.tag="$TAG"', "--set services.frontend.service.type=NodePort"]:
        assert flag in script
    assert (REPO / "bird-chart" / "Chart.yaml").exists()
    # No NodePort of its own (test_infra_node_port.py): only an explicit repository variable changes it.
    assert '${NODE_PORT:+--set services.frontend.service.nodePort="$NODE_PORT"}' in script
    assert workflow["jobs"]["deploy"]["env"]["NODE_PORT"] == "${{ vars.FRONTEND_NODE_PORT }}"


def test_waits_for_every_rollout_and_rolls_back_on_failure(workflow):
    script = step(workflow, "Wait for the rollouts")["run"]
    assert "for deployment in bird-api bird-image-api bird-frontend" in script
    assert 'kubectl rollout status "deployment/$deployment"' in script
    rollback = step(workflow, "Roll back")
    assert rollback["if"] == "failure() && steps.helm.outcome == 'success'"
    assert rollback["run"].startswith("helm rollback bird")


def test_deploys_the_tags_ci_publishes():
    ci = CI.read_text()
    assert "type=sha" in ci and "type=semver,pattern={{version}}" in ci


def pick_tag(workflow, tmp_path, **env):
    output = tmp_path / "github_output"
    output.write_text("")
    script = step(workflow, "tag")["run"]
    base = {"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(output), "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567", "INPUT_TAG": ""}
    result = subprocess.run(["bash", "-eo", "pipefail", "-c", script], env={**base, **env}, capture_output=True, text=True, check=False)
    match = re.search(r"^tag=(.*)$", output.read_text(), re.M)
    return result.returncode, match.group(1) if match else None


def test_tag_logic(workflow, tmp_path):
    assert pick_tag(workflow, tmp_path, GITHUB_REF_TYPE="tag", GITHUB_REF_NAME="v1.2.3") == (0, "1.2.3")
    assert pick_tag(workflow, tmp_path, GITHUB_REF_TYPE="branch", GITHUB_REF_NAME="main") == (0, "sha-0123456")
    assert pick_tag(workflow, tmp_path, GITHUB_REF_TYPE="branch", GITHUB_REF_NAME="main", INPUT_TAG="1.2.2") == (0, "1.2.2")
    assert pick_tag(workflow, tmp_path, GITHUB_REF_TYPE="branch", GITHUB_REF_NAME="main", INPUT_TAG="bad tag; rm -rf /")[0] == 1
