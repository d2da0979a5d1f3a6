"""failure-simulation.sh: shellcheck-clean, safe by default, and the kubectl calls each drill makes
(against a fake kubectl that records its arguments); the SLO burns say when the alerts fire."""

import math
import os
import subprocess

import pytest
import yaml

from .conftest import INFRA, REPO

SCRIPT = INFRA / "failure-simulation.sh"
SHELLCHECK = REPO / ".venv" / "bin" / "shellcheck"
SCENARIOS = ["pod-kill", "load", "node-drain", "crash-loop", "burn-photo-quality", "burn-availability", "cleanup"]

FAKE_KUBECTL = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >> "$KUBECTL_LOG"
case "$*" in
  "config current-context") echo test-context ;;
  "get pods -n bird --field-selector=status.phase=Running"*)
    printf '%s\n' "bird-image-api-7c9d8f6b5-qwert ip-10-0-102-7.ec2.internal" \
                  "bird-api-5d9f8c7b6d-abcde ip-10-0-101-5.ec2.internal" \
                  "bird-api-5d9f8c7b6d-fghij ip-10-0-102-7.ec2.internal" ;;
  "get pod -n bird bird-api-5d9f8c7b6d-abcde -o jsonpath={.spec.nodeName}") echo ip-10-0-101-5.ec2.internal ;;
  "get nodes -l failure-simulation.bird-stack.io/drained=true"*) echo ip-10-0-101-5.ec2.internal ;;
  "get deployment/bird-api -n bird -o jsonpath={.spec.replicas}") echo 3 ;;
  "get deployment/bird-image-api -n bird -o jsonpath={.spec.replicas}") echo 2 ;;
  "get deployment/bird-image-api -n bird -o jsonpath={.metadata.annotations.failure-simulation\.bird-stack\.io/replicas}") echo 2 ;;
  "get deployment/bird-api -n bird -o jsonpath={.metadata.annotations.failure-simulation\.bird-stack\.io/replicas}") ;;
  "get deployment/bird-image-api"*) echo true ;;
esac
"""


@pytest.fixture
def fake_kubectl(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(FAKE_KUBECTL)
    kubectl.chmod(0o755)
    log = tmp_path / "kubectl.log"
    log.touch()
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", KUBECTL_LOG=str(log))

    def run(*args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
        result = subprocess.run(
            [str(SCRIPT), *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False
        )
        return result, [line for line in log.read_text().splitlines() if line]

    return run


def test_script_is_shellcheck_clean():
    assert SHELLCHECK.exists(), "shellcheck is missing: run `make test` (it installs tests/requirements.txt into .venv)"
    result = subprocess.run([str(SHELLCHECK), "-x", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_script_is_executable():
    assert os.access(SCRIPT, os.X_OK)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_dry_run_never_calls_kubectl(fake_kubectl, scenario):
    result, calls = fake_kubectl("--dry-run", scenario)
    assert result.returncode == 0, result.stderr
    assert "[dry-run] kubectl" in result.stdout
    assert calls == []


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_refuses_to_act_without_confirmation(fake_kubectl, scenario):
    result, calls = fake_kubectl(scenario)
    assert result.returncode == 2
    assert "--yes" in result.stderr
    assert calls == []


def test_rejects_unknown_scenarios_and_bad_numbers(fake_kubectl):
    assert fake_kubectl("--yes", "reboot-everything")[0].returncode == 2
    assert fake_kubectl("--yes", "--duration", "soon", "load")[0].returncode == 2
    assert fake_kubectl("--yes", "--namespace", "Bad_NS", "pod-kill")[0].returncode == 2
    assert fake_kubectl("--yes", "--target", "100", "burn-availability")[0].returncode == 2
    assert fake_kubectl("--yes", "--window-days", "5", "burn-availability")[0].returncode == 2
    assert fake_kubectl()[0].returncode == 2
    assert fake_kubectl("--help")[0].returncode == 0


def test_pod_kill_deletes_one_bird_api_pod(fake_kubectl):
    result, calls = fake_kubectl("--yes", "pod-kill")
    assert result.returncode == 0, result.stderr
    assert calls[-1] == "delete pod -n bird bird-api-5d9f8c7b6d-abcde --wait=false"
    assert not any("bird-image-api-7c9d8f6b5-qwert" in c for c in calls)


def test_load_runs_a_restricted_pod_for_the_given_time(fake_kubectl):
    result, calls = fake_kubectl("--yes", "--duration", "60", "--concurrency", "5", "load")
    assert result.returncode == 0, result.stderr
    (call,) = calls
    assert call.startswith("run bird-load -n bird --image=busybox:1.37 --restart=Never")
    assert '"runAsNonRoot":true' in call and '"drop":["ALL"]' in call
    assert "+60))" in call and "seq 5" in call and "http://bird-frontend-service/api/bird" in call


def test_node_drain_cordons_and_drains_the_node_of_a_bird_api_pod(fake_kubectl):
    result, calls = fake_kubectl("--yes", "node-drain")
    assert result.returncode == 0, result.stderr
    node = "ip-10-0-101-5.ec2.internal"
    assert f"cordon {node}" in calls
    assert f"drain {node} --ignore-daemonsets --delete-emptydir-data --timeout=300s" in calls
    assert calls.index(f"cordon {node}") < calls.index(f"drain {node} --ignore-daemonsets --delete-emptydir-data --timeout=300s")


def test_crash_loop_sets_an_invalid_setting_and_marks_the_deployment(fake_kubectl):
    result, calls = fake_kubectl("--yes", "crash-loop")
    assert result.returncode == 0, result.stderr
    assert "set env deployment/bird-image-api -n bird UNSPLASH_TIMEOUT_MS=not-a-number" in calls
    assert any(c.startswith("annotate deployment/bird-image-api") and "crash-loop=true" in c for c in calls)


def test_cleanup_undoes_every_drill(fake_kubectl):
    result, calls = fake_kubectl("--yes", "cleanup")
    assert result.returncode == 0, result.stderr
    assert "delete pod -n bird bird-load --ignore-not-found" in calls
    assert "uncordon ip-10-0-101-5.ec2.internal" in calls
    assert "rollout undo deployment/bird-image-api -n bird" in calls
    # The replicas a burn saved on bird-image-api (none on bird-api) come back.
    assert "scale deployment/bird-image-api -n bird --replicas=2" in calls
    assert not any(c.startswith("scale deployment/bird-api ") for c in calls)


@pytest.mark.parametrize(
    ("scenario", "deployment", "replicas"),
    [("burn-photo-quality", "bird-image-api", 2), ("burn-availability", "bird-api", 3)],
)
def test_a_burn_scales_a_deployment_to_zero_under_load_and_keeps_its_replicas(fake_kubectl, scenario, deployment, replicas):
    result, calls = fake_kubectl("--yes", scenario)
    assert result.returncode == 0, result.stderr
    annotate = f"annotate deployment/{deployment} -n bird failure-simulation.bird-stack.io/replicas={replicas} --overwrite"
    scale = f"scale deployment/{deployment} -n bird --replicas=0"
    (load,) = [c for c in calls if c.startswith("run bird-load")]
    assert calls.index(annotate) < calls.index(scale) < calls.index(load)
    assert f"drill={scenario}" in load and "+1800))" in load and "http://bird-frontend-service/api/bird" in load


def minutes_to_fire(budget_share: float, target: float, window_days: int) -> int:
    """A total outage spends (100 - target) % of the window's minutes of budget; a burn alert
    fires in the minute after its share of it is gone (tests/chart/test_chart_slo.py proves the
    rules do, "outage")."""
    return math.floor(budget_share * window_days * 24 * 60 * (100 - target) / 100) + 1


@pytest.mark.parametrize(
    ("scenario", "slo", "values_key", "alert"),
    [
        ("burn-photo-quality", "photo-quality", "photoQuality", "PhotoQuality"),
        ("burn-availability", "availability", "availability", "Availability"),
    ],
)
@pytest.mark.parametrize("options", [[], ["--target", "99.9", "--window-days", "28"]], ids=["defaults", "given"])
def test_a_burns_dry_run_says_which_alerts_fire_and_when(fake_kubectl, scenario, slo, values_key, alert, options):
    """With the objectives of the chart's values (which a test in test_infra_slo.py holds to
    Terraform's), or those given."""
    objectives = yaml.safe_load((REPO / "bird-chart" / "values.yaml").read_text())["slo"]
    target = float(options[1]) if options else objectives[values_key]["targetPercent"]
    days = int(options[3]) if options else objectives["windowDays"]
    result, calls = fake_kubectl("--dry-run", *options, scenario)
    assert result.returncode == 0, result.stderr
    assert calls == []
    out = " ".join(result.stdout.split())
    for speed, share in (("fast", 0.02), ("slow", 0.05)):
        minutes = minutes_to_fire(share, target, days)
        assert f"after about {minutes} min: the {speed} burn, CloudWatch <cluster>-slo-{slo}-{speed}-burn, Prometheus Bird{alert}{speed.title()}Burn" in out, out
    assert f"infrastructure/README.md#slo-{slo}" in out
