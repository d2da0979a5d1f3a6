"""Fixtures that render bird-chart with real Helm (helm-python-sdk binds Helm's Go SDK), offline."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable, Sequence

import pytest

from .manifests import (
    API_VERSIONS,
    CHART_DIR,
    NAMESPACE,
    RELEASE,
    VALUE_SETS,
    Rendered,
    with_required,
)

try:
    import helm_python as helm
    from helm_python import _native
except ImportError as exc:  # a missing tool must fail the suite, never skip it
    raise RuntimeError(
        "helm-python-sdk is missing: run `make test-deploy` or "
        "`.venv/bin/pip install -r tests/requirements.txt`"
    ) from exc


def render_files(
    chart: helm.Chart,
    values: dict[str, Any],
    *,
    name: str,
    namespace: str,
    api_versions: Sequence[str] = (),
) -> dict[str, str]:
    """Chart.render, plus the API versions a cluster offers beyond Kubernetes' own (what
    `helm template --api-versions` sets). The SDK's Chart.render does not pass that option on,
    so this makes the same native call with it."""
    options = {"name": name, "namespace": namespace, "is_install": True}
    if api_versions:
        options["api_versions"] = list(api_versions)
    manifests = _native.call_string(
        "helm_render", chart._raw(), json.dumps(values), json.dumps(options)
    )
    return json.loads(manifests)


@pytest.fixture(scope="session")
def chart():
    with helm.Chart.load(CHART_DIR) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(chart) -> Callable[..., Rendered]:
    """render(values, release=..., namespace=..., api_versions=...) -> Rendered, cached; adds the
    image owner."""
    cache: dict[str, Rendered] = {}

    def _render(
        values: dict[str, Any] | None = None,
        release: str = RELEASE,
        namespace: str = NAMESPACE,
        api_versions: Sequence[str] = (),
    ) -> Rendered:
        values = copy.deepcopy(values or {})
        key = json.dumps([values, release, namespace, list(api_versions)], sort_keys=True)
        if key not in cache:
            files = render_files(
                chart,
                with_required(values),
                name=release,
                namespace=namespace,
                api_versions=api_versions,
            )
            cache[key] = Rendered(values, files)
        return cache[key]

    return _render


@pytest.fixture(scope="session")
def render_set(render) -> Callable[[str], Rendered]:
    """One of VALUE_SETS, on a cluster that offers what the set needs (API_VERSIONS)."""
    return lambda name: render(VALUE_SETS[name], api_versions=API_VERSIONS.get(name, ()))


@pytest.fixture(scope="session")
def default(render_set) -> Rendered:
    return render_set("default")


@pytest.fixture(params=sorted(VALUE_SETS), scope="session")
def value_set(request, render_set) -> tuple[str, Rendered]:
    return request.param, render_set(request.param)
