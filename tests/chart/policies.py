"""A NetworkPolicy evaluator: who may talk to whom, on which port, under the rendered policies.

It follows the networking.k8s.io/v1 semantics the chart relies on: a pod selected by no policy of
a direction is open in that direction; otherwise a connection needs one rule whose ports and peers
(podSelector/namespaceSelector with matchLabels, ipBlock with except) match. Ports match by number
only, as on the older AWS network policy agents, which dropped rules that name a port: a named
port here matches nothing.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .manifests import NAMESPACE, SERVICES, VALKEY


@dataclass
class Endpoint:
    ip: str
    namespace: str | None = None  # None: outside the cluster
    labels: dict = field(default_factory=dict)

    @property
    def namespace_labels(self) -> dict:
        return {"kubernetes.io/metadata.name": self.namespace} if self.namespace else {}


def _selects(selector: dict, labels: dict) -> bool:
    assert set(selector) <= {"matchLabels"}, f"evaluator supports matchLabels only: {selector}"
    return selector.get("matchLabels", {}).items() <= labels.items()


def _peer_matches(peer: dict, endpoint: Endpoint, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        address = ipaddress.ip_address(endpoint.ip)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(cidr) for cidr in block.get("except", [])
        )
    if endpoint.namespace is None:
        return False
    if "namespaceSelector" in peer:
        in_namespace = _selects(peer["namespaceSelector"], endpoint.namespace_labels)
    else:
        in_namespace = endpoint.namespace == policy_namespace
    return in_namespace and _selects(peer.get("podSelector", {}), endpoint.labels)


def _port_matches(rule: dict, port: int, protocol: str) -> bool:
    if "ports" not in rule:
        return True
    return any(p.get("protocol", "TCP") == protocol and p["port"] == port for p in rule["ports"])


class Network:
    def __init__(self, policies: list[dict]):
        self.policies = policies

    def _applying(self, pod: Endpoint, direction: str) -> list[dict]:
        return [
            p
            for p in self.policies
            if p["metadata"]["namespace"] == pod.namespace
            and direction in p["spec"]["policyTypes"]
            and _selects(p["spec"]["podSelector"], pod.labels)
        ]

    def _allows(self, pod, direction, peer_key, peer, port, protocol) -> bool:
        applying = self._applying(pod, direction)
        if not applying:
            return True
        return any(
            _port_matches(rule, port, protocol)
            and (
                peer_key not in rule
                or any(_peer_matches(x, peer, p["metadata"]["namespace"]) for x in rule[peer_key])
            )
            for p in applying
            for rule in p["spec"].get(direction.lower()) or []
        )

    def can_connect(self, src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> bool:
        egress_ok = src.namespace is None or self._allows(src, "Egress", "to", dst, port, protocol)
        ingress_ok = dst.namespace is None or self._allows(
            dst, "Ingress", "from", src, port, protocol
        )
        return egress_ok and ingress_ok


# The helm test pods, by the key cluster() gives them.
TEST_PODS = {"test": "bird-api-test", "store_test": "bird-image-api-store-test"}


def cluster(rendered, services=SERVICES):
    """The policies of a rendering, and pods to try them with: the release's own (its Valkey and
    test pods included, where rendered), cluster DNS, a Prometheus, a stranger, and addresses
    outside the cluster, one of them an ElastiCache node in a private subnet."""
    pods = {}
    for i, (key, expected) in enumerate(services.items()):
        template = rendered.get("Deployment", expected["name"])["spec"]["template"]
        pods[key] = Endpoint(
            ip=f"10.0.101.{10 + i}",
            namespace=NAMESPACE,
            labels=template["metadata"]["labels"],
        )
    valkey = rendered.of_kind("Deployment").get(VALKEY["name"])
    if valkey:
        pods["valkey"] = Endpoint("10.0.102.20", NAMESPACE, valkey["spec"]["template"]["metadata"]["labels"])
    test_pods = rendered.of_kind("Pod")
    for i, (key, name) in enumerate(TEST_PODS.items()):
        if name in test_pods:
            pods[key] = Endpoint(f"10.0.101.{30 + i}", NAMESPACE, test_pods[name]["metadata"]["labels"])
    pods.update(
        dns=Endpoint("10.0.102.2", "kube-system", {"k8s-app": "kube-dns"}),
        prometheus=Endpoint(
            "10.0.102.9", "monitoring", {"app.kubernetes.io/name": "prometheus"}
        ),
        stranger=Endpoint("10.0.101.40", NAMESPACE, {"app": "something-else"}),
        internet_client=Endpoint("203.0.113.7"),
        unsplash=Endpoint("198.51.100.10"),
        vpc_host=Endpoint("10.0.55.5"),
        elasticache=Endpoint("10.0.102.57"),
        instance_metadata=Endpoint("169.254.169.254"),
    )
    return Network(list(rendered.of_kind("NetworkPolicy").values())), pods
