"""The SLOs are stated twice, for CloudWatch (infrastructure/, variable slo) and for Prometheus
(bird-chart, values slo): the same defaults and bounds, and the same thresholds and windows from
the same objectives. Terraform's values come from `terraform console` on a scratch copy (local
state, nothing applied); the chart's from its rendered PrometheusRule."""

from __future__ import annotations

import json
import math
import re
import subprocess
from typing import Any, Callable

import helm_python as helm
import pytest
import yaml
from helm_python import _native

from .conftest import INFRA, REPO, copy_infrastructure, terraform_binary, terraform_env

CHART = REPO / "bird-chart"

# The same objectives, other than the defaults, as Terraform and the chart spell them.
TIGHT = {
    "terraform": {
        "window_days": 28,
        "availability": {"target_percent": 99.9},
        "latency": {"target_percent": 99.5, "threshold_ms": 1000},
        "photo_quality": {"target_percent": 98},
    },
    "chart": {
        "windowDays": 28,
        "availability": {"targetPercent": 99.9},
        "latency": {"targetPercent": 99.5, "thresholdSeconds": 1},
        "photoQuality": {"targetPercent": 98},
    },
}
DEFAULTS: dict[str, dict[str, Any]] = {"terraform": {}, "chart": {}}

# Alert name of the chart => (objective, burn) as Terraform keys them.
ALERT = re.compile(r"Bird(Availability|Latency|PhotoQuality)(Fast|Slow)Burn")
OBJECTIVE_KEYS = {"Availability": "availability", "Latency": "latency", "PhotoQuality": "photo-quality"}


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Callable[..., Any]:
    """console(expression, slo=None): the value of a Terraform expression of the root module,
    with var.slo set when given."""
    scratch = tmp_path_factory.mktemp("slo")
    root = copy_infrastructure(scratch)
    # The console needs an initialised backend: local state, which stays empty.
    (root / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    env = terraform_env(scratch)
    base = [terraform_binary(), f"-chdir={root}"]
    init = subprocess.run([*base, "init", "-input=false", "-no-color"], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert init.returncode == 0, init.stdout + init.stderr

    def evaluate(expression: str, slo: dict[str, Any] | None = None) -> Any:
        args = [*base, "console", "-no-color", "-var-file=tests/required_inputs.auto.tfvars"]
        if slo is not None:
            args.append(f"-var=slo={json.dumps(slo)}")
        result = subprocess.run(args, input=f"jsonencode({expression})\n", env=env, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(json.loads(result.stdout))

    return evaluate


def rendered_rule(chart_slo: dict[str, Any]) -> dict[str, Any]:
    """The chart's PrometheusRule with `chart_slo` over its defaults, on a cluster that serves the
    Prometheus Operator's API (what `helm template --api-versions` passes)."""
    values = {
        "image": {"owner": "bird-owner"},
        "networkPolicy": {"metricsFrom": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}]},
        "metrics": {
            "serviceMonitor": {"enabled": True},
            "prometheusRule": {"enabled": True, "runbookBaseUrl": "https://example.com/infrastructure/README.md"},
        },
        "slo": chart_slo,
    }
    options = {
        "name": "bird",
        "namespace": "bird",
        "is_install": True,
        "api_versions": ["monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PrometheusRule"],
    }
    with helm.Chart.load(CHART) as chart:
        files = json.loads(_native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(options)))
    (rule,) = [doc for path, text in files.items() if path.endswith("prometheusrule.yaml") for doc in yaml.safe_load_all(text) if doc]
    return rule


def chart_alerts(rule: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(objective, burn) => threshold and windows of each alert, read from its expression."""
    alerts = {}
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            if "alert" not in r:
                continue
            objective, burn = ALERT.fullmatch(r["alert"]).groups()
            comparisons = re.findall(r"slo:sli_error:ratio_rate(\w+)\{[^}]*\} > (\S+)", r["expr"])
            assert len(comparisons) == 2 and comparisons[0][1] == comparisons[1][1], r["expr"]
            alerts[(OBJECTIVE_KEYS[objective], burn.lower())] = {
                "threshold": float(comparisons[0][1]),
                "windows": [window for window, _ in comparisons],
            }
    return alerts


def test_the_chart_states_the_objectives_terraform_states(console):
    """values.yaml's slo is var.slo's default, in the chart's spelling."""
    terraform = console("var.slo")
    chart = yaml.safe_load((CHART / "values.yaml").read_text())["slo"]
    assert chart == {
        "windowDays": terraform["window_days"],
        "availability": {"targetPercent": terraform["availability"]["target_percent"]},
        "latency": {
            "targetPercent": terraform["latency"]["target_percent"],
            "thresholdSeconds": terraform["latency"]["threshold_ms"] / 1000,
        },
        "photoQuality": {
            "enabled": terraform["photo_quality"]["enabled"],
            "targetPercent": terraform["photo_quality"]["target_percent"],
        },
    }


def test_the_chart_accepts_what_terraform_accepts():
    """The bounds of variables.tf's validations are the schema's."""
    variables = (INFRA / "variables.tf").read_text()
    block = re.search(r'^variable "slo" \{(.*?)^\}', variables, re.S | re.M).group(1)
    schema = json.loads((CHART / "values.schema.json").read_text())
    slo = schema["properties"]["slo"]["properties"]
    assert "var.slo.window_days >= 7 && var.slo.window_days <= 90" in block
    assert (slo["windowDays"]["type"], slo["windowDays"]["minimum"], slo["windowDays"]["maximum"]) == ("integer", 7, 90)
    assert "target >= 90 && target < 100" in block
    (number,) = [s for s in schema["definitions"]["sloTarget"]["anyOf"] if s["type"] == "number"]
    assert (number["minimum"], number["exclusiveMaximum"]) == (90, 100)
    allowed_ms = json.loads(re.search(r"contains\((\[[0-9, ]+\]), var\.slo\.latency\.threshold_ms\)", block).group(1))
    allowed_seconds = [v for v in slo["latency"]["properties"]["thresholdSeconds"]["enum"] if not isinstance(v, str)]
    assert [ms / 1000 for ms in allowed_ms] == allowed_seconds


@pytest.mark.parametrize("objectives", [DEFAULTS, TIGHT], ids=["defaults", "tight"])
def test_cloudwatch_and_prometheus_alert_on_the_same_thresholds_and_windows(console, objectives):
    terraform_slo = objectives["terraform"]
    thresholds = console("local.slo_error_ratio_thresholds", terraform_slo)
    burns = console("local.slo_burn_alarms", terraform_slo)
    alerts = chart_alerts(rendered_rule(objectives["chart"]))
    assert set(alerts) == {(slo, speed) for slo, by_speed in thresholds.items() for speed in by_speed}
    for (slo, speed), alert in alerts.items():
        assert math.isclose(alert["threshold"], thresholds[slo][speed], rel_tol=1e-9), (slo, speed, alert, thresholds[slo][speed])
        cloudwatch_windows = [window["key"].rsplit("-", 1)[1] for window in burns[f"{slo}-{speed}"]["windows"]]
        assert alert["windows"] == cloudwatch_windows, (slo, speed)


@pytest.mark.parametrize("objectives", [DEFAULTS, TIGHT], ids=["defaults", "tight"])
def test_the_latency_threshold_is_the_same_on_both_sides(console, objectives):
    """The metric filter counts response_time above the threshold in ms; the rule counts the
    histogram bucket of the same bound as good."""
    pattern = console('local.slo_metric_filters["api-bird-slow"].pattern', objectives["terraform"])
    threshold_ms = int(re.search(r"response_time > (\d+)\)", pattern).group(1))
    rule = rendered_rule(objectives["chart"])
    expressions = "\n".join(r.get("expr", "") for g in rule["spec"]["groups"] for r in g["rules"])
    (le,) = set(re.findall(r'route="/api/bird", le="([^"]+)"', expressions))
    assert float(le) * 1000 == threshold_ms
