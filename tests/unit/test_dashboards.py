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

import dramatiq
import pytest
from dramatiq.middleware import prometheus as dramatiq_prometheus
from prometheus_client import REGISTRY

import common.metrics  # noqa: F401 - registers the subgraphs' metrics
import workers.metrics
from common.metrics import known_operation_names
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
    # The worker's backlog gauges are collected on each scrape (GaugeMetricFamily).
    backlog = set(re.findall(r'"(looklook_[a-z_]+)"', inspect.getsource(workers.metrics)))
    return ours | _with_suffixes(worker | backlog | _router_metrics())


def _exprs(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return own + [e for value in node.values() for e in _exprs(value)]
    if isinstance(node, list):
        return [e for value in node for e in _exprs(value)]
    return []


def exprs(dashboard: Path) -> list[str]:
    return _exprs(json.loads(dashboard.read_text()))


def queried_metrics(dashboard: Path) -> set[str]:
    return {name for expr in exprs(dashboard) for name in METRIC.findall(expr)}


def label_values(dashboard: Path, label: str) -> set[str]:
    pattern = re.compile(rf'\b{label}="([^"]+)"')
    return {value for expr in exprs(dashboard) for value in pattern.findall(expr)}


def test_there_are_dashboards() -> None:
    assert DASHBOARDS


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda path: path.name)
def test_every_queried_metric_is_exported(dashboard: Path) -> None:
    queried = queried_metrics(dashboard)
    assert queried, "no PromQL found"
    assert sorted(queried - exported_metrics()) == []


# What an operator needs on the first day (and what the code exports for it).
REQUIRED = {
    "graphql_envelop_request_duration_bucket",  # router: per-operation latency
    "graphql_envelop_error_result",  # router: errors
    "graphql_operation_duration_seconds_bucket",  # subgraphs: per-operation latency
    "graphql_operations_total",  # subgraphs: errors, the funnel
    "db_statements_total",  # SQL statements
    "dramatiq_messages_total",  # queues
    "looklook_dead_letters",
    "looklook_outbox_lag_seconds",
    "looklook_outbox_parked",
    "looklook_live_subscriptions",
    "looklook_payments_unconverged",  # the scheduler's money metrics
    "looklook_refunds_stuck",
    "looklook_payment_repairs_total",
    "looklook_refund_failures_total",
}


def test_the_dashboards_show_what_operators_need() -> None:
    queried = set().union(*(queried_metrics(d) for d in DASHBOARDS))
    assert sorted(REQUIRED - queried) == []


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda path: path.name)
def test_label_values_exist(dashboard: Path) -> None:
    """A panel filtering on an unknown operation name (counted as `other`) or actor stays
    empty forever."""
    # Imported here, not at collection: importing it configures the process's broker from
    # the settings of that moment, before the suite's backends are in the environment.
    import workers.actors  # noqa: F401 - declares every actor on the broker

    actors = set(dramatiq.get_broker().get_declared_actors())
    assert sorted(label_values(dashboard, "actor_name") - actors) == []
    names = known_operation_names()
    assert sorted(label_values(dashboard, "operation_name") - names) == []
