"""The Unsplash key and the store's password: only in a Secret, only for the pods that use them,
never in plain text anywhere."""

from __future__ import annotations

import base64
import re
from urllib.parse import urlsplit

from .manifests import DEPLOYMENTS, EXTERNAL_STORE, INLINE_KEY, VALKEY, VALUE_SETS

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
    assert set(rendered.of_kind("Secret")) == {VALKEY["secret"]}
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
    assert set(rendered.of_kind("Secret")) == {VALKEY["secret"]}
    assert _secret_ref(rendered)["name"] == "bird-unsplash"
    encoded = base64.b64encode(INLINE_KEY.encode()).decode()
    everything = rendered.manifest_text + rendered.notes
    assert INLINE_KEY not in everything and encoded not in everything


def test_without_a_key_nothing_references_the_unsplash_secret(default):
    assert set(default.of_kind("Secret")) == {VALKEY["secret"]}
    for deployment in DEPLOYMENTS:
        container = default.container(deployment)
        assert "UNSPLASH_ACCESS_KEY" not in default.env(deployment)
        assert "envFrom" not in container
        secret_env = [e["name"] for e in container.get("env", []) if "valueFrom" in e]
        assert secret_env == (["CACHE_URL"] if deployment == "bird-image-api" else []), deployment
    assert "No access key is configured" in default.notes


# The store's password: made by the chart, or in a Secret of yours.


def _decoded(secret) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


def _secret_env(rendered, deployment) -> dict[str, dict]:
    """A Deployment's environment that comes from Secrets: name -> secretKeyRef."""
    return {
        name: source["secretKeyRef"]
        for name, source in rendered.env(deployment).items()
        if isinstance(source, dict) and "secretKeyRef" in source
    }


def test_the_chart_makes_the_store_password_and_url(default):
    secret = default.get("Secret", VALKEY["secret"])
    assert secret["type"] == "Opaque" and "stringData" not in secret
    data = _decoded(secret)
    assert set(data) == {"VALKEY_PASSWORD", "CACHE_URL"}
    password = data["VALKEY_PASSWORD"]
    # Letters and digits: it goes into a URL unescaped, and 32 of them are about 190 bits.
    assert re.fullmatch(r"[A-Za-z0-9]{32}", password)
    url = urlsplit(data["CACHE_URL"])
    # The default user, whose password requirepass sets (an empty user name fails with some
    # clients, redis-cli 7 among them).
    assert (url.scheme, url.username, url.password) == ("redis", "default", password)
    assert (url.hostname, url.port, url.path) == (f"{VALKEY['name']}-service", VALKEY["port"], "")


def test_each_rendering_without_a_cluster_makes_a_new_password(render):
    """Random, not a constant: kept across upgrades only by reading it back (test_chart_upgrade)."""
    passwords = {
        _decoded(render({"tests": {"enabled": enabled}}).get("Secret", VALKEY["secret"]))["VALKEY_PASSWORD"]
        for enabled in (True, False)
    }
    assert len(passwords) == 2


def test_the_store_password_reaches_valkey_and_bird_image_only_through_the_secret(default):
    password = _decoded(default.get("Secret", VALKEY["secret"]))["VALKEY_PASSWORD"]
    encoded = base64.b64encode(password.encode()).decode()
    holders = [d["metadata"]["name"] for d in default.docs if password in str(d) or encoded in str(d)]
    assert holders == [VALKEY["secret"]]
    assert password not in default.notes and encoded not in default.notes
    # Valkey: from the Secret, into its command line as $(VAR), expanded by the kubelet.
    assert _secret_env(default, VALKEY["name"]) == {
        "VALKEYCLI_AUTH": {"name": VALKEY["secret"], "key": "VALKEY_PASSWORD"}
    }
    args = default.container(VALKEY["name"])["args"]
    assert args[args.index("--requirepass") + 1] == "$(VALKEYCLI_AUTH)"
    # bird-image: the URL, required (a fleet without its store would spend the allowance per pod).
    assert _secret_env(default, "bird-image-api")["CACHE_URL"] == {"name": VALKEY["secret"], "key": "CACHE_URL"}
    for deployment in ("bird-api", "bird-frontend"):
        assert _secret_env(default, deployment) == {}, deployment


def test_the_store_url_is_never_a_plain_value(value_set):
    name, rendered = value_set
    for deployment in rendered.of_kind("Deployment"):
        for env in rendered.container(deployment).get("env", []):
            if env["name"] == "CACHE_URL":
                assert set(env) == {"name", "valueFrom"} and set(env["valueFrom"]) == {"secretKeyRef"}, (name, deployment)
    assert not rendered.of_kind("ConfigMap"), name


def test_an_existing_valkey_secret_is_used_and_none_is_made(render):
    rendered = render({"store": {"valkey": {"existingSecret": "my-valkey"}}})
    assert VALKEY["secret"] not in rendered.of_kind("Secret")
    assert _secret_env(rendered, VALKEY["name"]) == {"VALKEYCLI_AUTH": {"name": "my-valkey", "key": "VALKEY_PASSWORD"}}
    assert _secret_env(rendered, "bird-image-api")["CACHE_URL"] == {"name": "my-valkey", "key": "CACHE_URL"}
    assert "Secret my-valkey" in rendered.notes and "made its password" not in rendered.notes


def test_an_external_store_is_read_from_its_secret(render):
    rendered = render({"store": EXTERNAL_STORE})
    assert not rendered.of_kind("Secret")
    assert _secret_env(rendered, "bird-image-api") == {"CACHE_URL": {"name": "bird-cache", "key": "CACHE_URL"}}
    custom = render({"store": EXTERNAL_STORE | {"external": EXTERNAL_STORE["external"] | {"secretKey": "url"}}})
    assert _secret_env(custom, "bird-image-api")["CACHE_URL"] == {"name": "bird-cache", "key": "url"}
    assert "Secret bird-cache, key url" in " ".join(custom.notes.split())


def test_without_a_store_there_is_no_url(render_set):
    rendered = render_set("no-store")
    assert not rendered.of_kind("Secret")
    assert "CACHE_URL" not in rendered.env("bird-image-api")
