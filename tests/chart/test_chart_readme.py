"""bird-chart/README.md against the chart: its commands install what they say, into the namespace
the alarms watch; its values table shows the defaults of values.yaml; the frontend's node port
has one source."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

import helm_python as helm

from .manifests import (
    CHART_DIR,
    DEPLOYMENTS,
    PROMETHEUS_RULE_API,
    SERVICE_MONITOR_API,
    Rendered,
    chart_values,
    merged,
)

REPO = CHART_DIR.parent
README = (CHART_DIR / "README.md").read_text(encoding="utf-8")

# The README's placeholders and what stands for them here; a new one must be added on purpose.
PLACEHOLDERS = {
    "<owner>": "readme-owner",
    "<repo>": "bird-stack",
    "<tag>": "sha-0a1b2c3",
    "<version>": "1.4.2",
}
LOCAL_CHART = "./bird-chart"
PUBLISHED_CHART = "oci://registry-1.docker.io/readme-owner/bird-chart"

# helm flags that take no argument, and those that take one (others are refused: add them here).
HELM_SWITCHES = {"--install", "--reuse-values", "--wait", "--create-namespace", "--atomic"}
HELM_OPTIONS = {"--namespace", "-n", "--set", "--timeout", "--version"}


def terraform_default(variable: str) -> str:
    """The default of a variable of infrastructure/variables.tf (the alarms' side of the path)."""
    text = (REPO / "infrastructure" / "variables.tf").read_text(encoding="utf-8")
    block = re.search(rf'variable "{variable}" \{{(.*?)\n\}}', text, flags=re.DOTALL)
    assert block, f"infrastructure/variables.tf has no variable {variable}"
    default = re.search(r'^\s*default\s*=\s*"?([^"\n]*)"?\s*$', block.group(1), flags=re.MULTILINE)
    assert default, f"variable {variable} has no default"
    return default.group(1)


def shell_commands(text: str) -> Iterator[list[str]]:
    """Each command of the ```sh blocks, split as the shell would (continuations joined)."""
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            for command in line.split(";"):
                for part in command.split("|"):
                    words = shlex.split(part)
                    if words:
                        yield words


def substituted(word: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        word = word.replace(placeholder, value)
    assert "<" not in word, f"unknown placeholder in {word!r}: add it to PLACEHOLDERS"
    return word


def helm_install(words: list[str]) -> dict[str, Any] | None:
    """release, chart, namespace and values of a `helm install` / `helm upgrade --install`."""
    if words[:2] not in (["helm", "install"], ["helm", "upgrade"]):
        return None
    positional, options, values = [], {}, {}
    args = iter(substituted(w) for w in words[2:])
    for arg in args:
        if arg in HELM_SWITCHES:
            options[arg] = True
        elif arg in HELM_OPTIONS:
            value = next(args)
            if arg == "--set":
                values = merged(values, helm.parse_set_string(value))
            else:
                options["--namespace" if arg == "-n" else arg] = value
        else:
            assert not arg.startswith("-"), f"the README uses helm {arg}: teach this test about it"
            positional.append(arg)
    assert len(positional) == 2, f"expected a release and a chart: {words}"
    return {
        "release": positional[0],
        "chart": positional[1],
        "namespace": options.get("--namespace"),
        "version": options.get("--version"),
        "reuse": "--reuse-values" in options,
        "values": values,
    }


def readme_installs() -> list[dict[str, Any]]:
    return [i for i in map(helm_install, shell_commands(README)) if i]


def test_the_readme_installs_into_the_namespace_and_release_of_the_terraform_path():
    namespace = terraform_default("app_namespace")
    installs = readme_installs()
    assert len(installs) >= 2
    for install in installs:
        assert install["namespace"] == namespace, install
        assert install["release"] == "bird", install
        assert install["chart"] in (LOCAL_CHART, PUBLISHED_CHART), install
        assert (install["chart"] == PUBLISHED_CHART) == (install["version"] is not None), install
    # The first install is the published chart: no clone needed.
    assert installs[0]["chart"] == PUBLISHED_CHART
    for words in shell_commands(README):
        named = [
            value
            for flag, value in zip(words, words[1:])
            if flag in ("-n", "--namespace") or (words[0] == "kubectl" and flag == "namespace")
        ]
        assert set(named) <= {namespace}, words


@pytest.fixture(scope="module")
def published_chart(tmp_path_factory):
    """The chart as a release publishes it (scripts/release.py, packaged by Helm) for the
    README's owner and version."""
    work = tmp_path_factory.mktemp("published")
    digests = [f"--digest={name}=sha256:{'0' * 64}" for name in DEPLOYMENTS]
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "release.py"), "chart",
         "--tag", "v" + PLACEHOLDERS["<version>"], "--registry", "docker.io",
         "--owner", PLACEHOLDERS["<owner>"],
         "--source", f"https://github.com/{PLACEHOLDERS['<owner>']}/{PLACEHOLDERS['<repo>']}",
         *digests, "--out", str(work / "copy")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    archive = Path(helm.package(result.stdout.strip(), destination=work))
    with helm.Chart.load_archive(archive.read_bytes()) as loaded:
        yield loaded


def test_every_install_command_of_the_readme_renders(chart, published_chart):
    """In order, as a reader runs them: --reuse-values keeps what the install before set."""
    previous: dict[str, Any] = {}
    charts = {LOCAL_CHART: chart, PUBLISHED_CHART: published_chart}
    for install in readme_installs():
        values = merged(previous, install["values"]) if install["reuse"] else install["values"]
        files = charts[install["chart"]].render(
            values, name=install["release"], namespace=install["namespace"]
        )
        rendered = Rendered(values, files)
        assert rendered.of_kind("Deployment"), install
        if install["chart"] == PUBLISHED_CHART and not install["reuse"]:
            # Nothing about images on the command line, and the release's images deployed.
            assert "image" not in values, install
            version = PLACEHOLDERS["<version>"]
            assert rendered.container("bird-api")["image"] == (
                f"docker.io/{PLACEHOLDERS['<owner>']}/bird-api:{version}@sha256:{'0' * 64}"
            )
        for doc in rendered.docs:
            assert doc["metadata"]["namespace"] == install["namespace"]
        previous = values
    # The Secrets the last install reads are the ones the README's kubectl creates: the Unsplash
    # key and the store's password, under the keys the chart reads.
    created = {
        words[words.index("generic") + 1]
        for words in shell_commands(README)
        if words[0] == "kubectl" and "secret" in words and "generic" in words
    }
    refs = [
        e["valueFrom"]["secretKeyRef"]
        for deployment in rendered.of_kind("Deployment")
        for e in rendered.container(deployment).get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    ]
    assert {ref["name"] for ref in refs} == created
    store_keys = re.search(r"printf '(\w+)=%s\\n(\w+)=", README)
    assert {ref["key"] for ref in refs if ref["name"] == "bird-valkey-password"} == set(store_keys.groups())


def _table_defaults() -> dict[str, str]:
    return dict(re.findall(r"^\| `([^`]+)` \| ([^|]+?) \|", README, flags=re.MULTILINE))


def _leaf_values(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaf_values(value, path + (key,))
    else:
        yield ".".join(path), node


def _as_cell(value: Any) -> str | None:
    """How the table writes a default, or None for one it describes in words (a non-empty list
    or map)."""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return '`""`'
    if value == [] or value == {}:
        return f"`{value}`"
    if isinstance(value, (list, dict)):
        return None
    return f"`{value}`"


def test_the_values_table_shows_the_defaults_of_values_yaml():
    """The table is a copy of values.yaml's defaults, so it is checked against it."""
    table = _table_defaults()
    wrong = {
        key: (table[key], _as_cell(value))
        for key, value in _leaf_values(chart_values())
        if key in table and _as_cell(value) is not None and table[key] != _as_cell(value)
    }
    assert wrong == {}
    assert len(table) > 90


def test_the_node_port_has_one_source():
    """values.yaml holds the node port; the README names the value, and shows the number only in
    the table row that is checked against values.yaml."""
    port = str(chart_values()["services"]["frontend"]["service"]["nodePort"])
    lines = [line for line in README.splitlines() if port in line]
    assert len(lines) == 1 and lines[0].startswith("| `services.frontend.service.nodePort` |"), lines
    assert (CHART_DIR / "values.yaml").read_text(encoding="utf-8").count(port) == 1


@pytest.mark.parametrize("placeholder", sorted(PLACEHOLDERS))
def test_every_placeholder_is_explained(placeholder):
    prose = re.sub(r"```.*?```", "", README, flags=re.DOTALL)
    assert f"`{placeholder}`" in prose


@pytest.mark.parametrize("block", re.findall(r"```yaml\n(.*?)```", README, flags=re.DOTALL))
def test_every_values_example_of_the_readme_renders(render, block):
    """Each example is a values file as given: it passes the schema and renders (where the
    cluster offers what it asks for)."""
    values = yaml.safe_load(block)
    rendered = render(values, api_versions=[SERVICE_MONITOR_API, PROMETHEUS_RULE_API])
    assert rendered.of_kind("Deployment")
    if values.get("metrics", {}).get("prometheusRule", {}).get("enabled"):
        assert rendered.of_kind("PrometheusRule")


# SPEC: a demo key allows 50 Unsplash calls an hour; bird's catalogue has twelve birds.
DEMO_KEY_CALLS_PER_HOUR = 50
CATALOGUE_BIRDS = 12


def test_a_fleet_through_its_store_spends_the_demo_key_quota_as_the_readme_shows(default):
    """From what the chart deploys: one allowance for the fleet, and while the store is down a
    tenth of it per pod (bird-image's fallback, max(1, N / 10)) at the HPA's maximum."""
    pods = default.get("HorizontalPodAutoscaler", "bird-image-api-hpa")["spec"]["maxReplicas"]
    env = default.env("bird-image-api")
    assert "CACHE_URL" in env, "the default is a fleet with a store"
    allowance = int(env["UNSPLASH_MAX_CALLS_PER_HOUR"])
    fallback = max(1, allowance // 10)
    ttl = int(env["CACHE_TTL_SECS"])
    assert allowance <= DEMO_KEY_CALLS_PER_HOUR
    assert pods * fallback <= DEMO_KEY_CALLS_PER_HOUR
    text = " ".join(README.split())
    assert f"`UNSPLASH_MAX_CALLS_PER_HOUR: {allowance}` is the allowance of the whole fleet" in text
    assert f"makes {CATALOGUE_BIRDS} calls for the {CATALOGUE_BIRDS} birds" in text
    assert f"max(1, {allowance} / 10) = {fallback} calls an hour" in text
    assert f"{pods} × {fallback} = {pods * fallback} calls an hour" in text
    assert f"`CACHE_TTL_SECS: {ttl}`" in text and ttl == 86400
    assert f"a warm fleet makes {CATALOGUE_BIRDS} calls a day" in text


def test_without_a_store_the_readme_divides_the_quota_by_the_pods(render_set):
    rendered = render_set("no-store")
    pods = rendered.get("HorizontalPodAutoscaler", "bird-image-api-hpa")["spec"]["maxReplicas"]
    per_pod = DEMO_KEY_CALLS_PER_HOUR // pods
    text = " ".join(README.split())
    assert f"{DEMO_KEY_CALLS_PER_HOUR} / {pods} = {per_pod} for a demo key" in text
    # A cold pod fetches the twelve birds at per_pod calls an hour.
    hours = -(-CATALOGUE_BIRDS // per_pod)
    assert f"three hours for the twelve birds ({per_pod} + {per_pod} + {CATALOGUE_BIRDS - 2 * per_pod}" in text and hours == 3
    assert f"ten warm pods make {pods} × {CATALOGUE_BIRDS} = {pods * CATALOGUE_BIRDS} calls a day" in text
