"""The apply rehearsal's scratch copy of infrastructure/: Terraform pointed at moto, one workspace
per environment, the resource counts Terraform reports, and what an account still holds after destroy."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .conftest import INFRA, Terraform, copy_infrastructure, terraform_env
from .emulator import Moto

HERE = Path(__file__).resolve().parent
COUNTED_OUT = HERE / "moto_override.tf"


@dataclass(frozen=True)
class Environment:
    """One workspace: dev and prod in accounts of their own (README: separate accounts), the second
    region of prod in prod's account, so that names global to an account must not collide."""

    account_id: str
    region: str
    var_files: tuple[str, ...]


ENVIRONMENTS = {
    "dev": Environment("111111111111", "us-east-1", ("dev.tfvars",)),
    "prod": Environment("222222222222", "us-east-1", ("prod.tfvars",)),
    "prod-us-west-2": Environment("222222222222", "us-west-2", ("prod.tfvars", "prod-us-west-2.tfvars")),
}

# What deploy step 2's `$EDITOR terraform.tfvars` fills in, on top of terraform.tfvars.example.
OPERATOR_VALUES = {"app_image_owner": '"bird-owner"', "app_image_tag": '"1.4.2"'}

# Backend: the partial S3 backend gives way to local state, one file per workspace.
BACKEND_OVERRIDE = """terraform {
  backend "local" {}
}
"""


def provider_override(aliases: list[str]) -> str:
    """Each provider configuration of providers.tf: into its environment's account, giving up on an
    unimplemented call after two tries instead of retrying it for ten minutes."""
    accounts = ", ".join(f'"{name}" = "{env.account_id}"' for name, env in ENVIRONMENTS.items())
    blocks = []
    for alias in [None, *aliases]:
        alias_line = f'  alias       = "{alias}"\n' if alias else ""
        blocks.append(
            f'provider "aws" {{\n{alias_line}  max_retries = 2\n\n  assume_role {{\n'
            f'    role_arn = "arn:aws:iam::${{lookup({{ {accounts} }}, terraform.workspace)}}:role/rehearsal"\n'
            "  }\n}\n"
        )
    return "\n".join(blocks)


def edited_tfvars(example: str) -> str:
    """terraform.tfvars as a user leaves it: the example with the required values filled in."""
    for name, value in OPERATOR_VALUES.items():
        example, count = re.subn(rf"^{name}\s*=.*$", f"{name} = {value}", example, flags=re.M)
        assert count == 1, f"terraform.tfvars.example must set {name} (uncommented) for the user to fill in"
    return example


def prepare(scratch: Path, moto: Moto) -> Terraform:
    root = copy_infrastructure(scratch)
    aliases = re.findall(r'^\s*alias\s*=\s*"(\w+)"', (INFRA / "providers.tf").read_text(), re.M)
    (root / "backend_override.tf").write_text(BACKEND_OVERRIDE)
    (root / "providers_override.tf").write_text(provider_override(aliases))
    (root / COUNTED_OUT.name).write_text(COUNTED_OUT.read_text())
    (root / "terraform.tfvars").write_text(edited_tfvars((root / "terraform.tfvars.example").read_text()))

    env = terraform_env(scratch)
    env["AWS_ENDPOINT_URL"] = moto.endpoint  # every service of every provider configuration
    tf = Terraform(root, env)
    tf.ok(".", "init", "-input=false", "-no-color")
    for name in ENVIRONMENTS:
        tf.ok(".", "workspace", "new", name, "-no-color")
    return tf


def workspace(name: str) -> dict[str, str]:
    return {"TF_WORKSPACE": name}


def var_args(name: str, *extra: str) -> list[str]:
    return [*(f"-var-file={f}" for f in ENVIRONMENTS[name].var_files), *extra]


def run_side_by_side(tf: Terraform, command: str, extra: dict[str, list[str]]) -> dict[str, str]:
    """`terraform <command>` in each named workspace at once; the output of each, all succeeded."""
    running = {
        name: tf.start(".", command, "-auto-approve", "-no-color", *var_args(name, *args), env=workspace(name))
        for name, args in extra.items()
    }
    outputs = {}
    for name, process in running.items():
        out, _ = process.communicate(timeout=900)
        assert process.returncode == 0, f"terraform {command} of {name} failed:\n{out}"
        outputs[name] = out
    return outputs


def resource_counts(output: str) -> dict[str, int]:
    """added / changed / destroyed from Terraform's closing line."""
    if match := re.search(r"Apply complete! Resources: (\d+) added, (\d+) changed, (\d+) destroyed", output):
        return dict(zip(["added", "changed", "destroyed"], map(int, match.groups())))
    match = re.search(r"Destroy complete! Resources: (\d+) destroyed", output)
    assert match, f"no closing line in:\n{output[-2000:]}"
    return {"added": 0, "changed": 0, "destroyed": int(match.group(1))}


def outputs(tf: Terraform, name: str) -> dict[str, object]:
    raw = json.loads(tf.ok(".", "output", "-json", env=workspace(name)))
    return {key: value["value"] for key, value in raw.items()}


def leftovers(moto: Moto, account_id: str, regions: list[str]) -> list[str]:
    """Everything of the stack an account still holds: regional services per region, global ones once."""
    found = []
    for region in regions:
        session = moto.session(account_id, region)
        ec2 = moto.client(session, "ec2")
        elbv2 = moto.client(session, "elbv2")
        kms = moto.client(session, "kms")
        found += [f"{region} EKS cluster {c}" for c in moto.client(session, "eks").list_clusters()["clusters"]]
        found += [f"{region} VPC {v['VpcId']}" for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]]
        found += [f"{region} EIP {a['AllocationId']}" for a in ec2.describe_addresses()["Addresses"]]
        found += [
            f"{region} NAT gateway {n['NatGatewayId']}"
            for n in ec2.describe_nat_gateways()["NatGateways"]
            if n["State"] not in ("deleted", "deleting")
        ]
        found += [f"{region} launch template {t['LaunchTemplateName']}" for t in ec2.describe_launch_templates()["LaunchTemplates"]]
        found += [f"{region} load balancer {lb['LoadBalancerName']}" for lb in elbv2.describe_load_balancers()["LoadBalancers"]]
        found += [f"{region} target group {tg['TargetGroupName']}" for tg in elbv2.describe_target_groups()["TargetGroups"]]
        found += [f"{region} log group {g['logGroupName']}" for g in moto.client(session, "logs").describe_log_groups()["logGroups"]]
        cloudwatch = moto.client(session, "cloudwatch")
        found += [f"{region} alarm {a['AlarmName']}" for a in cloudwatch.describe_alarms()["MetricAlarms"]]
        found += [f"{region} dashboard {d['DashboardName']}" for d in cloudwatch.list_dashboards()["DashboardEntries"]]
        found += [f"{region} SNS topic {t['TopicArn']}" for t in moto.client(session, "sns").list_topics()["Topics"]]
        found += [f"{region} secret {s['Name']}" for s in moto.client(session, "secretsmanager").list_secrets()["SecretList"] if "DeletedDate" not in s]
        found += [f"{region} KMS alias {a['AliasName']}" for a in kms.list_aliases()["Aliases"] if not a["AliasName"].startswith("alias/aws/")]
        found += [
            f"{region} KMS key {k['KeyId']}"
            for k in kms.list_keys()["Keys"]
            if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"
        ]
    session = moto.session(account_id, regions[0])
    iam = moto.client(session, "iam")
    cloudfront = moto.client(session, "cloudfront")
    found += [f"IAM role {r['RoleName']}" for r in iam.list_roles()["Roles"]]
    found += [f"OIDC provider {p['Arn']}" for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    found += [f"S3 bucket {b['Name']}" for b in moto.client(session, "s3").list_buckets()["Buckets"]]
    found += [f"distribution {d['Id']}" for d in cloudfront.list_distributions()["DistributionList"].get("Items", [])]
    found += [f"CloudFront function {f['Name']}" for f in cloudfront.list_functions()["FunctionList"].get("Items", [])]
    return found
