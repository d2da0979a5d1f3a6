"""tracing.*: the OpenTelemetry environment of the three services, and the NetworkPolicy egress
to the OTLP receiver (by default the CloudWatch agent of the amazon-cloudwatch-observability
add-on), rendered only when tracing is on."""

from __future__ import annotations

import re

import pytest

import helm_python as helm

from .manifests import DEPLOYMENTS, NAMESPACE, SERVICES, TRACING_ENV, VALUE_SETS
from .policies import Endpoint, cluster

AGENT_ENDPOINT = "http://cloudwatch-agent.amazon-cloudwatch:4316"
TRACED = VALUE_SETS["tracing"]

# The add-on's agent as its operator labels it (amazon-cloudwatch-agent-operator,
# internal/manifests/manifestutils/labels.go), on the node's address: the DaemonSet runs with
# hostNetwork, and the VPC CNI's policy controller resolves such a pod to that address.
AGENT = Endpoint(
    "10.0.101.200",
    "amazon-cloudwatch",
    {
        "app.kubernetes.io/component": "amazon-cloudwatch-agent",
        "app.kubernetes.io/instance": "amazon-cloudwatch.cloudwatch-agent",
        "app.kubernetes.io/managed-by": "amazon-cloudwatch-agent-operator",
        "app.kubernetes.io/part-of": "amazon-cloudwatch-agent",
    },
)
# The add-on's other agent (the cluster scraper Deployment) receives no spans.
SCRAPER = Endpoint(
    "10.0.102.201",
    "amazon-cloudwatch",
    AGENT.labels | {"app.kubernetes.io/instance": "amazon-cloudwatch.cloudwatch-agent-cluster-scraper"},
)


def test_off_by_default_nothing_is_traced(default):
    for deployment in DEPLOYMENTS:
        env = default.env(deployment)
        assert not [name for name in env if name in TRACING_ENV or name.startswith("OTEL_")], deployment
    network, pods = cluster(default)
    for key in SERVICES:
        assert not network.can_connect(pods[key], AGENT, 4316), key
    assert "Traces:" not in default.notes


def test_on_every_service_exports_to_the_agent_under_its_own_name(render):
    rendered = render(TRACED)
    for key, expected in SERVICES.items():
        env = rendered.env(expected["name"])
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == AGENT_ENDPOINT
        # The services' own default names, which their log lines carry as `service` too.
        assert env["OTEL_SERVICE_NAME"] == {"bird": "bird", "birdImage": "bird-image", "frontend": "frontend"}[key]
        assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
        assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
        attributes = dict(pair.split("=", 1) for pair in env["OTEL_RESOURCE_ATTRIBUTES"].split(","))
        assert attributes == {
            "k8s.namespace.name": NAMESPACE,
            "k8s.deployment.name": expected["name"],
            "k8s.pod.name": "$(POD_NAME)",
            "deployment.environment.name": "dev",
        }
    assert f"send their spans to {AGENT_ENDPOINT}" in rendered.notes


def test_the_pod_name_is_defined_before_the_variable_that_quotes_it(render):
    """Kubernetes expands $(POD_NAME) only from variables listed earlier; later, it stays literal."""
    for deployment in DEPLOYMENTS:
        names = [e["name"] for e in render(TRACED).container(deployment)["env"]]
        assert names.index("POD_NAME") < names.index("OTEL_RESOURCE_ATTRIBUTES"), deployment


def test_sampler_settings_pass_through(render):
    always = render({"tracing": {"enabled": True, "sampler": "parentbased_always_on"}})
    for deployment in DEPLOYMENTS:
        env = always.env(deployment)
        assert env["OTEL_TRACES_SAMPLER"] == "parentbased_always_on"
        assert "OTEL_TRACES_SAMPLER_ARG" not in env, "an argument only the ratio samplers read"
        assert "deployment.environment.name" not in env["OTEL_RESOURCE_ATTRIBUTES"]
    every = render({"tracing": {"enabled": True, "samplerArg": 1}})
    assert every.env("bird-frontend")["OTEL_TRACES_SAMPLER_ARG"] == "1"


def test_a_ratio_given_with_set_is_accepted(render):
    """Helm's --set reads integers as numbers and 0.25 as a string: both are ratios."""
    values = helm.parse_set_string("tracing.enabled=true,tracing.samplerArg=0.25")
    assert values["tracing"]["samplerArg"] == "0.25"
    assert render(values).env("bird-api")["OTEL_TRACES_SAMPLER_ARG"] == "0.25"


def test_on_the_policies_admit_the_agent_on_its_port_only(render):
    network, pods = cluster(render(TRACED))
    for key in SERVICES:
        assert network.can_connect(pods[key], AGENT, 4316), key
        assert not network.can_connect(pods[key], AGENT, 4317), key
        assert not network.can_connect(pods[key], SCRAPER, 4316), key
        assert not network.can_connect(pods[key], Endpoint("10.0.55.5", "other", AGENT.labels), 4316), key
    # Nothing else opened up: the internal services still take only their callers.
    assert not network.can_connect(AGENT, pods["bird"], 4201)
    assert not network.can_connect(pods["frontend"], pods["birdImage"], 4200)


def test_the_rule_follows_the_endpoints_port_and_receiver(render):
    collector = Endpoint("10.0.101.210", "observability", {"app.kubernetes.io/name": "otel-collector"})
    values = {
        "tracing": {"enabled": True, "otlpEndpoint": "https://otel-collector.observability.svc"},
        "networkPolicy": {
            "tracesTo": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
                    "podSelector": {"matchLabels": collector.labels},
                }
            ]
        },
    }
    network, pods = cluster(render(values))
    for key in SERVICES:
        assert network.can_connect(pods[key], collector, 443), key
        assert not network.can_connect(pods[key], AGENT, 4316), key
    custom = render({"tracing": {"enabled": True, "otlpEndpoint": "http://[fd00::1]:14318/otlp"}})
    ports = {
        port["port"]
        for rule in custom.get("NetworkPolicy", "bird-api")["spec"]["egress"]
        for port in rule["ports"]
    }
    assert 14318 in ports and 4316 not in ports


def test_a_receiver_the_policies_would_refuse_is_refused_at_render(chart, render):
    values = {"image": {"owner": "o"}, "tracing": {"enabled": True}, "networkPolicy": {"tracesTo": []}}
    with pytest.raises(helm.HelmRenderError, match=re.escape("networkPolicy.tracesTo")):
        chart.render(values, name="birds")
    # With egress open there is nothing to refuse the spans.
    opened = render({"tracing": {"enabled": True}, "networkPolicy": {"tracesTo": [], "restrictEgress": False}})
    assert opened.env("bird-api")["OTEL_EXPORTER_OTLP_ENDPOINT"] == AGENT_ENDPOINT


def test_a_port_out_of_range_is_refused_at_render(chart):
    values = {"image": {"owner": "o"}, "tracing": {"enabled": True, "otlpEndpoint": "http://agent:70000"}}
    with pytest.raises(helm.HelmRenderError, match="not between 1 and 65535"):
        chart.render(values, name="birds")


BAD_TRACING = [
    pytest.param({"otlpEndpoint": "ftp://agent:4316"}, id="not-http"),
    pytest.param({"otlpEndpoint": "cloudwatch-agent.amazon-cloudwatch:4316"}, id="no-scheme"),
    pytest.param({"otlpEndpoint": "http://user:secret@agent:4316"}, id="credentials-in-the-url"),
    pytest.param({"otlpEndpoint": "http://agent:4316/v1/traces?x=1"}, id="query"),
    pytest.param({"otlpEndpoint": "http://agent:4316/"}, id="trailing-slash"),
    pytest.param({"otlpEndpoint": "http://agent:port"}, id="named-port"),
    pytest.param({"otlpEndpoint": "http://agent 4316"}, id="space"),
    pytest.param({"otlpEndpoint": ""}, id="empty"),
    pytest.param({"sampler": "sometimes"}, id="unknown-sampler"),
    pytest.param({"samplerArg": 1.5}, id="ratio-over-one"),
    pytest.param({"samplerArg": "half"}, id="ratio-not-a-number"),
    pytest.param({"samplerArg": "1.5"}, id="ratio-string-over-one"),
    pytest.param({"environment": "dev,k8s.pod.name=forged"}, id="environment-breaking-the-attribute-list"),
    pytest.param({"enable": True}, id="misspelt-key"),
]


@pytest.mark.parametrize("tracing", BAD_TRACING)
def test_the_schema_refuses_bad_tracing_values(chart, tracing):
    with pytest.raises(helm.HelmValuesError, match="tracing"):
        chart.validate_schema({"tracing": tracing})


@pytest.mark.parametrize(
    "endpoint",
    [
        AGENT_ENDPOINT,
        "https://otel-collector.observability.svc.cluster.local:4318",
        "http://10.0.101.7:4318",
        "http://[fd00::1]:4318/otlp",
    ],
)
def test_the_schema_accepts_receiver_urls(chart, endpoint):
    chart.validate_schema({"image": {"owner": "o"}, "tracing": {"enabled": True, "otlpEndpoint": endpoint}})
