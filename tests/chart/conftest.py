"""Fixtures that render bird-chart with real Helm (helm-python-sdk binds Helm's Go SDK), offline."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from .manifests import CHART_DIR, NAMESPACE, RELEASE, VALUE_SETS, Rendered, with_required

try:
    import helm_python as helm
except ImportError as exc:  # a missing tool must fail the suite, never skip it
    raise RuntimeError(
        "helm-python-sdk is missing: run `make test-deploy` or "
        "`.venv/bin/pip install -r tests/requirements.txt`"
    ) from exc


@pytest.fixture(scope="session")
def chart():
    with helm.Chart.load(CHART_DIR) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(chart) -> Callable[..., Rendered]:
    """render(values, release=..., namespace=...) -> Rendered, cached; adds the image owner."""
    cache: dict[str, Rendered] = {}

    def _render(
        values: dict[str, Any] | None = None, release: str = RELEASE, namespace: str = NAMESPACE
    ) -> Rendered:
        values = copy.deepcopy(values or {})
        key = json.dumps([values, release, namespace], sort_keys=True)
        if key not in cache:
            files = chart.render(
                with_required(values), name=release, namespace=namespace, is_install=True
            )
            cache[key] = Rendered(values, files)
        return cache[key]

    return _render


@pytest.fixture(scope="session")
def default(render) -> Rendered:
    return render(VALUE_SETS["default"])


@pytest.fixture(params=sorted(VALUE_SETS), scope="session")
def value_set(request, render) -> tuple[str, Rendered]:
    return request.param, render(VALUE_SETS[request.param])
