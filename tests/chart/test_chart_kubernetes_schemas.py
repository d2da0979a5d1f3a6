"""Every rendered object against the Kubernetes 1.31 and 1.33 OpenAPI schemas, strictly.

kubernetes-validate vendors the schemas, so this runs offline; strict mode refuses unknown
fields, which catches misspelt or misplaced keys that a cluster would silently drop.
"""

from __future__ import annotations

import copy

import pytest

from .manifests import CUSTOM_KINDS

try:
    import kubernetes_validate
    from kubernetes_validate.utils import all_versions
except ImportError as exc:  # a missing tool must fail the suite, never skip it
    raise RuntimeError(
        "kubernetes-validate is missing: `.venv/bin/pip install -r tests/requirements.txt`"
    ) from exc

KUBERNETES_VERSIONS = ["1.31.0", "1.33.0"]


def test_the_schemas_are_vendored_for_both_versions():
    for version in KUBERNETES_VERSIONS:
        assert version in all_versions(), f"kubernetes-validate has no offline schema for {version}"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_kubernetes(value_set, version):
    name, rendered = value_set
    checked = set()
    for doc in rendered.docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']} on {version}: {error.message}")
        checked.add(doc["kind"])
    core = {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "ServiceAccount", "Pod"}
    assert core <= checked, f"{name}: validated only {sorted(checked)}"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_strict_validation_refuses_an_unknown_field(default, version):
    """The check above can fail: a misplaced key in a container is refused."""
    deployment = copy.deepcopy(default.get("Deployment", "bird-api"))
    deployment["spec"]["template"]["spec"]["containers"][0]["preStop"] = {"sleep": {"seconds": 5}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, version, strict=True)
