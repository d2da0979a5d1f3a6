"""NetworkPolicies, checked by evaluating them (policies.py): who may talk to whom, on which port."""

from __future__ import annotations

import pytest

from .manifests import NAMESPACE, SERVICES, VALUE_SETS
from .policies import Endpoint, cluster

INTERNAL = [s["name"] for k, s in SERVICES.items() if k != "frontend"]


# (source, destination, port, protocol, allowed with the default values)
MATRIX = [
    ("internet_client", "frontend", 3000, "TCP", True),
    ("stranger", "frontend", 3000, "TCP", True),
    ("frontend", "bird", 4201, "TCP", True),
    ("test", "bird", 4201, "TCP", True),
    ("bird", "birdImage", 4200, "TCP", True),
    ("birdImage", "unsplash", 443, "TCP", True),
    ("frontend", "dns", 53, "UDP", True),
    ("bird", "dns", 53, "TCP", True),
    ("birdImage", "dns", 53, "UDP", True),
    ("test", "dns", 53, "UDP", True),
    ("internet_client", "bird", 4201, "TCP", False),
    ("internet_client", "birdImage", 4200, "TCP", False),
    ("stranger", "bird", 4201, "TCP", False),
    ("stranger", "birdImage", 4200, "TCP", False),
    ("frontend", "birdImage", 4200, "TCP", False),
    ("birdImage", "bird", 4201, "TCP", False),
    ("bird", "frontend", 3000, "TCP", False),
    ("test", "birdImage", 4200, "TCP", False),
    ("frontend", "test", 8080, "TCP", False),
    ("prometheus", "bird", 4201, "TCP", False),
    ("prometheus", "birdImage", 4200, "TCP", False),
    ("birdImage", "unsplash", 80, "TCP", False),
    ("birdImage", "vpc_host", 443, "TCP", False),
    ("birdImage", "instance_metadata", 80, "TCP", False),
    ("bird", "unsplash", 443, "TCP", False),
    ("frontend", "unsplash", 443, "TCP", False),
    ("frontend", "vpc_host", 5432, "TCP", False),
]


@pytest.mark.parametrize(("src", "dst", "port", "protocol", "allowed"), MATRIX)
def test_traffic_matrix(default, src, dst, port, protocol, allowed):
    network, pods = cluster(default)
    assert network.can_connect(pods[src], pods[dst], port, protocol) is allowed


def test_metrics_scrapers_are_admitted_by_value(render_set):
    network, pods = cluster(render_set("all-features"))
    for key, expected in SERVICES.items():
        assert network.can_connect(pods["prometheus"], pods[key], expected["port"])
    # The scraper rule opens the metrics port only to the selected peers.
    assert not network.can_connect(pods["stranger"], pods["bird"], 4201)


def test_each_service_and_the_test_pod_has_a_policy_selecting_exactly_it(default):
    policies = default.of_kind("NetworkPolicy")
    assert set(policies) == {s["name"] for s in SERVICES.values()} | {"bird-api-test"}
    for expected in SERVICES.values():
        deployment = default.get("Deployment", expected["name"])
        assert (
            policies[expected["name"]]["spec"]["podSelector"]["matchLabels"]
            == deployment["spec"]["selector"]["matchLabels"]
        )
        assert policies[expected["name"]]["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_internal_services_admit_no_one_without_a_from_clause(default):
    """A rule without `from` admits every source: only the public frontend may have one."""
    policies = default.of_kind("NetworkPolicy")
    for name in INTERNAL + ["bird-api-test"]:
        for rule in policies[name]["spec"]["ingress"]:
            assert rule.get("from"), f"{name} has an ingress rule open to everyone"
    for name, policy in policies.items():
        for rule in policy["spec"]["egress"]:
            assert rule.get("to"), f"{name} has an egress rule open to everyone"


def test_egress_can_be_left_open(render):
    rendered = render({"networkPolicy": {"restrictEgress": False}})
    network, pods = cluster(rendered)
    for policy in rendered.of_kind("NetworkPolicy").values():
        if policy["metadata"]["name"] != "bird-api-test":
            assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert network.can_connect(pods["bird"], pods["unsplash"], 443)
    assert not network.can_connect(pods["stranger"], pods["bird"], 4201)


def test_policies_can_be_turned_off(render):
    assert not render({"networkPolicy": {"enabled": False}}).of_kind("NetworkPolicy")


def test_a_renamed_upstream_keeps_the_policies_consistent(render):
    rendered = render({"services": {"birdImage": {"name": "photos", "port": 8200}}})
    renamed = SERVICES | {"birdImage": {"name": "photos", "port": 8200, "service_port": 8200}}
    network, pods = cluster(rendered, renamed)
    assert network.can_connect(pods["bird"], pods["birdImage"], 8200)
    assert not network.can_connect(pods["frontend"], pods["birdImage"], 8200)


def test_without_the_test_hook_bird_admits_only_the_frontend(render):
    rendered = render({"tests": {"enabled": False}})
    assert "bird-api-test" not in rendered.of_kind("NetworkPolicy")
    (rule,) = rendered.get("NetworkPolicy", "bird-api")["spec"]["ingress"]
    frontend = rendered.get("Deployment", "bird-frontend")["spec"]["selector"]["matchLabels"]
    assert rule["from"] == [{"podSelector": {"matchLabels": frontend}}]


def test_every_rule_names_its_port_by_number(value_set):
    name, rendered = value_set
    ports = [
        (policy["metadata"]["name"], port["port"])
        for policy in rendered.of_kind("NetworkPolicy").values()
        for direction in ("ingress", "egress")
        for rule in policy["spec"].get(direction) or []
        for port in rule.get("ports", [])
    ]
    assert ports, name
    assert [p for p in ports if not isinstance(p[1], int)] == [], name


def _scrape_targets(rendered) -> set[tuple[str, int]]:
    """(service key, pod port) of every scrape the rendering sets up: prometheus.io annotations,
    and ServiceMonitor endpoints (a Service port name, resolved to the container port behind it)."""
    targets = set()
    for key, expected in SERVICES.items():
        template = rendered.get("Deployment", expected["name"])["spec"]["template"]
        annotations = template["metadata"].get("annotations") or {}
        if annotations.get("prometheus.io/scrape") == "true":
            targets.add((key, int(annotations["prometheus.io/port"])))
    for monitor in rendered.of_kind("ServiceMonitor").values():
        key, expected = next(
            (k, s)
            for k, s in SERVICES.items()
            if rendered.get("Service", f"{s['name']}-service")["spec"]["selector"]
            == monitor["spec"]["selector"]["matchLabels"]
        )
        service_ports = rendered.get("Service", f"{expected['name']}-service")["spec"]["ports"]
        container_ports = rendered.container(expected["name"])["ports"]
        for endpoint in monitor["spec"]["endpoints"]:
            target = next(p["targetPort"] for p in service_ports if p["name"] == endpoint["port"])
            targets.add((key, next(p["containerPort"] for p in container_ports if p["name"] == target)))
    return targets


def _named_scrapers(values) -> list[Endpoint]:
    """A pod for each peer of networkPolicy.metricsFrom, carrying exactly the labels it selects."""
    scrapers = []
    for i, peer in enumerate(values.get("networkPolicy", {}).get("metricsFrom", [])):
        assert set(peer) <= {"namespaceSelector", "podSelector"}, f"evaluator cannot model {peer}"
        namespace_labels = peer.get("namespaceSelector", {}).get("matchLabels", {})
        assert set(namespace_labels) <= {"kubernetes.io/metadata.name"}, namespace_labels
        namespace = namespace_labels.get("kubernetes.io/metadata.name", NAMESPACE)
        labels = peer.get("podSelector", {}).get("matchLabels", {})
        scrapers.append(Endpoint(f"10.0.102.{100 + i}", namespace, labels))
    return scrapers


def test_every_scrape_that_is_set_up_is_admitted(value_set):
    """Scrape annotations or ServiceMonitors are rendered only with a scraper the policies let in."""
    name, rendered = value_set
    network, pods = cluster(rendered)
    targets = _scrape_targets(rendered)
    scrapers = _named_scrapers(rendered.values)
    assert not targets or scrapers, f"{name}: scrapes of {sorted(targets)} but no scraper is named"
    refused = [
        (scraper.namespace, key, port)
        for scraper in scrapers
        for key, port in sorted(targets)
        if not network.can_connect(scraper, pods[key], port)
    ]
    assert refused == [], name


def test_the_scraped_value_set_scrapes_every_service_both_ways(render_set):
    """The check above has something to check: annotations and ServiceMonitors, every service."""
    rendered = render_set("all-features")
    assert _scrape_targets(rendered) == {(k, s["port"]) for k, s in SERVICES.items()}
    assert rendered.of_kind("ServiceMonitor") and _named_scrapers(rendered.values)
