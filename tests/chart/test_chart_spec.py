"""SPEC section 3 and CONTRACT on the rendered chart: names, numbers, wiring, rollouts."""

from __future__ import annotations

import re

import pytest
import yaml

import helm_python as helm

from .manifests import (
    DEPLOYMENTS,
    NAMESPACE,
    OWNER,
    RELEASE,
    SERVICE_MONITOR_API,
    SERVICES,
    TRACING_ENV,
    VALKEY,
    VALUE_SETS,
    chart_metadata,
    without_tracing,
)

HPA_BEHAVIOR = {
    # "scale up without a stabilisation window (a pod may be added every 15 s)"
    "scaleUp": {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 15}],
    },
    # "scale down after a 300 s window, at most one pod every 180 s"
    "scaleDown": {
        "stabilizationWindowSeconds": 300,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 180}],
    },
}

STANDARD_LABELS = {
    "helm.sh/chart",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
}


def test_kubernetes_names_are_the_originals(default):
    """The original's runbooks (rollout status deployment/bird-api, describe hpa bird-api-hpa);
    the store beside them follows the same convention."""
    with_store = DEPLOYMENTS + [VALKEY["name"]]
    assert set(default.of_kind("Deployment")) == set(with_store)
    assert set(default.of_kind("Service")) == {f"{d}-service" for d in with_store}
    assert set(default.of_kind("HorizontalPodAutoscaler")) == {f"{d}-hpa" for d in DEPLOYMENTS}
    assert set(default.of_kind("PodDisruptionBudget")) == {f"{d}-pdb" for d in DEPLOYMENTS}
    assert not default.of_kind("ConfigMap")


def test_every_object_is_in_the_release_namespace_and_labelled(value_set):
    _, rendered = value_set
    for doc in rendered.docs:
        meta = doc["metadata"]
        assert meta["namespace"] == NAMESPACE, meta["name"]
        assert STANDARD_LABELS <= set(meta["labels"]), (doc["kind"], meta["name"])
        assert meta["labels"]["app.kubernetes.io/instance"] == RELEASE
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert meta["labels"]["app.kubernetes.io/part-of"] == "bird-stack"


def test_images_are_named_per_contract_and_tagged_with_the_app_version(default):
    app_version = chart_metadata()["appVersion"]
    for deployment in DEPLOYMENTS:
        container = default.container(deployment)
        assert container["image"] == f"docker.io/{OWNER}/{deployment}:{app_version}"
        assert container["imagePullPolicy"] == "IfNotPresent"


def test_the_notes_name_the_images_deployed(render):
    rendered = render({"image": {"owner": "acme", "tag": "sha-0a1b2c3"}})
    for deployment in DEPLOYMENTS:
        assert f"  docker.io/acme/{deployment}:sha-0a1b2c3\n" in rendered.notes


def test_without_an_image_owner_the_chart_refuses_to_render(chart):
    """No owner is published under a default name, so the chart has none: it asks for one."""
    assert chart.values["image"]["owner"] == ""
    for values in ({}, {"image": {"owner": ""}}):
        with pytest.raises(helm.HelmRenderError, match=r"image\.owner is required: .*--set image\.owner="):
            chart.render(values, name=RELEASE)


# 2**53 - 1: the largest integer a YAML or JSON number carries exactly (the schema's maximum).
@pytest.mark.parametrize("tag", ["1234567", "9007199254740991"])
def test_a_number_looking_tag_set_on_the_command_line_is_a_tag(chart, tag):
    """`--set image.tag=1234567` reaches the chart as an integer (Helm's --set parser)."""
    values = helm.parse_set_string(f"image.owner=acme,image.tag={tag}")
    assert values["image"]["tag"] == int(tag)
    chart.validate_schema(values)
    files = chart.render(values, name=RELEASE)
    (bird,) = [
        d
        for d in yaml.safe_load_all(files["bird-chart/templates/deployment.yaml"])
        if d and d["metadata"]["name"] == "bird-api"
    ]
    assert bird["spec"]["template"]["spec"]["containers"][0]["image"] == f"docker.io/acme/bird-api:{tag}"
    assert bird["metadata"]["labels"]["app.kubernetes.io/version"] == tag


def test_image_registry_owner_tag_and_digest_come_from_values(render):
    rendered = render(
        {
            "image": {"registry": "ghcr.io", "owner": "acme", "tag": "abc1234"},
            "services": {"bird": {"image": {"digest": "sha256:" + "b" * 64}}},
        }
    )
    assert rendered.container("bird-api")["image"] == (
        "ghcr.io/acme/bird-api:abc1234@sha256:" + "b" * 64
    )
    assert rendered.container("bird-frontend")["image"] == "ghcr.io/acme/bird-frontend:abc1234"
    labels = rendered.get("Deployment", "bird-api")["metadata"]["labels"]
    assert labels["app.kubernetes.io/version"] == "abc1234"


def test_selectors_cannot_collide_between_releases(render, default):
    other = render({}, release="other")
    for deployment in DEPLOYMENTS:
        mine = default.get("Deployment", deployment)["spec"]["selector"]["matchLabels"]
        theirs = other.get("Deployment", deployment)["spec"]["selector"]["matchLabels"]
        assert mine["app.kubernetes.io/instance"] == RELEASE
        assert theirs["app.kubernetes.io/instance"] == "other"
        assert mine != theirs
    selectors = [
        tuple(sorted(d["spec"]["selector"]["matchLabels"].items()))
        for d in default.of_kind("Deployment").values()
    ]
    assert len(set(selectors)) == len(selectors), "two Deployments share a selector"


def test_services_pdbs_and_spread_select_exactly_their_deployments_pods(value_set):
    _, rendered = value_set
    for deployment in DEPLOYMENTS:
        spec = rendered.get("Deployment", deployment)["spec"]
        selector = spec["selector"]["matchLabels"]
        pod_labels = spec["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()
        assert rendered.get("Service", f"{deployment}-service")["spec"]["selector"] == selector
        pdbs = rendered.of_kind("PodDisruptionBudget")
        assert pdbs[f"{deployment}-pdb"]["spec"]["selector"]["matchLabels"] == selector
        for constraint in spec["template"]["spec"]["topologySpreadConstraints"]:
            assert constraint["labelSelector"]["matchLabels"] == selector


def test_autoscaling_per_spec(default):
    for deployment in DEPLOYMENTS:
        # The HPA owns the replica count; a replicas field would reset it on every upgrade.
        assert "replicas" not in default.get("Deployment", deployment)["spec"]
        hpa = default.get("HorizontalPodAutoscaler", f"{deployment}-hpa")
        assert hpa["apiVersion"] == "autoscaling/v2"
        spec = hpa["spec"]
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": deployment,
        }
        assert spec["minReplicas"] == 2
        assert spec["maxReplicas"] == 10
        assert spec["metrics"] == [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 70},
                },
            }
        ]
        assert spec["behavior"] == HPA_BEHAVIOR


def test_without_autoscaling_each_deployment_runs_two_replicas(render):
    rendered = render(VALUE_SETS["hpa-off"])
    assert not rendered.of_kind("HorizontalPodAutoscaler")
    for deployment in DEPLOYMENTS:
        assert rendered.get("Deployment", deployment)["spec"]["replicas"] == 2


def test_a_service_can_override_a_default_with_false(render):
    """`services.x.key: false` must win over `defaults.key: true` (sprig's merge would not)."""
    rendered = render({"services": {"frontend": {"autoscaling": {"enabled": False}}}})
    assert set(rendered.of_kind("HorizontalPodAutoscaler")) == {
        "bird-api-hpa",
        "bird-image-api-hpa",
    }
    assert rendered.get("Deployment", "bird-frontend")["spec"]["replicas"] == 2
    # A deep override keeps the sibling defaults.
    rendered = render({"services": {"bird": {"autoscaling": {"maxReplicas": 4}}}})
    spec = rendered.get("HorizontalPodAutoscaler", "bird-api-hpa")["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 4)
    assert spec["behavior"] == HPA_BEHAVIOR
    assert rendered.get("HorizontalPodAutoscaler", "bird-frontend-hpa")["spec"]["maxReplicas"] == 10


def test_pod_disruption_budgets(default):
    for deployment in DEPLOYMENTS:
        pdb = default.get("PodDisruptionBudget", f"{deployment}-pdb")
        assert pdb["apiVersion"] == "policy/v1"
        assert pdb["spec"]["minAvailable"] == 1


def test_probes_on_the_real_endpoints_with_spec_numbers(value_set):
    _, rendered = value_set
    for deployment in DEPLOYMENTS:
        container = rendered.container(deployment)
        assert container["ports"] == [
            {
                "name": "http",
                "containerPort": SERVICES[_key(deployment)]["port"],
                "protocol": "TCP",
            }
        ]
        assert container["livenessProbe"] == {
            "httpGet": {"path": "/health", "port": "http"},
            "initialDelaySeconds": 30,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        }
        assert container["readinessProbe"] == {
            "httpGet": {"path": "/ready", "port": "http"},
            "initialDelaySeconds": 10,
            "periodSeconds": 5,
            "timeoutSeconds": 3,
            "failureThreshold": 3,
        }
        # The startup probe only gives a slow start more time; it checks liveness's endpoint.
        startup = container["startupProbe"]
        assert startup["httpGet"] == {"path": "/health", "port": "http"}
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 30


def test_resources_per_spec(value_set):
    _, rendered = value_set
    for deployment in DEPLOYMENTS:
        assert rendered.container(deployment)["resources"] == {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        }


def test_api_services_are_internal_and_match_container_ports(value_set):
    _, rendered = value_set
    for key in ("bird", "birdImage"):
        expected = SERVICES[key]
        service = rendered.get("Service", f"{expected['name']}-service")
        assert service["spec"]["type"] == "ClusterIP"
        assert service["spec"]["ports"] == [
            {"name": "http", "port": expected["port"], "targetPort": "http", "protocol": "TCP"}
        ]
        assert "annotations" not in service["metadata"]


def test_frontend_is_the_node_port_that_the_terraform_load_balancer_targets(default):
    """One documented path: CloudFront -> the NLB of infrastructure/ -> nodePort on every node.
    A LoadBalancer Service would need a controller Terraform does not install (and would
    bypass CloudFront)."""
    service = default.get("Service", "bird-frontend-service")
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["externalTrafficPolicy"] == "Cluster"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP", "nodePort": 30080}
    ]
    assert "annotations" not in service["metadata"]
    assert "port 30080 of every node" in default.notes
    assert "terraform -chdir=infrastructure output -raw app_url" in default.notes


def test_the_node_port_follows_its_value(render):
    rendered = render({"services": {"frontend": {"service": {"nodePort": 31000}}}})
    spec = rendered.get("Service", "bird-frontend-service")["spec"]
    assert spec["ports"][0]["nodePort"] == 31000
    assert "port 31000 of every node" in rendered.notes


def test_load_balancer_mode_carries_only_the_annotations_you_give_it(render):
    rendered = render(VALUE_SETS["load-balancer"])
    service = rendered.get("Service", "bird-frontend-service")
    assert service["spec"]["type"] == "LoadBalancer"
    assert "nodePort" not in service["spec"]["ports"][0]
    expected = VALUE_SETS["load-balancer"]["services"]["frontend"]["service"]
    assert service["metadata"]["annotations"] == expected["loadBalancerAnnotations"]
    assert "no CloudFront" in rendered.notes
    # No controller-specific annotation is assumed: the default is none.
    plain = render({"services": {"frontend": {"service": {"type": "LoadBalancer"}}}})
    assert "annotations" not in plain.get("Service", "bird-frontend-service")["metadata"]
    # Annotations meant for a load balancer never land on a NodePort Service.
    annotated = {"services": {"frontend": {"service": expected | {"type": "NodePort"}}}}
    service = render(annotated).get("Service", "bird-frontend-service")
    assert "annotations" not in service["metadata"]


def test_env_wiring_per_contract(value_set):
    name, rendered = value_set
    traced = rendered.values.get("tracing", {}).get("enabled", False)
    for deployment in DEPLOYMENTS:
        # What tracing adds is checked in test_chart_tracing; here, that it comes with tracing only.
        tracing = {k for k in rendered.env(deployment) if k in TRACING_ENV}
        assert tracing == (TRACING_ENV if traced else set()), (name, deployment)
    common = {
        "LOG_FORMAT": "json",
        "RUST_LOG": "info",
        "SHUTDOWN_DRAIN_SECS": "5",
        "SHUTDOWN_TIMEOUT_SECS": "10",
        "TOKIO_WORKER_THREADS": "1",
    }
    bird = without_tracing(rendered.env("bird-api"))
    assert bird == common | {
        "PORT": "4201",
        "BIRD_IMAGE_URL": "http://bird-image-api-service:4200",
        "BIRD_IMAGE_TIMEOUT_MS": "3000",
        "BIRD_IMAGE_CACHE_TTL_SECS": "10",
    }
    frontend = without_tracing(rendered.env("bird-frontend"))
    assert frontend == common | {
        "PORT": "3000",
        "BIRD_API_URL": "http://bird-api-service:4201",
        "BIRD_API_TIMEOUT_MS": "4000",
        "UNSPLASH_APP_NAME": "bird-stack",
    }
    image = without_tracing(rendered.env("bird-image-api"))
    key = image.pop("UNSPLASH_ACCESS_KEY", None)
    store = image.pop("CACHE_URL", None)
    assert image == common | {
        "PORT": "4200",
        "UNSPLASH_API_URL": "https://api.unsplash.com",
        "UNSPLASH_TIMEOUT_MS": "2000",
        "CACHE_TTL_SECS": "86400",
        "CACHE_MAX_ENTRIES": "1000",
        # A demo key's quota, for the whole fleet through its store.
        "UNSPLASH_MAX_CALLS_PER_HOUR": "50",
    } | {  # what the value set sets itself (the laptop cluster's stand-in Unsplash)
        name: str(value)
        for name, value in rendered.values.get("services", {}).get("birdImage", {}).get("env", {}).items()
    }
    has_key = bool(rendered.values.get("unsplash"))
    assert (key is not None) == has_key, name
    has_store = rendered.values.get("store", {}).get("type") != "none"
    assert (store is not None) == has_store, name


def test_upstream_urls_follow_renamed_services(render):
    rendered = render(
        {
            "services": {
                "birdImage": {"name": "photos", "port": 8200},
                "bird": {"name": "birds-api"},
            }
        }
    )
    assert rendered.env("birds-api")["BIRD_IMAGE_URL"] == "http://photos-service:8200"
    assert rendered.env("bird-frontend")["BIRD_API_URL"] == "http://birds-api-service:4201"
    assert rendered.get("Service", "photos-service")["spec"]["ports"][0]["port"] == 8200
    assert set(rendered.of_kind("HorizontalPodAutoscaler")) >= {"photos-hpa", "birds-api-hpa"}
    explicit = render({"services": {"bird": {"upstream": {"url": "http://images.example:80"}}}})
    assert explicit.env("bird-api")["BIRD_IMAGE_URL"] == "http://images.example:80"


def test_large_integers_are_not_printed_in_exponent_form(render):
    rendered = render({"services": {"birdImage": {"env": {"CACHE_TTL_SECS": 604800}}}})
    assert rendered.env("bird-image-api")["CACHE_TTL_SECS"] == "604800"


def test_restricted_pod_security(value_set):
    """Every pod of the release, the store and the test pods included."""
    _, rendered = value_set
    pods = [
        (d["metadata"]["name"], d["spec"]["template"]["spec"])
        for d in rendered.of_kind("Deployment").values()
    ] + [(p["metadata"]["name"], p["spec"]) for p in rendered.of_kind("Pod").values()]
    assert len(pods) >= 3
    for name, pod in pods:
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
        if name == VALKEY["name"]:
            # Its working directory only: a scratch emptyDir, no host path, no claim.
            assert [set(v) for v in pod["volumes"]] == [{"name", "emptyDir"}], name
        else:
            # The binaries write nothing: the service's own container mounts no volume (sidecars may).
            assert all("volumeMounts" not in c for c in pod["containers"]), name
        for container in pod["containers"] + pod.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["runAsNonRoot"] is True, name
            assert sc["runAsUser"] == 65532 and sc["runAsGroup"] == 65532, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
            assert sc.get("privileged") is False, name


SIDECAR = {
    "name": "helper",
    "image": "docker.io/library/helper:1.0",
    "securityContext": {"runAsUser": 10001},
    "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}],
}
WITH_SIDECAR = {
    "services": {
        "birdImage": {"sidecars": [SIDECAR], "extraVolumes": [{"name": "scratch", "emptyDir": {}}]}
    }
}


def test_sidecars_are_native_sidecars_under_the_restricted_context(render, default):
    rendered = render(WITH_SIDECAR)
    pod = rendered.get("Deployment", "bird-image-api")["spec"]["template"]["spec"]
    (sidecar,) = pod["initContainers"]
    # Started before the service's container and stopped after it: a native sidecar.
    assert sidecar["restartPolicy"] == "Always"
    assert {k: sidecar[k] for k in ("name", "image", "volumeMounts")} == {
        k: SIDECAR[k] for k in ("name", "image", "volumeMounts")
    }
    # Its own securityContext keys win; the rest is the chart's restricted one.
    own = default.container("bird-image-api")["securityContext"]
    assert sidecar["securityContext"] == own | {"runAsUser": 10001}
    assert pod["volumes"] == [{"name": "scratch", "emptyDir": {}}]
    # The service's own container is the same as without the sidecar, and no other pod changes.
    assert rendered.container("bird-image-api") == default.container("bird-image-api")
    for deployment in ("bird-api", "bird-frontend"):
        assert rendered.get("Deployment", deployment) == default.get("Deployment", deployment)


def test_a_sidecar_named_like_the_service_container_is_refused(render):
    clash = {"services": {"birdImage": {"sidecars": [{"name": "bird-image", "image": "x:1"}]}}}
    with pytest.raises(helm.HelmRenderError, match="is the name of the service's own container"):
        render(clash)


def _service_accounts(rendered):
    """The services' ServiceAccounts (the store's own is not under `defaults`)."""
    return {name: a for name, a in rendered.of_kind("ServiceAccount").items() if name != VALKEY["name"]}


def test_service_accounts_do_not_mount_tokens(default):
    accounts = default.of_kind("ServiceAccount")
    assert set(accounts) == set(DEPLOYMENTS + [VALKEY["name"]])
    for deployment in DEPLOYMENTS + [VALKEY["name"]]:
        assert accounts[deployment]["automountServiceAccountToken"] is False
        pod = default.get("Deployment", deployment)["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == deployment


def _account_of(rendered, deployment):
    return rendered.get("Deployment", deployment)["spec"]["template"]["spec"]["serviceAccountName"]


def test_a_service_account_name_is_shared_from_defaults_or_given_per_service(render):
    shared = render({"defaults": {"serviceAccount": {"name": "bird"}}})
    (account,) = _service_accounts(shared).values()
    assert account["metadata"]["name"] == "bird"
    assert account["automountServiceAccountToken"] is False
    assert account["metadata"]["labels"]["app.kubernetes.io/component"] == "shared"
    assert {_account_of(shared, d) for d in DEPLOYMENTS} == {"bird"}

    role = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/photos"}
    own = render({"services": {"birdImage": {"serviceAccount": {"name": "photos", "annotations": role}}}})
    assert set(_service_accounts(own)) == {"bird-api", "bird-frontend", "photos"}
    assert own.get("ServiceAccount", "photos")["metadata"]["annotations"] == role
    assert _account_of(own, "bird-image-api") == "photos"
    assert _account_of(own, "bird-api") == "bird-api"


def test_an_existing_service_account_is_used_not_created(render):
    existing = render({"defaults": {"serviceAccount": {"create": False, "name": "bird-runtime"}}})
    assert not _service_accounts(existing)
    assert {_account_of(existing, d) for d in DEPLOYMENTS} == {"bird-runtime"}
    namespace_default = render({"defaults": {"serviceAccount": {"create": False}}})
    assert {_account_of(namespace_default, d) for d in DEPLOYMENTS} == {"default"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param(
            {
                "defaults": {"serviceAccount": {"name": "bird"}},
                "services": {"bird": {"serviceAccount": {"annotations": {"a": "b"}}}},
            },
            "share ServiceAccount bird with different serviceAccount.annotations",
            id="shared-with-different-annotations",
        ),
        pytest.param(
            {"defaults": {"serviceAccount": {"name": "default"}}},
            'exists in every namespace; set create: false',
            id="creating-default",
        ),
    ],
)
def test_service_accounts_the_chart_cannot_create_are_refused(render, values, message):
    with pytest.raises(helm.HelmRenderError, match=re.escape(message)):
        render(values)


def test_zero_downtime_rollouts(value_set):
    _, rendered = value_set
    for deployment in DEPLOYMENTS:
        spec = rendered.get("Deployment", deployment)["spec"]
        assert spec["strategy"] == {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        }
        pod = spec["template"]["spec"]
        container = pod["containers"][0]
        # Native sleep action: the distroless images have no shell for `sleep`.
        assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}
        assert pod["terminationGracePeriodSeconds"] == 30
        env = rendered.env(deployment)
        needed = 5 + int(env["SHUTDOWN_DRAIN_SECS"]) + int(env["SHUTDOWN_TIMEOUT_SECS"])
        assert needed <= pod["terminationGracePeriodSeconds"]


def test_no_pre_stop_pause_renders_no_hook(render):
    """Before Kubernetes 1.33 the API refuses `sleep: {seconds: 0}`; no pause needs no hook."""
    rendered = render({"services": {"bird": {"preStopSleepSeconds": 0}}})
    assert "lifecycle" not in rendered.container("bird-api")
    assert rendered.container("bird-frontend")["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}


def test_a_grace_period_shorter_than_the_shutdown_is_refused(chart):
    with pytest.raises(helm.HelmError, match="terminationGracePeriodSeconds"):
        chart.render({"services": {"bird": {"terminationGracePeriodSeconds": 15}}}, name=RELEASE)
    with pytest.raises(helm.HelmError, match="terminationGracePeriodSeconds"):
        chart.render({"defaults": {"env": {"SHUTDOWN_TIMEOUT_SECS": 25}}}, name=RELEASE)


def test_min_replicas_above_max_is_refused(chart):
    values = {"defaults": {"autoscaling": {"minReplicas": 5, "maxReplicas": 3}}}
    with pytest.raises(helm.HelmError, match="minReplicas"):
        chart.render(values, name=RELEASE)


def test_topology_spread_over_zones_and_nodes(value_set):
    _, rendered = value_set
    for deployment in DEPLOYMENTS:
        constraints = rendered.get("Deployment", deployment)["spec"]["template"]["spec"][
            "topologySpreadConstraints"
        ]
        assert [c["topologyKey"] for c in constraints] == [
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
        ]
        for constraint in constraints:
            assert constraint["maxSkew"] == 1
            # A two-node dev cluster in one zone must still schedule every replica.
            assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"
            assert constraint["matchLabelKeys"] == ["pod-template-hash"]


def _scrape_annotations(rendered, deployment):
    template = rendered.get("Deployment", deployment)["spec"]["template"]["metadata"]
    return {k: v for k, v in (template.get("annotations") or {}).items() if k.startswith("prometheus.io/")}


def test_scraping_is_off_until_a_scraper_is_named(default, render_set, render):
    """Scrape annotations the NetworkPolicies would answer with refusals help nobody."""
    for deployment in DEPLOYMENTS:
        assert _scrape_annotations(default, deployment) == {}
    assert not default.of_kind("ServiceMonitor")
    named = render_set("all-features")
    without_policies = render({"networkPolicy": {"enabled": False}, "metrics": {"podAnnotations": True}})
    for rendered in (named, without_policies):
        for expected in SERVICES.values():
            assert _scrape_annotations(rendered, expected["name"]) == {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(expected["port"]),
                "prometheus.io/path": "/metrics",
            }


@pytest.mark.parametrize(
    ("values", "api_versions"),
    [
        pytest.param({"metrics": {"podAnnotations": True}}, [], id="pod-annotations"),
        pytest.param(
            {"metrics": {"serviceMonitor": {"enabled": True}}}, [SERVICE_MONITOR_API], id="service-monitors"
        ),
    ],
)
def test_scraping_behind_network_policies_without_a_named_scraper_is_refused(render, values, api_versions):
    with pytest.raises(helm.HelmRenderError, match=r"networkPolicy\.metricsFrom"):
        render(values, api_versions=api_versions)


def test_service_monitors_the_cluster_cannot_take_need_no_scraper(render):
    rendered = render({"metrics": {"serviceMonitor": {"enabled": True}}}, api_versions=())
    assert not rendered.of_kind("ServiceMonitor")


def test_optional_service_monitors_select_the_services(render_set):
    rendered = render_set("all-features")
    assert "no ServiceMonitor was created" not in rendered.notes
    monitors = rendered.of_kind("ServiceMonitor")
    assert set(monitors) == set(DEPLOYMENTS)
    for deployment, monitor in monitors.items():
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["metadata"]["labels"]["release"] == "prom"
        service = rendered.get("Service", f"{deployment}-service")
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert selector.items() <= service["metadata"]["labels"].items()
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        assert monitor["spec"]["endpoints"] == [
            {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
        ]


def test_service_monitors_are_left_out_where_the_cluster_has_no_such_api(render):
    """A kind the cluster does not serve would fail the whole install: no CRD, no object, and the
    NOTES say why."""
    rendered = render(VALUE_SETS["all-features"], api_versions=())
    assert not rendered.of_kind("ServiceMonitor")
    assert "no ServiceMonitor was created" in rendered.notes
    assert f"--api-versions {SERVICE_MONITOR_API}" in " ".join(rendered.notes.split())


def test_helm_test_hook_asks_bird_through_its_service(default, render):
    pods = default.of_kind("Pod")
    assert set(pods) == {"bird-api-test", "bird-image-api-store-test"}
    pod = pods["bird-api-test"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    container = pod["spec"]["containers"][0]
    image = container["image"]
    assert image.startswith("docker.io/curlimages/curl:") and not image.endswith(":latest")
    script = " ".join(container["command"])
    assert "http://bird-api-service:4201/" in script
    assert "--fail" in script
    assert '"name"' in script and '"description"' in script and '"image"' in script
    assert not render({"tests": {"enabled": False}}).of_kind("Pod")


def test_notes_tell_how_to_reach_the_frontend_and_the_bird_api(default, render):
    notes = default.notes
    assert "port-forward service/bird-frontend-service 8080:80" in notes
    assert "port-forward service/bird-api-service 4201:4201" in notes
    assert "curl http://localhost:4201/" in notes
    assert f"helm test {RELEASE}" in notes
    internal = render({"services": {"frontend": {"service": {"type": "ClusterIP"}}}})
    assert "port-forward service/bird-frontend-service 8080:80" in internal.notes


def _key(deployment: str) -> str:
    return next(k for k, s in SERVICES.items() if s["name"] == deployment)
