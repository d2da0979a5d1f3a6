"""helm lint --strict, the values schema, and the README's values table."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import jsonschema
import pytest

import helm_python as helm

from .manifests import CHART_DIR, VALUE_SETS, chart_values, with_required

# Maps whose keys are the user's (annotations, labels, ...): the schema cannot close them.
FREE_FORM = {
    "annotations",
    "loadBalancerAnnotations",
    "labels",
    "podAnnotations",
    "podLabels",
    "nodeSelector",
    "affinity",
    "matchLabels",
}
# Documented in the README as one row each: Kubernetes objects passed through whole.
DOCUMENTED_WHOLE = FREE_FORM | {"behavior", "namespaceSelector", "podSelector"}

# Helm lint's only remark on this chart: an icon URL is optional and there is no logo.
ACCEPTED_LINT_INFO = {"icon is recommended"}


def _walk(node: Any, path: tuple[str, ...], stop: set[str]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Yield (path, value) of each dict (including empty ones) not under a `stop` key."""
    if isinstance(node, dict) and (not path or path[-1] not in stop):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, path + (key,), stop)


def _leaves(node: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    if isinstance(node, dict) and node and (not path or path[-1] not in DOCUMENTED_WHOLE):
        for key, value in node.items():
            yield from _leaves(value, path + (key,))
    else:
        yield ".".join(path)


def _nest(path: tuple[str, ...], leaf: Any) -> dict[str, Any]:
    for key in reversed(path):
        leaf = {key: leaf}
    return leaf


@pytest.mark.parametrize("kube_version", ["v1.31.0", "v1.33.0"])
@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_strict_lint_is_clean(name, kube_version):
    report = helm.lint(
        CHART_DIR,
        with_required(VALUE_SETS[name]),
        strict=True,
        namespace="bird-stack",
        kube_version=kube_version,
    )
    assert report["errors"] == []
    remarks = [m for m in report["messages"] if m["error"] not in ACCEPTED_LINT_INFO]
    assert remarks == [], remarks


def test_strict_lint_reports_bad_values():
    report = helm.lint(CHART_DIR, with_required({"defaults": {"replicas": -1}}), strict=True)
    assert report["errors"], report


def test_the_schema_is_valid_draft_07_and_values_yaml_conforms():
    """A second implementation (python-jsonschema) agrees with Helm's on the defaults."""
    schema = json.loads((CHART_DIR / "values.schema.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(chart_values())


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_the_value_sets_are_valid(chart, name):
    chart.validate_schema(with_required(VALUE_SETS[name]))


BAD_VALUES = [
    pytest.param({"defaults": {"replicas": -1}}, "minimum", id="negative-replicas"),
    pytest.param({"services": {"bird": {"replicas": 0}}}, "minimum", id="zero-replicas"),
    pytest.param({"defaults": {"replicas": "2"}}, "want integer", id="replicas-as-string"),
    pytest.param({"defaults": {"autoscaling": {"enabled": "yes"}}}, "want boolean", id="bool-as-string"),
    pytest.param({"replicaCount": 3}, "replicaCount", id="unknown-root-key"),
    pytest.param({"services": {"bird": {"replica": 3}}}, "replica", id="misspelt-service-key"),
    pytest.param({"services": {"cache": {"name": "cache"}}}, "cache", id="unknown-service"),
    pytest.param(
        {"services": {"frontend": {"service": {"type": "Ingress"}}}}, "one of", id="bad-service-type"
    ),
    pytest.param(
        {"services": {"frontend": {"service": {"nodePort": 80}}}}, "minimum", id="node-port-too-low"
    ),
    pytest.param(
        {"services": {"frontend": {"service": {"nodePort": 40000}}}}, "maximum", id="node-port-too-high"
    ),
    pytest.param(
        {"services": {"bird": {"service": {"type": "LoadBalancer"}}}}, "false schema", id="public-bird"
    ),
    pytest.param({"services": {"bird": {"port": 70000}}}, "maximum", id="port-out-of-range"),
    pytest.param(
        {"defaults": {"autoscaling": {"targetCPUUtilizationPercentage": 150}}}, "maximum", id="cpu-over-100"
    ),
    pytest.param({"defaults": {"env": {"LOG_FORMAT": "xml"}}}, "one of", id="bad-log-format"),
    pytest.param(
        {"services": {"bird": {"env": {"UNSPLASH_API_URL": "https://x"}}}}, "UNSPLASH_API_URL", id="env-of-another-service"
    ),
    pytest.param(
        {"services": {"birdImage": {"env": {"UNSPLASH_API_URL": "ftp://x"}}}}, "pattern", id="non-http-url"
    ),
    pytest.param(
        {"defaults": {"probes": {"liveness": {"periodSeconds": 0}}}}, "minimum", id="zero-probe-period"
    ),
    pytest.param({"image": {"pullPolicy": "Sometimes"}}, "one of", id="bad-pull-policy"),
    pytest.param({"image": {"owner": "Bird Stack"}}, "pattern", id="owner-not-a-registry-namespace"),
    pytest.param({"image": {"owner": "acme/"}}, "pattern", id="owner-with-empty-path-segment"),
    pytest.param({"image": {"tag": -1}}, "image/tag", id="negative-number-tag"),
    pytest.param({"image": {"tag": 1.5}}, "image/tag", id="fractional-tag"),
    # Beyond 2**53 a number loses digits on its way through YAML or JSON: quote such a tag.
    pytest.param({"image": {"tag": 2**53 + 2}}, "image/tag", id="number-tag-too-long-to-be-exact"),
    pytest.param({"image": {"tag": "-rc1"}}, "image/tag", id="tag-starting-with-a-dash"),
    pytest.param(
        {"services": {"bird": {"image": {"digest": "md5:abc"}}}}, "pattern", id="bad-digest"
    ),
    pytest.param({"unsplash": {"existingSecret": "Not_A_Name"}}, "pattern", id="bad-secret-name"),
    pytest.param({"defaults": {"podDisruptionBudget": {"minAvailable": "150%"}}}, "minAvailable", id="bad-pdb"),
    pytest.param(
        {"defaults": {"topologySpread": {"whenUnsatisfiable": "Maybe"}}}, "one of", id="bad-spread"
    ),
    pytest.param({"metrics": {"serviceMonitor": {"interval": "often"}}}, "pattern", id="bad-interval"),
    pytest.param(
        {"defaults": {"extraEgress": [{"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}], "ports": [{"port": "https"}]}]}},
        "extraEgress/0/ports/0/port",
        id="named-port-in-egress",
    ),
    pytest.param({"defaults": {"name": "x"}}, "false schema", id="name-in-defaults"),
    pytest.param(
        {"services": {"birdImage": {"sidecars": [{"name": "fake"}]}}}, "image", id="sidecar-without-image"
    ),
    pytest.param(
        {"services": {"birdImage": {"sidecars": [{"name": "fake", "image": "x:1", "restartPolicy": "Never"}]}}},
        "false schema",
        id="sidecar-restart-policy",
    ),
    pytest.param({"defaults": {"extraVolumes": [{"emptyDir": {}}]}}, "name", id="volume-without-name"),
    pytest.param(
        {"services": {"bird": {"serviceAccount": {"name": "Bird_SA"}}}}, "pattern", id="bad-service-account-name"
    ),
    pytest.param({"store": {"type": "redis"}}, "one of", id="unknown-store-type"),
    pytest.param({"store": {"type": "external"}}, "store/external/existingSecret", id="external-store-without-its-secret"),
    pytest.param(
        {"store": {"type": "external", "external": {"existingSecret": "c", "cidrs": ["10.0.101.0"]}}},
        "pattern",
        id="cidr-without-a-prefix",
    ),
    pytest.param({"store": {"valkey": {"maxmemory": "0"}}}, "pattern", id="unbounded-valkey"),
    pytest.param({"store": {"valkey": {"maxmemory": "32 MB"}}}, "pattern", id="maxmemory-with-a-space"),
    pytest.param({"store": {"valkey": {"maxmemoryPolicy": "lru"}}}, "one of", id="bad-eviction-policy"),
    pytest.param({"store": {"valkey": {"image": {"tag": ""}}}}, "minLength", id="untagged-valkey"),
    pytest.param({"defaults": {"usesStore": True}}, "false schema", id="store-user-in-defaults"),
    pytest.param(
        {"services": {"birdImage": {"env": {"CACHE_URL": "redis://x"}}}}, "CACHE_URL", id="store-url-as-a-plain-value"
    ),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES)
def test_the_schema_refuses_bad_values(chart, values, message):
    with pytest.raises(helm.HelmValuesError, match=re.escape(message)):
        chart.validate_schema(values)
    # Installing runs the same validation.
    with pytest.raises(helm.HelmValuesError):
        chart.render(values, name="birds")


def test_every_object_in_values_refuses_unknown_keys(chart):
    """additionalProperties is closed on every object that is not a user-keyed map."""
    paths = [p for p, _ in _walk(chart_values(), (), FREE_FORM) if not p or p[-1] not in FREE_FORM]
    assert len(paths) > 40
    accepted = []
    for path in paths:
        try:
            chart.validate_schema(_nest(path, {"surelyNotAValue": 1}) if path else {"surelyNotAValue": 1})
        except helm.HelmValuesError:
            continue
        accepted.append(".".join(path))
    assert accepted == []


def test_every_value_is_typed_in_the_schema(chart):
    """Every leaf of values.yaml, given a value of the wrong type, is refused."""
    values = chart_values()
    accepted = []
    for leaf in _leaves(values):
        path = tuple(leaf.split("."))
        current: Any = values
        for key in path:
            current = current[key]
        wrong = {"wrong": "type"} if not isinstance(current, dict) else ["wrong", "type"]
        try:
            chart.validate_schema(_nest(path, wrong))
        except helm.HelmValuesError:
            continue
        accepted.append(leaf)
    assert accepted == []


def test_the_readme_documents_every_value():
    readme = (CHART_DIR / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([^`]+)` \|", readme, flags=re.MULTILINE))
    missing = [leaf for leaf in _leaves(chart_values()) if leaf not in documented]
    assert missing == []


def test_the_packaged_chart_renders_like_the_directory(chart, tmp_path):
    """.helmignore keeps nothing the chart needs out of the archive, and rendering is stable (but
    for the store's password, made anew by each rendering without a cluster: given here)."""
    archive = helm.package(CHART_DIR, destination=tmp_path)
    values = with_required({"store": {"valkey": {"existingSecret": "bird-valkey-password"}}})
    with helm.Chart.load(archive) as packaged:
        assert packaged.render(values, name="birds") == chart.render(values, name="birds")
        assert packaged.schema == chart.schema
    assert chart.render(values, name="birds") == chart.render(values, name="birds")
