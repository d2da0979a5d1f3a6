"""The Unsplash key: only in a Secret, only for bird-image, never in plain text anywhere."""

from __future__ import annotations

import base64

from .manifests import DEPLOYMENTS, INLINE_KEY, VALUE_SETS

SECRET_NAME = "bird-image-api-unsplash"


def _secret_ref(rendered):
    return rendered.env("bird-image-api")["UNSPLASH_ACCESS_KEY"]["secretKeyRef"]


def test_inline_key_is_stored_in_a_secret_and_read_by_bird_image_only(render):
    rendered = render(VALUE_SETS["inline-key"])
    secret = rendered.get("Secret", SECRET_NAME)
    assert secret["type"] == "Opaque"
    # data (base64), not stringData: the key is never written out in plain text.
    assert "stringData" not in secret
    assert base64.b64decode(secret["data"]["UNSPLASH_ACCESS_KEY"]).decode() == INLINE_KEY
    assert _secret_ref(rendered) == {"name": SECRET_NAME, "key": "UNSPLASH_ACCESS_KEY"}
    for deployment in ("bird-api", "bird-frontend"):
        assert "UNSPLASH_ACCESS_KEY" not in rendered.env(deployment)


def test_inline_key_never_appears_in_plain_text(render):
    rendered = render(VALUE_SETS["inline-key"])
    assert INLINE_KEY not in rendered.manifest_text
    assert INLINE_KEY not in rendered.notes
    encoded = base64.b64encode(INLINE_KEY.encode()).decode()
    assert encoded not in rendered.notes
    for config_map in rendered.of_kind("ConfigMap").values():
        assert INLINE_KEY not in str(config_map) and encoded not in str(config_map)
    # Only the Secret carries the encoded key.
    holders = [d["metadata"]["name"] for d in rendered.docs if encoded in str(d)]
    assert holders == [SECRET_NAME]
    assert SECRET_NAME in rendered.notes


def test_pods_roll_when_the_chart_managed_key_changes(render):
    def checksum(values):
        template = render(values).get("Deployment", "bird-image-api")["spec"]["template"]
        return template["metadata"]["annotations"]["checksum/unsplash-secret"]

    first = checksum({"unsplash": {"accessKey": "first-key"}})
    assert first != checksum({"unsplash": {"accessKey": "second-key"}})
    assert first == checksum({"unsplash": {"accessKey": "first-key"}})


def test_existing_secret_is_referenced_and_none_is_created(render):
    rendered = render(VALUE_SETS["existing-secret"])
    assert not rendered.of_kind("Secret")
    assert _secret_ref(rendered) == {
        "name": "bird-unsplash",
        "key": "UNSPLASH_ACCESS_KEY",
        "optional": True,
    }
    assert "bird-unsplash" in rendered.notes
    custom = render({"unsplash": {"existingSecret": "vault-unsplash", "secretKey": "access-key"}})
    assert _secret_ref(custom) == {"name": "vault-unsplash", "key": "access-key", "optional": True}


def test_a_missing_existing_secret_means_keyless_not_a_pod_that_cannot_start(render):
    """The kubelet refuses to start a container whose non-optional secretKeyRef is missing
    (CreateContainerConfigError); optional leaves UNSPLASH_ACCESS_KEY unset, so bird-image runs
    keyless and answers the default image, as it does without a key at all."""
    rendered = render(VALUE_SETS["existing-secret"])
    assert _secret_ref(rendered)["optional"] is True
    notes = " ".join(rendered.notes.split())
    assert "does not exist" in notes and "default image" in notes
    assert "kubectl -n bird-stack rollout restart deployment/bird-image-api" in notes


def test_the_chart_managed_secret_is_required(render):
    """The chart creates that Secret in the same release: a missing one would be a chart bug."""
    assert "optional" not in _secret_ref(render(VALUE_SETS["inline-key"]))


def test_existing_secret_wins_over_an_inline_key(render):
    rendered = render({"unsplash": {"existingSecret": "bird-unsplash", "accessKey": INLINE_KEY}})
    assert not rendered.of_kind("Secret")
    assert _secret_ref(rendered)["name"] == "bird-unsplash"
    encoded = base64.b64encode(INLINE_KEY.encode()).decode()
    everything = rendered.manifest_text + rendered.notes
    assert INLINE_KEY not in everything and encoded not in everything


def test_without_a_key_nothing_references_a_secret(default):
    assert not default.of_kind("Secret")
    for deployment in DEPLOYMENTS:
        container = default.container(deployment)
        assert "UNSPLASH_ACCESS_KEY" not in default.env(deployment)
        assert "envFrom" not in container
        assert not [e for e in container.get("env", []) if "valueFrom" in e], deployment
    assert "No access key is configured" in default.notes
