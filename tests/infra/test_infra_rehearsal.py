"""`terraform apply` and `destroy` of infrastructure/ against moto, the AWS emulator: dev, prod and
prod's second region side by side in one emulator, the wiring read back through the AWS API, a
changed frontend_node_port applied, and nothing left after destroy. `make rehearse` runs this file
alone. What moto cannot do is counted out in one place, moto_override.tf.

The tests run in file order and share one rehearsal: the last one destroys everything."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import helm_python as helm
import pytest
import yaml

from . import readme_steps, rehearsal
from .conftest import INFRA, Terraform
from .emulator import Moto
from .readme_steps import option, set_value, words
from .rehearsal import ENVIRONMENTS

CHANGED_NODE_PORT = 30081


@dataclass
class Rehearsal:
    moto: Moto
    tf: Terraform
    outputs: dict[str, dict] = field(default_factory=dict)
    applied: int = 0
    changed: int = 0
    destroyed: int = 0

    def session(self, name: str):
        env = ENVIRONMENTS[name]
        return self.moto.session(env.account_id, env.region)

    def client(self, name: str, service: str):
        return self.moto.client(self.session(name), service)


@pytest.fixture(scope="module")
def applied(tmp_path_factory):
    moto = Moto()
    try:
        tf = rehearsal.prepare(tmp_path_factory.mktemp("rehearsal"), moto)
        run = Rehearsal(moto, tf)
        for name, out in rehearsal.run_side_by_side(tf, "apply", {name: [] for name in ENVIRONMENTS}).items():
            counts = rehearsal.resource_counts(out)
            state = [a for a in tf.ok(".", "state", "list", env=rehearsal.workspace(name)).split() if not a.startswith("data.")]
            assert counts["added"] == len(state) > 0, f"{name}: {counts} against {len(state)} in the state"
            run.applied += counts["added"]
            run.outputs[name] = rehearsal.outputs(tf, name)
        yield run
    finally:
        moto.stop()


def dependencies(dot: str) -> dict[str, set[str]]:
    """Resource -> the resources it depends on, from `terraform graph`."""
    edges: dict[str, set[str]] = {}
    for source, target in re.findall(r'"([^"]+)"\s*->\s*"([^"]+)"', dot):
        edges.setdefault(source, set()).add(target)
    return edges


def test_the_nlb_is_created_after_the_internet_gateway(applied):
    """AWS refuses an internet-facing NLB in a VPC that has no internet gateway yet; moto does not."""
    edges = dependencies(applied.tf.ok(".", "graph", env=rehearsal.workspace("dev")))
    seen, pending = set(), ["aws_lb.frontend"]
    while pending:
        for target in edges.get(pending.pop(), set()) - seen:
            seen.add(target)
            pending.append(target)
    assert "aws_internet_gateway.main" in seen, sorted(seen)


def frontend_load_balancer(run: Rehearsal, name: str) -> dict:
    elbv2 = run.client(name, "elbv2")
    (lb,) = [lb for lb in elbv2.describe_load_balancers()["LoadBalancers"] if lb["DNSName"] == run.outputs[name]["nlb_dns_name"]]
    return lb


def printed_chart_command(run: Rehearsal, name: str) -> list[str]:
    return words(run.outputs[name]["helm_bird_chart_command"])


def assert_nlb_sends_to_the_charts_node_port(run: Rehearsal, name: str) -> int:
    """NLB, listener and target group agree with the nodePort the printed helm command sets."""
    node_port = int(set_value(printed_chart_command(run, name), "services.frontend.service.nodePort"))
    elbv2 = run.client(name, "elbv2")
    lb = frontend_load_balancer(run, name)
    assert lb["Type"] == "network"
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    assert (listener["Protocol"], listener["Port"]) == ("TCP", 80)
    (action,) = listener["DefaultActions"]
    assert action["Type"] == "forward" and action["TargetGroupArn"] == run.outputs[name]["frontend_target_group_arn"]
    (tg,) = elbv2.describe_target_groups(TargetGroupArns=[action["TargetGroupArn"]])["TargetGroups"]
    assert (tg["Protocol"], tg["Port"], tg["TargetType"]) == ("TCP", node_port, "instance")
    assert (tg["HealthCheckProtocol"], tg["HealthCheckPort"], tg["HealthCheckPath"]) == ("HTTP", "10256", "/healthz")
    attributes = {a["Key"]: a["Value"] for a in elbv2.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])["Attributes"]}
    assert attributes["deregistration_delay.connection_termination.enabled"] == "true"
    assert [t["TargetGroupName"] for t in elbv2.describe_target_groups()["TargetGroups"]] == [tg["TargetGroupName"]]
    return node_port


def assert_security_groups_admit_cloudfront_to_the_node_port(run: Rehearsal, name: str, node_port: int) -> None:
    ec2 = run.client(name, "ec2")
    (nlb_group,) = frontend_load_balancer(run, name)["SecurityGroups"]
    vpc_id = ec2.describe_security_groups(GroupIds=[nlb_group])["SecurityGroups"][0]["VpcId"]
    # The cluster security group's stand-in (moto_override.tf): the VPC's default group.
    (nodes,) = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
    (cloudfront,) = ec2.describe_managed_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": ["com.amazonaws.global.cloudfront.origin-facing"]}])["PrefixLists"]

    def rules(group_id: str) -> set[tuple]:
        found = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroupRules"]
        return {
            ("egress" if r["IsEgress"] else "ingress", r["IpProtocol"], r["FromPort"], r["ToPort"], r.get("ReferencedGroupInfo", {}).get("GroupId") or r.get("PrefixListId") or r.get("CidrIpv4"))
            for r in found
        }

    assert rules(nlb_group) == {
        ("ingress", "tcp", 80, 80, cloudfront["PrefixListId"]),
        ("egress", "tcp", node_port, node_port, nodes["GroupId"]),
        ("egress", "tcp", 10256, 10256, nodes["GroupId"]),
    }
    assert {r for r in rules(nodes["GroupId"]) if r[0] == "ingress"} == {
        ("ingress", "tcp", node_port, node_port, nlb_group),
        ("ingress", "tcp", 10256, 10256, nlb_group),
    }


@pytest.mark.parametrize("name", list(ENVIRONMENTS))
def test_the_nlb_sends_to_the_node_port_of_the_printed_chart_command(applied, name):
    node_port = assert_nlb_sends_to_the_charts_node_port(applied, name)
    assert node_port == 30080
    assert_security_groups_admit_cloudfront_to_the_node_port(applied, name, node_port)


@pytest.mark.parametrize("name", list(ENVIRONMENTS))
def test_cloudfront_sends_every_behaviour_to_the_nlb(applied, name):
    cloudfront = applied.client(name, "cloudfront")
    (item,) = [
        d for d in cloudfront.list_distributions()["DistributionList"]["Items"]
        if d["DomainName"] == applied.outputs[name]["cloudfront_domain_name"]
    ]
    config = cloudfront.get_distribution_config(Id=item["Id"])["DistributionConfig"]
    (origin,) = config["Origins"]["Items"]
    assert origin["DomainName"] == frontend_load_balancer(applied, name)["DNSName"]
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "http-only"
    behaviours = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]["Items"]]
    assert {b["TargetOriginId"] for b in behaviours} == {origin["Id"]}
    assert [b["PathPattern"] for b in config["CacheBehaviors"]["Items"]] == ["/api/*", "/metrics"]
    assert applied.outputs[name]["app_url"] == f"https://{item['DomainName']}"


@pytest.mark.parametrize("name", list(ENVIRONMENTS))
def test_the_alarms_watch_the_namespace_the_chart_is_installed_into(applied, name):
    namespace = option(printed_chart_command(applied, name), "--namespace")
    cluster = applied.outputs[name]["cluster_name"]
    alarms = applied.client(name, "cloudwatch").describe_alarms(AlarmNamePrefix=cluster)["MetricAlarms"]
    # The SLOs' window alarms notify through their composite alarms (test below).
    cause_alarms = [a for a in alarms if not a["AlarmName"].startswith(f"{cluster}-slo-")]
    assert len(cause_alarms) == 10
    pod_alarms = [a for a in cause_alarms if a["MetricName"].startswith("pod_")]
    assert len(pod_alarms) == 9
    for alarm in pod_alarms:
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert dimensions["Namespace"] == namespace, alarm["AlarmName"]
        assert dimensions["ClusterName"] == cluster
    assert {a["AlarmActions"][0] for a in cause_alarms} == {applied.outputs[name]["alerts_topic_arn"]}


# The SRE workbook's burns over the 30-day window of the tfvars (README: Service level
# objectives): window => (burn rate, seconds), and each SLO's default error budget.
SLO_WINDOWS = {"1h": (14.4, 3600), "5m": (14.4, 300), "6h": (6, 21600), "30m": (6, 1800)}
SLO_BUDGETS = {"availability": 0.005, "latency": 0.01, "photo-quality": 0.01}


@pytest.mark.parametrize("name", list(ENVIRONMENTS))
def test_the_slo_alarms_read_what_the_log_metric_filters_publish(applied, name):
    """Each burn-rate window alarm divides metrics that the application log group's filters
    publish, summed over its own window, against the threshold its burn rate and budget give."""
    cluster = applied.outputs[name]["cluster_name"]
    logs = applied.client(name, "logs")
    published = {
        (t["metricNamespace"], t["metricName"])
        for f in logs.describe_metric_filters(logGroupName=f"/aws/containerinsights/{cluster}/application")["metricFilters"]
        for t in f["metricTransformations"]
    }
    alarms = applied.client(name, "cloudwatch").describe_alarms(AlarmNamePrefix=f"{cluster}-slo-")["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in alarms) == sorted(
        f"{cluster}-slo-{slo}-{speed}-{window}"
        for slo in SLO_BUDGETS
        for speed, windows in (("fast", ("1h", "5m")), ("slow", ("6h", "30m")))
        for window in windows
    )
    for alarm in alarms:
        slo, window = re.fullmatch(rf"{cluster}-slo-(.+)-(?:fast|slow)-(\w+)", alarm["AlarmName"]).groups()
        rate, seconds = SLO_WINDOWS[window]
        assert alarm["Threshold"] == pytest.approx(rate * SLO_BUDGETS[slo]), alarm["AlarmName"]
        stats = [q["MetricStat"] for q in alarm["Metrics"] if "MetricStat" in q]
        assert {(s["Metric"]["Namespace"], s["Metric"]["MetricName"]) for s in stats} <= published, alarm["AlarmName"]
        assert {(s["Period"], s["Stat"]) for s in stats} == {(seconds, "Sum")}, alarm["AlarmName"]
        (ratio,) = [q for q in alarm["Metrics"] if q.get("ReturnData")]
        assert ratio["Expression"].endswith(" / total"), alarm["AlarmName"]
        assert not alarm.get("AlarmActions"), alarm["AlarmName"]


def test_prod_and_its_second_region_live_side_by_side_in_one_account(applied):
    """Names global to an account (IAM roles, dashboards, buckets) carry the region or differ."""
    iam = applied.client("prod", "iam")
    roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    for region in ("us-east-1", "us-west-2"):
        assert f"bird-api-cluster-{region}-cluster-autoscaler" in roles
    assert applied.outputs["prod"]["cluster_autoscaler_role_arn"] != applied.outputs["prod-us-west-2"]["cluster_autoscaler_role_arn"]
    assert applied.outputs["prod"]["access_logs_bucket"] != applied.outputs["prod-us-west-2"]["access_logs_bucket"]


def private_subnets(run: Rehearsal, name: str) -> list[dict]:
    """The stack's private subnets, in zone order, as the EC2 API lists them."""
    ec2 = run.client(name, "ec2")
    subnets = ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": ["*-private-*"]}])["Subnets"]
    return sorted(subnets, key=lambda subnet: subnet["AvailabilityZone"])


def test_the_store_is_private_encrypted_and_handed_to_the_chart(applied, tmp_path):
    """prod's store as the AWS API shows it (the replication group and its subnet group are
    counted out, moto_override.tf), its URL in Secrets Manager as deploy step 7 reads it, and the
    printed chart command, rendered, sending bird-image there through the Secret that step 7
    makes; dev keeps the chart's own Valkey."""
    outputs = applied.outputs["prod"]
    kms = applied.client("prod", "kms")
    (alias,) = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/bird-api-cluster-store"]
    assert kms.get_key_rotation_status(KeyId=alias["TargetKeyId"])["KeyRotationEnabled"]
    subnets = private_subnets(applied, "prod")

    # Reachable from the nodes only, on the store's port; nothing out.
    ec2 = applied.client("prod", "ec2")
    (store_group,) = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["bird-api-cluster-store"]}])["SecurityGroups"]
    (nodes,) = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [store_group["VpcId"]]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [store_group["GroupId"]]}])["SecurityGroupRules"]
    assert [(r["IsEgress"], r["IpProtocol"], r["FromPort"], r["ToPort"], r.get("ReferencedGroupInfo", {}).get("GroupId")) for r in rules] == [
        (False, "tcp", 6379, 6379, nodes["GroupId"])
    ]

    # Deploy step 7: `aws secretsmanager get-secret-value ... --output text | tr -d '\n'`.
    secrets = applied.client("prod", "secretsmanager")
    secret = secrets.get_secret_value(SecretId=outputs["store_secret_arn"])
    assert kms.describe_key(KeyId=secrets.describe_secret(SecretId=outputs["store_secret_arn"])["KmsKeyId"])["KeyMetadata"]["KeyId"] == alias["TargetKeyId"]
    url = urlsplit(secret["SecretString"].rstrip("\n"))
    assert (url.scheme, url.username, url.hostname, url.port) == ("rediss", "", "master.bird-api-cluster-store.rehearsal.cache.amazonaws.com", 6379)
    assert re.fullmatch(r"[A-Za-z0-9]{64}", url.password)
    deploy = readme_steps.commands(readme_steps.section(readme_steps.README.read_text(), "## Deploy"))
    (fetch,) = [c for c in deploy if "aws secretsmanager get-secret-value" in c]
    assert '--secret-id "$(terraform output -raw store_secret_arn)"' in fetch and "--query SecretString --output text" in fetch
    (create,) = [c for c in deploy if "kubectl create secret" in c and "CACHE_URL" in c]
    create = words(create.split("|")[-1])
    secret_name = create[create.index("generic") + 1]

    command = printed_chart_command(applied, "prod")
    assert set_value(command, "store.external.existingSecret") == secret_name
    assert option(create, "-n") == option(command, "--namespace")
    docs = rendered_chart_command(command, tmp_path)
    assert not [d for d in docs if d["metadata"]["name"].startswith("bird-valkey")]
    (image_api,) = [d for d in docs if (d["kind"], d["metadata"]["name"]) == ("Deployment", "bird-image-api")]
    (container,) = image_api["spec"]["template"]["spec"]["containers"]
    (cache_url,) = [e for e in container["env"] if e["name"] == "CACHE_URL"]
    (key,) = [w.removeprefix("--from-file=").split("=")[0] for w in create if w.startswith("--from-file=")]
    assert cache_url["valueFrom"]["secretKeyRef"] == {"name": secret_name, "key": key}
    (policy,) = [d for d in docs if (d["kind"], d["metadata"]["name"]) == ("NetworkPolicy", "bird-image-api")]
    (to_store,) = [r for r in policy["spec"]["egress"] if r["ports"] == [{"port": url.port, "protocol": "TCP"}]]
    assert [peer["ipBlock"]["cidr"] for peer in to_store["to"]] == [s["CidrBlock"] for s in subnets]

    # dev: no store of its own, the chart's Valkey.
    assert applied.outputs["dev"].get("store_secret_arn") is None  # null outputs are left out
    assert applied.client("dev", "secretsmanager").list_secrets()["SecretList"] == []
    assert "store.type" not in applied.outputs["dev"]["helm_bird_chart_command"]


def test_a_second_plan_keeps_the_store_token(applied, tmp_path):
    """Secrets Manager's generator answers a new password at every plan; terraform_data keeps
    the first, so the token, and the URL made of it, never change by themselves."""
    plan = tmp_path / "prod.tfplan"
    applied.tf.ok(".", "plan", "-no-color", f"-out={plan}", *rehearsal.var_args("prod"), env=rehearsal.workspace("prod"), timeout=600)
    changes = json.loads(applied.tf.ok(".", "show", "-json", str(plan), env=rehearsal.workspace("prod")))["resource_changes"]
    actions = {c["address"]: c["change"]["actions"] for c in changes}
    for address in ("terraform_data.store_auth_token[0]", "aws_secretsmanager_secret_version.store_url[0]"):
        assert actions[address] == ["no-op"], (address, actions[address])


def test_a_new_frontend_node_port_applies(applied):
    """The target group's name carries the port: it is replaced while the listener uses it."""
    out = rehearsal.run_side_by_side(applied.tf, "apply", {"dev": [f"-var=frontend_node_port={CHANGED_NODE_PORT}"]})["dev"]
    counts = rehearsal.resource_counts(out)
    assert counts["added"] == counts["destroyed"] == 1, counts  # the target group, nothing else replaced
    applied.changed += counts["added"] + counts["changed"]
    applied.outputs["dev"] = rehearsal.outputs(applied.tf, "dev")
    assert f"nodePort={CHANGED_NODE_PORT}" in applied.outputs["dev"]["helm_bird_chart_command"]
    assert assert_nlb_sends_to_the_charts_node_port(applied, "dev") == CHANGED_NODE_PORT
    assert_security_groups_admit_cloudfront_to_the_node_port(applied, "dev", CHANGED_NODE_PORT)


def rendered_chart_command(argv: list[str], tmp_path) -> list[dict]:
    """The objects a printed `helm upgrade --install` command installs, rendered by real Helm."""
    version = option(argv, "--version") if "--version" in argv else None
    archive = readme_steps.chart_archive(argv[4], version, tmp_path, helm.package)
    values = readme_steps.helm_values(argv, helm.parse_set_string, helm.parse_set_string_values)
    with helm.Chart.load_archive(archive.read_bytes()) as chart:
        files = chart.render(values, name=argv[3], namespace=option(argv, "--namespace"), is_install=True)
    return [d for path, body in sorted(files.items()) if not path.endswith("NOTES.txt") for d in yaml.safe_load_all(body) if d]


def test_tracing_switches_on_in_the_printed_command(applied, tmp_path):
    """tracing_enabled changes the printed command only; what it installs sends every service's
    spans to the add-on's agent, whose IAM role may write to X-Ray."""
    extra = [f"-var=frontend_node_port={CHANGED_NODE_PORT}", "-var=tracing_enabled=true"]
    out = rehearsal.run_side_by_side(applied.tf, "apply", {"dev": extra})["dev"]
    counts = rehearsal.resource_counts(out)
    # Nothing is created or replaced (test_infra_tracing: the variables reach outputs.tf only);
    # moto's incomplete reads can still make an apply update a resource in place.
    assert counts["added"] == counts["destroyed"] == 0, counts
    applied.changed += counts["changed"]
    print("updated in place:", re.findall(r"# (\S+) will be updated in-place", out))
    command = words(rehearsal.outputs(applied.tf, "dev")["helm_bird_chart_command"])
    assert set_value(command, "tracing.enabled") == "true"
    # The three services; the store beside them (the chart's Valkey in dev) is not ours to trace.
    deployments = [
        d for d in rendered_chart_command(command, tmp_path) if d["kind"] == "Deployment" and d["metadata"]["name"] in readme_steps.IMAGES
    ]
    assert len(deployments) == 3
    for deployment in deployments:
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://cloudwatch-agent.amazon-cloudwatch:4316"
        assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
        assert "deployment.environment.name=dev" in env["OTEL_RESOURCE_ATTRIBUTES"]

    iam = applied.client("dev", "iam")
    (role,) = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].endswith("-cloudwatch-agent")]
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
    assert attached == {"CloudWatchAgentServerPolicy", "AWSXrayWriteOnlyAccess"}


def cluster_autoscaler_deployment(argv: list[str]) -> str:
    """The cluster-autoscaler chart names its Deployment <release>-aws-cluster-autoscaler unless
    fullnameOverride says otherwise (its templates/_helpers.tpl)."""
    try:
        return set_value(argv, "fullnameOverride")
    except AssertionError:
        return f"{argv[2 + argv.index('--install')]}-aws-cluster-autoscaler"


def test_the_readme_deploy_path_uses_only_names_that_earlier_steps_create(applied, tmp_path):
    """infrastructure/README.md from the top: the Terraform steps are the ones this rehearsal ran,
    the printed chart command renders through real Helm exactly as printed, and every name a
    later command or the runbook uses is one an earlier step creates."""
    text = readme_steps.README.read_text()
    deploy = readme_steps.commands(readme_steps.section(text, "## Deploy"))
    outputs = applied.outputs["dev"]
    bootstrap_outputs = set(re.findall(r'^output "(\w+)"', (INFRA / "bootstrap" / "outputs.tf").read_text(), re.M))
    for name in re.findall(r"terraform output -raw (\w+)", "\n".join(deploy)):
        # The store's outputs are prod's (test_the_store_is_private_encrypted_and_handed_to_the_chart).
        given = outputs.get(name) or applied.outputs["prod"].get(name)
        assert name in bootstrap_outputs or given, f"README uses output {name}, which the apply does not give"
    for path in re.findall(r"-var-file=(\S+)", "\n".join(deploy)) + re.findall(r"^cp (\S+) ", "\n".join(deploy), re.M):
        assert (INFRA / path).is_file(), f"README uses {path}, which does not exist"

    # The app: exactly the printed command, nothing appended.
    chart_command = outputs["helm_bird_chart_command"]
    assert 'eval "$(terraform output -raw helm_bird_chart_command)"' in deploy
    argv = words(chart_command)
    assert argv[:3] == ["helm", "upgrade", "--install"]
    namespace = option(argv, "--namespace")
    docs = rendered_chart_command(argv, tmp_path)
    rendered = {(d["kind"], d["metadata"]["name"]) for d in docs}
    deployments = {name for kind, name in rendered if kind == "Deployment"}
    # dev: the three services and the chart's own Valkey, their store.
    assert deployments == {"bird-api", "bird-image-api", "bird-frontend", "bird-valkey"}
    (frontend_service,) = [d for d in docs if (d["kind"], d["metadata"]["name"]) == ("Service", "bird-frontend-service")]
    assert frontend_service["spec"]["type"] == "NodePort"
    assert [p["nodePort"] for p in frontend_service["spec"]["ports"]] == [int(set_value(argv, "services.frontend.service.nodePort"))]
    for d in docs:
        if d["kind"] == "Deployment":
            pod = d["spec"]["template"]["spec"]
            assert ("ServiceAccount", pod.get("serviceAccountName", "default")) in rendered or pod.get("serviceAccountName", "default") == "default"
            for container in pod["containers"]:
                # The release step 2 names, from the chart published with it: no image settings.
                expected = f"docker.io/bird-owner/{d['metadata']['name']}:1.4.2@{readme_steps.PUBLISHED_DIGEST}"
                assert container["image"] == expected or d["metadata"]["name"] not in readme_steps.IMAGES

    # Step 7: the Secret the chart reads, in the namespace it installs into, under the key it reads.
    assert f"kubectl create namespace {namespace}" in deploy
    (secret_step,) = [c for c in deploy if "kubectl create secret" in c and "UNSPLASH_ACCESS_KEY" in c]
    secret_argv = words(secret_step.split("|")[-1].split(";")[0])
    secret_name = secret_argv[secret_argv.index("generic") + 1]
    (key,) = [w.split("=")[1] for w in secret_argv if w.startswith("--from-file=")]
    assert option(secret_argv, "-n", "--namespace") == namespace
    (image_api,) = [d for d in docs if (d["kind"], d["metadata"]["name"]) == ("Deployment", "bird-image-api")]
    (key_env,) = [e for c in image_api["spec"]["template"]["spec"]["containers"] for e in c.get("env", []) if e["name"] == "UNSPLASH_ACCESS_KEY"]
    assert (key_env["valueFrom"]["secretKeyRef"]["name"], key_env["valueFrom"]["secretKeyRef"]["key"]) == (secret_name, key)
    assert key_env["valueFrom"]["secretKeyRef"].get("optional") is True, "without step 7 bird-image-api must still start (keyless)"

    # Step 6: the autoscaler's service account is the one its IAM role trusts.
    autoscaler = words(outputs["helm_cluster_autoscaler_command"])
    assert option(autoscaler, "--namespace") == "kube-system"
    service_account = set_value(autoscaler, "rbac.serviceAccount.name")
    assert set_value(autoscaler, r"rbac.serviceAccount.annotations.eks\.amazonaws\.com/role-arn") == outputs["cluster_autoscaler_role_arn"]
    role = applied.client("dev", "iam").get_role(RoleName=outputs["cluster_autoscaler_role_arn"].split("/")[-1])["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    (subject,) = [v for k, v in trust["Statement"][0]["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert subject == f"system:serviceaccount:kube-system:{service_account}"

    # Destroy, runbook and drills: releases, namespaces and Deployments that the steps above create.
    installed = {(argv[3], namespace), (autoscaler[3], "kube-system")}
    for command in re.findall(r"helm (?:uninstall|rollback) ([\w-]+) -n ([\w-]+)", text):
        assert command in installed, f"README acts on release {command}, which no step installs"
    known = deployments | {cluster_autoscaler_deployment(autoscaler)}
    for name in re.findall(r"deployment/([\w-]+)", text):
        assert name in known, f"README names deployment/{name}; the steps create {sorted(known)}"
    for name in re.findall(r"(?<![\w-])-n ([\w-]+)", text):
        assert name in {namespace, "kube-system", "amazon-cloudwatch"}, f"README uses namespace {name}"
    hpas = {name for kind, name in rendered if kind == "HorizontalPodAutoscaler"}
    assert hpas == {f"{d}-hpa" for d in deployments if d in readme_steps.IMAGES}


def test_destroy_leaves_nothing(applied):
    # README, Destroy: prod's NLB has deletion protection, turned off by hand first.
    for name in ("prod", "prod-us-west-2"):
        applied.client(name, "elbv2").modify_load_balancer_attributes(
            LoadBalancerArn=frontend_load_balancer(applied, name)["LoadBalancerArn"],
            Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}],
        )
    extra = {name: [f"-var=frontend_node_port={CHANGED_NODE_PORT}"] if name == "dev" else [] for name in ENVIRONMENTS}
    for name, out in rehearsal.run_side_by_side(applied.tf, "destroy", extra).items():
        applied.destroyed += rehearsal.resource_counts(out)["destroyed"]
        assert applied.tf.ok(".", "state", "list", env=rehearsal.workspace(name)).strip() == ""

    left = []
    for account in sorted({env.account_id for env in ENVIRONMENTS.values()}):
        regions = sorted({env.region for env in ENVIRONMENTS.values() if env.account_id == account})
        left += rehearsal.leftovers(applied.moto, account, regions)
    assert applied.destroyed == applied.applied
    assert left == []

    summary = f"applied {applied.applied}, changed {applied.changed}, destroyed {applied.destroyed}, left {len(left)}"
    print(summary)
    if path := os.environ.get("REHEARSAL_SUMMARY"):
        with open(path, "w") as f:
            f.write(summary + "\n")
