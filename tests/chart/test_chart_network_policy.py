"""NetworkPolicies, checked by evaluating them (policies.py): who may talk to whom, on which port."""

from __future__ import annotations

import pytest

import helm_python as helm

from .manifests import EXTERNAL_STORE, NAMESPACE, SERVICES, VALKEY, VALUE_SETS
from .policies import TEST_PODS, Endpoint, cluster

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
    # The store: bird-image alone reaches it, and it reaches nothing.
    ("birdImage", "valkey", 6379, "TCP", True),
    ("bird", "valkey", 6379, "TCP", False),
    ("frontend", "valkey", 6379, "TCP", False),
    ("stranger", "valkey", 6379, "TCP", False),
    ("prometheus", "valkey", 6379, "TCP", False),
    ("test", "valkey", 6379, "TCP", False),
    ("birdImage", "valkey", 6380, "TCP", False),
    ("valkey", "dns", 53, "UDP", False),
    ("valkey", "birdImage", 4200, "TCP", False),
    ("valkey", "unsplash", 443, "TCP", False),
    # Without an external store, no address inside the VPC.
    ("birdImage", "elasticache", 6379, "TCP", False),
    # The store's helm test reads bird-image's /metrics, and only that.
    ("store_test", "birdImage", 4200, "TCP", True),
    ("store_test", "dns", 53, "UDP", True),
    ("store_test", "bird", 4201, "TCP", False),
    ("store_test", "valkey", 6379, "TCP", False),
    ("store_test", "unsplash", 443, "TCP", False),
    ("birdImage", "store_test", 8080, "TCP", False),
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


def test_each_pod_of_the_release_has_a_policy_selecting_exactly_it(default):
    policies = default.of_kind("NetworkPolicy")
    assert set(policies) == {s["name"] for s in SERVICES.values()} | set(TEST_PODS.values()) | {VALKEY["name"]}
    for expected in [*SERVICES.values(), VALKEY]:
        deployment = default.get("Deployment", expected["name"])
        assert (
            policies[expected["name"]]["spec"]["podSelector"]["matchLabels"]
            == deployment["spec"]["selector"]["matchLabels"]
        )
        assert policies[expected["name"]]["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_internal_services_admit_no_one_without_a_from_clause(default):
    """A rule without `from` admits every source: only the public frontend may have one."""
    policies = default.of_kind("NetworkPolicy")
    for name in INTERNAL + list(TEST_PODS.values()) + [VALKEY["name"]]:
        for rule in policies[name]["spec"]["ingress"]:
            assert rule.get("from"), f"{name} has an ingress rule open to everyone"
    for name, policy in policies.items():
        for rule in policy["spec"]["egress"]:
            assert rule.get("to"), f"{name} has an egress rule open to everyone"


def test_egress_can_be_left_open(render):
    """For the services; the test pods and Valkey, which open nothing of their own, stay closed."""
    rendered = render({"networkPolicy": {"restrictEgress": False}})
    network, pods = cluster(rendered)
    for policy in rendered.of_kind("NetworkPolicy").values():
        closed = policy["metadata"]["name"] in [*TEST_PODS.values(), VALKEY["name"]]
        assert policy["spec"]["policyTypes"] == (["Ingress", "Egress"] if closed else ["Ingress"])
    assert network.can_connect(pods["bird"], pods["unsplash"], 443)
    assert network.can_connect(pods["birdImage"], pods["elasticache"], 6379)
    assert not network.can_connect(pods["stranger"], pods["bird"], 4201)
    assert not network.can_connect(pods["valkey"], pods["unsplash"], 443)


def test_policies_can_be_turned_off(render):
    assert not render({"networkPolicy": {"enabled": False}}).of_kind("NetworkPolicy")


def test_a_renamed_upstream_keeps_the_policies_consistent(render):
    rendered = render({"services": {"birdImage": {"name": "photos", "port": 8200}}})
    renamed = SERVICES | {"birdImage": {"name": "photos", "port": 8200, "service_port": 8200}}
    network, pods = cluster(rendered, renamed)
    assert network.can_connect(pods["bird"], pods["birdImage"], 8200)
    assert not network.can_connect(pods["frontend"], pods["birdImage"], 8200)


def test_without_the_test_hooks_each_api_admits_only_its_caller(render):
    rendered = render({"tests": {"enabled": False}})
    assert not set(TEST_PODS.values()) & set(rendered.of_kind("NetworkPolicy"))
    for service, caller in (("bird-api", "bird-frontend"), ("bird-image-api", "bird-api")):
        (rule,) = rendered.get("NetworkPolicy", service)["spec"]["ingress"]
        selector = rendered.get("Deployment", caller)["spec"]["selector"]["matchLabels"]
        assert rule["from"] == [{"podSelector": {"matchLabels": selector}}], service


def test_an_external_store_is_reached_in_its_subnets_on_its_port_only(render_set):
    """ElastiCache has no pod to select: bird-image may open the store's port to the CIDRs given
    (the private subnets), which the Unsplash rule leaves closed; nobody else may."""
    rendered = render_set("external-store")
    network, pods = cluster(rendered)
    assert "valkey" not in pods and VALKEY["name"] not in rendered.of_kind("NetworkPolicy")
    assert network.can_connect(pods["birdImage"], pods["elasticache"], 6379)
    assert network.can_connect(pods["birdImage"], Endpoint("10.0.101.200"), 6379)
    assert not network.can_connect(pods["birdImage"], pods["elasticache"], 5432)
    assert not network.can_connect(pods["birdImage"], pods["vpc_host"], 6379)
    assert not network.can_connect(pods["birdImage"], pods["unsplash"], 6379)
    for key in ("bird", "frontend", "store_test"):
        assert not network.can_connect(pods[key], pods["elasticache"], 6379), key
    assert network.can_connect(pods["store_test"], pods["birdImage"], 4200)


def test_an_external_store_on_another_port(render):
    store = EXTERNAL_STORE | {"external": EXTERNAL_STORE["external"] | {"port": 6380}}
    network, pods = cluster(render({"store": store}))
    assert network.can_connect(pods["birdImage"], pods["elasticache"], 6380)
    assert not network.can_connect(pods["birdImage"], pods["elasticache"], 6379)


def test_an_external_store_behind_restricted_egress_needs_its_cidrs(render):
    """Without them bird-image could not reach the store and would fall back, pod by pod."""
    store = EXTERNAL_STORE | {"external": {"existingSecret": "bird-cache"}}
    with pytest.raises(helm.HelmRenderError, match=r"store\.external\.cidrs"):
        render({"store": store})
    open_egress = render({"store": store, "networkPolicy": {"restrictEgress": False}})
    network, pods = cluster(open_egress)
    assert network.can_connect(pods["birdImage"], pods["elasticache"], 6379)
    assert render({"store": store, "networkPolicy": {"enabled": False}}).of_kind("Deployment")


def test_without_a_store_nothing_new_is_opened(render_set):
    rendered = render_set("no-store")
    network, pods = cluster(rendered)
    assert "valkey" not in pods and "store_test" not in pods
    assert set(rendered.of_kind("NetworkPolicy")) == {s["name"] for s in SERVICES.values()} | {"bird-api-test"}
    (rule,) = rendered.get("NetworkPolicy", "bird-image-api")["spec"]["ingress"]
    assert [peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in rule["from"]] == ["bird-api"]
    egress = rendered.get("NetworkPolicy", "bird-image-api")["spec"]["egress"]
    assert [rule for rule in egress if any(p.get("port") == 6379 for p in rule.get("ports", []))] == []


def test_valkey_admits_no_one_when_no_service_uses_the_store(render):
    """A rule without `from` would admit everyone: with no user there is no rule."""
    rendered = render({"services": {"birdImage": {"usesStore": False}}})
    assert rendered.get("NetworkPolicy", VALKEY["name"])["spec"]["ingress"] == []
    assert "CACHE_URL" not in rendered.env("bird-image-api")
    network, pods = cluster(rendered)
    assert not network.can_connect(pods["birdImage"], pods["valkey"], 6379)
    # Nothing to check either: bird-image has no store.
    assert "store_test" not in pods


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
