"""Grafana's dashboards query only metrics some process exports.

A renamed metric (or a dashboard typo) would otherwise show as an empty panel in
production, the one place nobody looks until there is an incident. Exported names
come from the code itself: our prometheus_client registry, Dramatiq's Prometheus
middleware and the router's Prometheus plugins (Hive Gateway, Yoga, Envelop).
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest
from dramatiq.middleware import prometheus as dramatiq_prometheus
from prometheus_client import REGISTRY

import common.metrics  # noqa: F401 - registers the subgraphs' metrics
from common.settings import PROJECT_ROOT

DASHBOARDS = sorted((PROJECT_ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
ROUTER_PLUGINS = [
    PROJECT_ROOT / "router" / "node_modules" / package
    for package in ("@graphql-mesh/plugin-prometheus", "@graphql-yoga/plugin-prometheus",
                    "@envelop/prometheus")
]  # fmt: skip
METRIC = re.compile(r"\b(?:graphql|db|dramatiq|looklook)_[a-z0-9_]+")
SERIES_SUFFIXES = ("", "_bucket", "_count", "_sum", "_total")


def _with_suffixes(names: set[str]) -> set[str]:
    return {name + suffix for name in names for suffix in SERIES_SUFFIXES}


def _router_metrics() -> set[str]:
    if not all(path.is_dir() for path in ROUTER_PLUGINS):
        pytest.skip("router dependencies not installed (make install-router)")
    names: set[str] = set()
    for package in ROUTER_PLUGINS:
        for source in package.rglob("*.js"):
            names |= set(re.findall(r"[\"'`](graphql_[a-z_]+)[\"'`]", source.read_text()))
    return names


def exported_metrics() -> set[str]:
    ours = set(REGISTRY._names_to_collectors)  # every series name, suffixes included
    worker = set(re.findall(r'"(dramatiq_[a-z_]+)"', inspect.getsource(dramatiq_prometheus)))
    return ours | _with_suffixes(worker | _router_metrics())


def queried_metrics(dashboard: Path) -> set[str]:
    def exprs(node: object) -> list[str]:
        if isinstance(node, dict):
            own = [node["expr"]] if isinstance(node.get("expr"), str) else []
            return own + [e for value in node.values() for e in exprs(value)]
        if isinstance(node, list):
            return [e for value in node for e in exprs(value)]
        return []

    return {
        name for expr in exprs(json.loads(dashboard.read_text())) for name in METRIC.findall(expr)
    }


def test_there_are_dashboards() -> None:
    assert DASHBOARDS


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda path: path.name)
def test_every_queried_metric_is_exported(dashboard: Path) -> None:
    queried = queried_metrics(dashboard)
    assert queried, "no PromQL found"
    assert sorted(queried - exported_metrics()) == []
