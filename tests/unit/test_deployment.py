"""The deployment files agree with the code: settings exist, commands parse, ports and probes match.

docker-compose.yml and deploy/k8s/ cannot be run here; these checks catch what
would only show at deploy time: a misspelt setting (silently ignored), a command
the CLI refuses, a probe or Service pointing at the wrong port.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.cli import build_parser
from common.settings import PROJECT_ROOT, Domain, Settings

K8S_DIR = PROJECT_ROOT / "deploy" / "k8s"
SETTINGS = Settings()
# The router's settings (router/README.md) and the standard OpenTelemetry variables.
ROUTER_SETTING = re.compile(
    r"^(ENV|LOG_LEVEL|ROUTER_[A-Z_]+|SUBGRAPH_[A-Z]+_URL|SUPERGRAPH_PATH|OTEL_[A-Z_]+)$"
)
PYTHON_IMAGES = {"looklook-graphql"}


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _k8s() -> list[dict[str, Any]]:
    kustomization = _documents(K8S_DIR / "kustomization.yaml")[0]
    return [doc for name in kustomization["resources"] for doc in _documents(K8S_DIR / name)]


def _of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in _k8s() if doc["kind"] == kind}


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    return containers


def _is_python_setting(name: str) -> bool:
    return name.lower() in Settings.model_fields or name.startswith("OTEL_EXPORTER_OTLP_")


def test_every_kustomize_resource_exists_and_parses() -> None:
    kinds = {doc["kind"] for doc in _k8s()}
    assert {"ConfigMap", "Job", "Deployment", "Service"} <= kinds


def test_the_config_map_names_only_real_settings() -> None:
    config = _of_kind("ConfigMap")["looklook-config"]["data"]
    assert [name for name in config if not _is_python_setting(name)] == []
    # The values production refuses to start without come from `looklook-secrets`.
    secrets = {"jwt_secret": "s" * 40, "wechat_pay_apiv3_key": "k" * 32, "internal_token": "i" * 40}
    Settings.model_validate({name.lower(): value for name, value in config.items()} | secrets)


def test_compose_names_only_real_settings() -> None:
    compose = _documents(PROJECT_ROOT / "docker-compose.yml")[0]
    python_env = compose["x-python"]["environment"]
    assert [name for name in python_env if not _is_python_setting(name)] == []
    router_env = compose["services"]["router"]["environment"]
    assert [name for name in router_env if not ROUTER_SETTING.match(name)] == []


def _python_commands() -> list[list[str]]:
    compose = _documents(PROJECT_ROOT / "docker-compose.yml")[0]
    commands = [
        service["command"]
        for service in compose["services"].values()
        if "command" in service
        and service.get("image", compose["x-python"]["image"])
        and "build" in service
        and service["build"] == "."
    ]
    for kind in ("Deployment", "Job"):
        for workload in _of_kind(kind).values():
            commands += [c["args"] for c in _containers(workload) if c["image"] in PYTHON_IMAGES]
    return commands


@pytest.mark.parametrize("command", _python_commands(), ids=" ".join)
def test_every_process_command_parses(command: list[str]) -> None:
    build_parser().parse_args(command)


@pytest.mark.parametrize("domain", list(Domain))
def test_each_subgraph_serves_probes_and_service_on_its_port(domain: Domain) -> None:
    port = SETTINGS.port(domain)
    deployment = _of_kind("Deployment")[domain.value]
    [container] = _containers(deployment)
    assert container["args"] == ["serve", domain.value]
    assert [p["containerPort"] for p in container["ports"]] == [port]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    service = _of_kind("Service")[domain.value]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(port, port)]


def test_internal_and_router_urls_reach_the_subgraph_services() -> None:
    services = _of_kind("Service")
    config = _of_kind("ConfigMap")["looklook-config"]["data"]
    [router] = _containers(_of_kind("Deployment")["router"])
    router_env = {e["name"]: e["value"] for e in router["env"]}
    urls = {n: v for n, v in config.items() if n.endswith("_INTERNAL_URL")}
    urls |= {n: v for n, v in router_env.items() if n.startswith("SUBGRAPH_")}
    assert len(urls) == 4 + len(Domain)
    for name, url in urls.items():
        match = re.fullmatch(r"http://([a-z]+):(\d+)/graphql", url)
        assert match, f"{name}={url}"
        host, port = match.group(1), int(match.group(2))
        assert host in services and services[host]["spec"]["ports"][0]["port"] == port, name


def test_processes_holding_the_wechat_pay_keys_mount_them_where_the_config_says() -> None:
    config = _of_kind("ConfigMap")["looklook-config"]["data"]
    key_paths = {config["WECHAT_PAY_PRIVATE_KEY_PATH"], config["WECHAT_PAY_PUBLIC_KEY_PATH"]}
    for name in ("payments", "worker", "scheduler"):
        workload = _of_kind("Deployment")[name]
        [container] = _containers(workload)
        [volume] = workload["spec"]["template"]["spec"]["volumes"]
        [mount] = container["volumeMounts"]
        assert mount["name"] == volume["name"] and mount["readOnly"] is True
        mounted = {f"{mount['mountPath']}/{item['path']}" for item in volume["secret"]["items"]}
        assert mounted == key_paths, name
