"""Rendered manifests of bird-chart and small accessors the tests share."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CHART_DIR = Path(__file__).resolve().parents[2] / "bird-chart"
# The values of the laptop cluster (kind/cluster.py), a value set like the others below.
KIND_VALUES = CHART_DIR.parent / "kind" / "values.yaml"
RELEASE = "birds"
NAMESPACE = "bird-stack"

# What SPEC and CONTRACT name, per values key: Deployment, image, container port, Service port.
SERVICES = {
    "bird": {"name": "bird-api", "port": 4201, "service_port": 4201},
    "birdImage": {"name": "bird-image-api", "port": 4200, "service_port": 4200},
    "frontend": {"name": "bird-frontend", "port": 3000, "service_port": 80},
}
DEPLOYMENTS = [s["name"] for s in SERVICES.values()]

# The fleet's store in the release (store.type valkey, the default): Deployment, Service port and
# the Secret the chart makes, named like the Deployment.
VALKEY = {"name": "bird-valkey", "port": 6379, "secret": "bird-valkey"}

# An external store as infrastructure/ prints it: the Secret made from Secrets Manager, and the
# private subnets ElastiCache lives in.
EXTERNAL_STORE = {
    "type": "external",
    "external": {"existingSecret": "bird-cache", "cidrs": ["10.0.101.0/24", "10.0.102.0/24"]},
}

# An obviously fake key: it may leave the chart only inside a Secret, base64-encoded.
INLINE_KEY = "unsplash-test-key-4f9c2a7e1b"

# The chart has no default image owner (an image nobody publishes would fail only at pull time),
# so every rendering names one; `render` and `with_required` add it under the test's values.
OWNER = "bird-ci"
REQUIRED = {"image": {"owner": OWNER}}

# What tracing.enabled adds to every container's environment (the standard OpenTelemetry variables
# and the pod name they quote).
TRACING_ENV = {
    "POD_NAME",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_RESOURCE_ATTRIBUTES",
}

# Where the PrometheusRule's alerts send readers (metrics.prometheusRule.runbookBaseUrl).
RUNBOOK = "https://github.com/bird-owner/bird-stack/blob/main/infrastructure/README.md"

# The value sets the structural tests run against: the defaults and the documented variants.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    # The alternative to the default NodePort, on a cluster with its own load-balancer controller.
    "load-balancer": {
        "services": {
            "frontend": {
                "service": {
                    "type": "LoadBalancer",
                    "loadBalancerAnnotations": {
                        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
                        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
                    },
                }
            }
        }
    },
    "existing-secret": {"unsplash": {"existingSecret": "bird-unsplash"}},
    "hpa-off": {"defaults": {"autoscaling": {"enabled": False}}},
    # ElastiCache instead of the release's Valkey, and no store at all.
    "external-store": {"store": EXTERNAL_STORE},
    "no-store": {"store": {"type": "none"}},
    "inline-key": {"unsplash": {"accessKey": INLINE_KEY}},
    # Spans to the CloudWatch agent, the receiver's egress opened by the NetworkPolicies.
    "tracing": {"tracing": {"enabled": True, "environment": "dev"}},
    # The laptop cluster: local images, a stand-in Unsplash as a native sidecar, a named scraper.
    "kind": yaml.safe_load(KIND_VALUES.read_text(encoding="utf-8")),
    "all-features": {
        "image": {"pullPolicy": "Always", "tag": "1.2.3"},
        "unsplash": {"accessKey": INLINE_KEY},
        "services": {
            key: {"image": {"digest": "sha256:" + str(i) * 64}}
            for i, key in enumerate(SERVICES, start=1)
        },
        "networkPolicy": {
            "metricsFrom": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                    },
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                }
            ]
        },
        "metrics": {
            "podAnnotations": True,
            "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
            "prometheusRule": {
                "enabled": True,
                "labels": {"release": "prom"},
                "runbookBaseUrl": RUNBOOK,
            },
        },
        "store": {"valkey": {"image": {"digest": "sha256:" + "b" * 64, "pullPolicy": "Always"}}},
        "tests": {"image": {"digest": "sha256:" + "a" * 64}},
        "tracing": {"enabled": True, "samplerArg": 1},
    },
}

# The Prometheus Operator's API, as a cluster with its CRDs announces it to Helm.
SERVICE_MONITOR_API = "monitoring.coreos.com/v1/ServiceMonitor"
PROMETHEUS_RULE_API = "monitoring.coreos.com/v1/PrometheusRule"

# What the cluster of a value set offers beyond Kubernetes itself.
API_VERSIONS: dict[str, list[str]] = {"all-features": [SERVICE_MONITOR_API, PROMETHEUS_RULE_API]}

# Custom resources: no Kubernetes schema covers them, so they are checked on their own.
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}


@dataclass
class Rendered:
    """One rendering of the chart: its files, the parsed objects and the NOTES text."""

    values: dict[str, Any]
    files: dict[str, str]
    docs: list[dict[str, Any]] = field(default_factory=list)
    notes: str = ""

    def __post_init__(self) -> None:
        for path, text in sorted(self.files.items()):
            if path.endswith("NOTES.txt"):
                self.notes = text
            else:
                self.docs.extend(doc for doc in yaml.safe_load_all(text) if doc)

    @property
    def manifest_text(self) -> str:
        """Everything Helm would send to the cluster, as one YAML stream."""
        return "\n---\n".join(
            text for path, text in sorted(self.files.items()) if not path.endswith("NOTES.txt")
        )

    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        """Objects of one kind, by name."""
        return {d["metadata"]["name"]: d for d in self.docs if d["kind"] == kind}

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = self.of_kind(kind)
        assert name in found, f"no {kind} {name}; rendered: {sorted(found)}"
        return found[name]

    def container(self, deployment: str) -> dict[str, Any]:
        containers = self.get("Deployment", deployment)["spec"]["template"]["spec"]["containers"]
        assert len(containers) == 1, f"{deployment} should run exactly one container"
        return containers[0]

    def env(self, deployment: str) -> dict[str, Any]:
        """Env of a Deployment's container: plain values as strings, the rest as valueFrom."""
        return {
            e["name"]: e["value"] if "value" in e else e["valueFrom"]
            for e in self.container(deployment).get("env", [])
        }


def without_tracing(env: dict[str, Any]) -> dict[str, Any]:
    """A container's env (Rendered.env) without what tracing adds."""
    return {name: value for name, value in env.items() if name not in TRACING_ENV}


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge, `override` winning; lists are replaced, as Helm merges values."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def with_required(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """`values` plus what the chart cannot render without (an explicit value wins)."""
    return merged(REQUIRED, values or {})


def chart_values() -> dict[str, Any]:
    with open(CHART_DIR / "values.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def chart_metadata() -> dict[str, Any]:
    with open(CHART_DIR / "Chart.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)
