"""bird-chart's PrometheusRule (templates/prometheusrule.yaml) under promtool: the rendered rules
pass `promtool check rules`, and `promtool test rules` over synthetic series shows that each
burn-rate alert fires once its burn is reached and not just below it, clears soon after the burn
stops, fires when a total outage has burnt its share of the budget (the failure drills' timings,
infrastructure/failure-simulation.sh), and that a healthy stretch fires nothing.

The expected thresholds are computed here from the SRE workbook's burns and the targets, not
read from the rules. promtool comes from Debian's `prometheus` package (.ci/run installs it)."""

from __future__ import annotations

import itertools
import math
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any, Callable

import pytest
import yaml

from .manifests import NAMESPACE, PROMETHEUS_RULE_API, RUNBOOK, SERVICE_MONITOR_API, chart_values, merged

# The services' latency bucket bounds as their /metrics writes them (prometheus-client formats
# floats with dtoa: a whole second is "1.0").
BUCKET_LABELS = {0.1: "0.1", 0.25: "0.25", 0.5: "0.5", 1: "1.0", 2.5: "2.5"}

# The SRE workbook's paging burns: budget share, long and short window in minutes.
BURNS = {"fast": (0.02, 60, 5), "slow": (0.05, 360, 30)}

# Requests per minute in the synthetic series, and where every counter starts: far from zero, so
# that rate() extrapolates the good and the bad series alike and their ratio is exact.
PER_MINUTE = 10_000
START = 1_000_000

ENABLED = {
    "networkPolicy": {"metricsFrom": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}]},
    "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True, "runbookBaseUrl": RUNBOOK}},
}

# The defaults, and objectives as tight as the schema allows on a shorter window.
OBJECTIVES = {
    "defaults": {},
    "tight": {
        "slo": {
            "windowDays": 28,
            "availability": {"targetPercent": 99.9},
            "latency": {"targetPercent": 99.5, "thresholdSeconds": 1},
            "photoQuality": {"targetPercent": 98},
        }
    },
}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: `apt-get install prometheus` (Debian; .ci/run installs it)")
    return path


def slo_values(name: str) -> dict[str, Any]:
    return merged(chart_values()["slo"], OBJECTIVES[name].get("slo", {}))


def threshold(slo: dict[str, Any], target: float, speed: str) -> float:
    """The burn rate (budget share x window / long window) times the error budget."""
    share, long_minutes, _ = BURNS[speed]
    return share * slo["windowDays"] * 24 * 60 / long_minutes * (100 - target) / 100


@dataclass(frozen=True)
class Objective:
    """One SLO: how its good and bad events appear as series of the services."""

    key: str
    alert: str
    target: Callable[[dict[str, Any]], float]
    series: Callable[[dict[str, Any], list[int], list[int]], list[dict[str, str]]]


def counter(per_minute: list[int]) -> str:
    """A counter's samples, one a minute from START, in promtool's expanding notation: a run of
    equal increments is one `<first>+<step>x<more>`."""
    segments, value = [str(START)], START
    for step, run in itertools.groupby(per_minute):
        count = len(list(run))
        segments.append(f"{value + step}+{step}x{count - 1}")
        value += step * count
    return " ".join(segments)


def frontend(labels: str) -> str:
    return f'{{namespace="{NAMESPACE}", job="bird-frontend-service", method="GET", {labels}}}'


def availability_series(slo: dict[str, Any], good: list[int], bad: list[int]) -> list[dict[str, str]]:
    # Page and API alike: the page's 502s count as much as /api/bird's.
    return [
        {"series": "http_requests_total" + frontend('route="/api/bird", status="200"'), "values": counter(good)},
        {"series": "http_requests_total" + frontend('route="/", status="502"'), "values": counter(bad)},
        # Another route's errors are not the objective's.
        {"series": "http_requests_total" + frontend('route="/static/{file}", status="500"'), "values": counter(bad)},
    ]


def latency_series(slo: dict[str, Any], good: list[int], bad: list[int]) -> list[dict[str, str]]:
    le = BUCKET_LABELS[slo["latency"]["thresholdSeconds"]]
    labels = 'route="/api/bird", status="200"'
    return [
        {"series": "http_request_duration_seconds_bucket" + frontend(f'{labels}, le="{le}"'), "values": counter(good)},
        {
            "series": "http_request_duration_seconds_count" + frontend(labels),
            "values": counter([g + b for g, b in zip(good, bad)]),
        },
    ]


def photo_series(slo: dict[str, Any], good: list[int], bad: list[int]) -> list[dict[str, str]]:
    bird = f'namespace="{NAMESPACE}", job="bird-api-service"'
    # The bad half split between bird-image's default image and the bird in disguise.
    default = [b // 2 for b in bad]
    return [
        {"series": f'bird_answers_total{{{bird}, photo="real"}}', "values": counter(good)},
        {"series": f'bird_answers_total{{{bird}, photo="default"}}', "values": counter(default)},
        {
            "series": f'bird_answers_total{{{bird}, photo="disguised"}}',
            "values": counter([b - d for b, d in zip(bad, default)]),
        },
    ]


OBJECTIVE_MODELS = [
    Objective("availability", "Availability", lambda slo: slo["availability"]["targetPercent"], availability_series),
    Objective("latency", "Latency", lambda slo: slo["latency"]["targetPercent"], latency_series),
    Objective("photo-quality", "PhotoQuality", lambda slo: slo["photoQuality"]["targetPercent"], photo_series),
]


@dataclass
class Traffic:
    """Bad events per minute: a constant rate per phase (minutes, bad ratio)."""

    phases: list[tuple[int, float]]

    def minutes(self) -> tuple[list[int], list[int]]:
        good, bad = [], []
        for length, ratio in self.phases:
            errors = round(PER_MINUTE * ratio)
            good += [PER_MINUTE - errors] * length
            bad += [errors] * length
        return good, bad

    def ratio(self, at: int, window: int) -> float:
        """The bad-event ratio over the `window` minutes before minute `at`, as rate() sees it."""
        good, bad = self.minutes()
        start = max(0, at - window)
        bad_events, all_events = sum(bad[start:at]), sum(good[start:at]) + sum(bad[start:at])
        return 1 - (all_events - bad_events) / all_events


def humanize_percentage(value: float) -> str:
    """Prometheus' humanizePercentage."""
    return "%.4g%%" % (value * 100)


class Case:
    """One promtool test group: an objective's series under `traffic`, and whether each named
    burn alert fires at each evaluation minute."""

    def __init__(self, slo: dict[str, Any], objective: Objective, traffic: Traffic):
        self.slo, self.objective, self.traffic = slo, objective, traffic
        self.checks: list[tuple[int, str, bool]] = []

    def expect(self, at: int, **firing: bool) -> Case:
        self.checks += [(at, speed, fires) for speed, fires in firing.items()]
        return self

    def group(self, annotations: dict[str, dict[str, str]]) -> dict[str, Any]:
        good, bad = self.traffic.minutes()
        tests = []
        for at, speed, fires in self.checks:
            name = f"Bird{self.objective.alert}{speed.title()}Burn"
            alerts = []
            if fires:
                # The rule's own summary and description, its $value the long window's ratio.
                value = humanize_percentage(self.traffic.ratio(at, BURNS[speed][1]))
                rule = annotations[name]
                alerts.append(
                    {
                        "exp_labels": {
                            "severity": {"fast": "critical", "slow": "warning"}[speed],
                            "slo": self.objective.key,
                            "namespace": NAMESPACE,
                        },
                        "exp_annotations": {
                            "summary": rule["summary"],
                            "description": rule["description"].replace("{{ $value | humanizePercentage }}", value),
                            "runbook_url": f"{RUNBOOK}#slo-{self.objective.key}",
                        },
                    }
                )
            tests.append({"eval_time": f"{at}m", "alertname": name, "exp_alerts": alerts})
        return {"interval": "1m", "input_series": self.objective.series(self.slo, good, bad), "alert_rule_test": tests}


def outage_minutes(limit: float, long_minutes: int) -> int:
    """Minutes of a total outage, after a healthy stretch, until the long window's bad-event
    ratio passes `limit` (the short window is all bad by then, or passes it sooner)."""
    return math.floor(limit * long_minutes) + 1


def cases(slo: dict[str, Any]) -> dict[str, Case]:
    """Per objective and burn, the scenarios of the module docstring; per objective, a healthy
    stretch."""
    out: dict[str, Case] = {}
    for objective in OBJECTIVE_MODELS:
        target = objective.target(slo)
        for speed, (_, long_minutes, short_minutes) in BURNS.items():
            limit = threshold(slo, target, speed)
            run = long_minutes + 10
            key = f"{objective.key}-{speed}"
            out[f"{key}-burn-reached"] = Case(slo, objective, Traffic([(run, limit * 1.05)])).expect(run, **{speed: True})
            out[f"{key}-just-below"] = Case(slo, objective, Traffic([(run, limit * 0.95)])).expect(run, **{speed: False})
            # Twice the threshold, then clean: it fires, and is gone as soon as the short window
            # is clean again, while the long one still remembers the burn.
            burn = Traffic([(run, min(1.0, limit * 2)), (short_minutes, 0.0)])
            out[f"{key}-clears"] = (
                Case(slo, objective, burn)
                .expect(run, **{speed: True})
                .expect(run + short_minutes, **{speed: False})
            )
            # A healthy long window, then every request bad.
            minutes = outage_minutes(limit, long_minutes)
            outage = Traffic([(long_minutes, 0.0), (minutes, 1.0)])
            out[f"{key}-outage"] = (
                Case(slo, objective, outage)
                .expect(long_minutes + minutes - 1, **{speed: False})
                .expect(long_minutes + minutes, **{speed: True})
            )
        healthy = Traffic([(420, threshold(slo, target, "slow") * 0.1)])
        out[f"{objective.key}-healthy"] = Case(slo, objective, healthy).expect(60, fast=False, slow=False).expect(420, fast=False, slow=False)
    return out


def rendered_rule(render, name: str) -> dict[str, Any]:
    rendered = render(merged(ENABLED, OBJECTIVES[name]), api_versions=[SERVICE_MONITOR_API, PROMETHEUS_RULE_API])
    (rule,) = rendered.of_kind("PrometheusRule").values()
    return rule


def annotations_of(rule: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {r["alert"]: r["annotations"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_the_rendered_rules_pass_promtool_check(render, tmp_path, name):
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": rendered_rule(render, name)["spec"]["groups"]}))
    result = subprocess.run([promtool(), "check", "rules", str(rules)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 24 rules found" in result.stdout, result.stdout


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_each_alert_fires_at_its_burn_and_only_then(render, tmp_path, name):
    rule = rendered_rule(render, name)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    scenarios = cases(slo_values(name))
    # The indicators before the alerts at each evaluation, so that an alert reads the ratios of
    # its own minute (Prometheus runs groups independently: it may trail by one interval).
    order = [group["name"] for group in rule["spec"]["groups"]]
    assert order[0] == "bird-slo-indicators" and order[-1] == "bird-slo-alerts"
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "group_eval_order": order, "tests": []}
    for scenario, case in scenarios.items():
        tests["tests"].append({"name": scenario, **case.group(annotations_of(rule))})
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run(
        [promtool(), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    assert len(scenarios) == 3 * 2 * 4 + 3


def test_the_rule_is_rendered_only_when_asked_for_and_where_the_cluster_serves_it(render, default):
    assert not default.of_kind("PrometheusRule")
    left_out = render(ENABLED, api_versions=[SERVICE_MONITOR_API])
    assert not left_out.of_kind("PrometheusRule")
    assert "no PrometheusRule was created" in left_out.notes
    assert f"--api-versions {PROMETHEUS_RULE_API}" in " ".join(left_out.notes.split())
    rendered = render(merged(ENABLED, {"metrics": {"prometheusRule": {"labels": {"release": "prom"}}}}), api_versions=[SERVICE_MONITOR_API, PROMETHEUS_RULE_API])
    (rule,) = rendered.of_kind("PrometheusRule").values()
    assert rule["metadata"]["namespace"] == NAMESPACE
    assert rule["metadata"]["labels"]["release"] == "prom"
    assert rule["metadata"]["labels"]["app.kubernetes.io/component"] == "slo"
    assert "SLO alerts: PrometheusRule bird-frontend-slo" in rendered.notes


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"metrics": {"serviceMonitor": {"enabled": False}}}, "needs metrics.serviceMonitor.enabled", id="no-service-monitors"),
        pytest.param({"metrics": {"prometheusRule": {"runbookBaseUrl": ""}}}, "runbookBaseUrl is required", id="no-runbook"),
        # 14.4 x a 7 % budget is more than every request failing.
        pytest.param({"slo": {"availability": {"targetPercent": 93}}}, "slo.availability: its fast burn could never fire", id="burn-that-cannot-fire"),
    ],
)
def test_a_rule_that_could_not_work_fails_the_render(render, values, message):
    import helm_python as helm

    with pytest.raises(helm.HelmRenderError, match=message):
        render(merged(ENABLED, values), api_versions=[SERVICE_MONITOR_API, PROMETHEUS_RULE_API])


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"windowDays": 5}, id="window-too-short"),
        pytest.param({"windowDays": 30.5}, id="window-not-whole-days"),
        pytest.param({"availability": {"targetPercent": 100}}, id="no-budget"),
        pytest.param({"latency": {"targetPercent": 89}}, id="target-too-low"),
        pytest.param({"photoQuality": {"targetPercent": "99.9%"}}, id="target-not-a-number"),
        pytest.param({"latency": {"thresholdSeconds": 0.3}}, id="threshold-not-a-bucket"),
        pytest.param({"latency": {"thresholdSeconds": "0.3"}}, id="threshold-string-not-a-bucket"),
    ],
)
def test_the_schema_refuses_objectives_the_rules_cannot_state(chart, values):
    import helm_python as helm

    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema({"slo": values})


def test_set_strings_state_the_same_objectives(render):
    """`--set slo.availability.targetPercent=99.9` hands the chart a string."""
    as_numbers = merged(ENABLED, OBJECTIVES["tight"])
    as_strings = merged(ENABLED, {"slo": {"availability": {"targetPercent": "99.9"}, "latency": {"targetPercent": "99.5", "thresholdSeconds": "1"}, "photoQuality": {"targetPercent": "98"}, "windowDays": 28}})
    apis = [SERVICE_MONITOR_API, PROMETHEUS_RULE_API]
    (numbers,) = render(as_numbers, api_versions=apis).of_kind("PrometheusRule").values()
    (strings,) = render(as_strings, api_versions=apis).of_kind("PrometheusRule").values()
    assert numbers["spec"] == strings["spec"]


def test_the_rules_read_this_release_and_its_services(render):
    """The selectors follow the namespace and the Service names (ServiceMonitor job labels);
    without the photo-quality SLO nothing of it is rendered."""
    values = merged(ENABLED, {"services": {"frontend": {"name": "web"}, "bird": {"name": "birds"}}, "slo": {"photoQuality": {"enabled": False}}})
    rendered = render(values, namespace="other", api_versions=[SERVICE_MONITOR_API, PROMETHEUS_RULE_API])
    (rule,) = rendered.of_kind("PrometheusRule").values()
    text = "\n".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])
    assert 'job="web-service"' in text and 'namespace="other"' in text
    assert "bird-frontend-service" not in text and "photo" not in text and 'namespace="bird-stack"' not in text
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert alerts == ["BirdAvailabilityFastBurn", "BirdAvailabilitySlowBurn", "BirdLatencyFastBurn", "BirdLatencySlowBurn"]
