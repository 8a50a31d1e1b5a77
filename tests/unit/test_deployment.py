"""The deployment files agree with the code: settings exist, commands parse, ports and probes match.

docker-compose.yml and deploy/k8s/ cannot be run here; these checks catch what
would only show at deploy time: a misspelt setting (silently ignored), a command
the CLI refuses, a probe or Service pointing at the wrong port.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.cli import build_parser
from common.settings import PROJECT_ROOT, Domain, Settings
from workers.broker import DEFAULT_PROMETHEUS_PORT

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
        [volume] = [v for v in workload["spec"]["template"]["spec"]["volumes"] if "secret" in v]
        [mount] = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
        assert mount["name"] == volume["name"] and mount["readOnly"] is True
        mounted = {f"{mount['mountPath']}/{item['path']}" for item in volume["secret"]["items"]}
        assert mounted == key_paths, name


# --- operations: hardening, migrations first, disruption budgets, ingress, tracing ---------


def _patches() -> dict[str, dict[str, Any]]:
    """The kustomization's patches by file name: their target and their JSON-patch operations."""
    kustomization = _documents(K8S_DIR / "kustomization.yaml")[0]
    return {
        entry["path"]: {
            "target": entry["target"],
            "ops": yaml.safe_load((K8S_DIR / entry["path"]).read_text()),
        }
        for entry in kustomization.get("patches", [])
    }


def _targets(target: dict[str, str]) -> set[str]:
    return {
        name
        for name, doc in _of_kind(target["kind"]).items()
        if re.fullmatch(target.get("name", ".*"), name) and doc["metadata"]["name"] == name
    }


def _op(ops: list[dict[str, Any]], path: str) -> Any:
    [value] = [op["value"] for op in ops if op["op"] == "add" and op["path"] == path]
    return value


def test_every_deployment_runs_non_root_on_a_read_only_filesystem() -> None:
    hardening = _patches()["patches/hardening.yaml"]
    assert _targets(hardening["target"]) == set(_of_kind("Deployment"))
    pod = _op(hardening["ops"], "/spec/template/spec/securityContext")
    assert pod["runAsNonRoot"] is True
    container = _op(hardening["ops"], "/spec/template/spec/containers/0/securityContext")
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    for name, deployment in _of_kind("Deployment").items():
        assert len(_containers(deployment)) == 1, f"{name}: the patch hardens containers[0] only"
    # runAsNonRoot needs a numeric user in the image to be checked.
    for dockerfile in (PROJECT_ROOT / "Dockerfile", PROJECT_ROOT / "router" / "Dockerfile"):
        users = re.findall(r"^USER (\S+)$", dockerfile.read_text(), flags=re.MULTILINE)
        assert users and re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]), dockerfile


def test_python_deployments_wait_for_the_migrate_job() -> None:
    wait = _patches()["patches/wait-for-migrations.yaml"]
    python = {
        name
        for name, deployment in _of_kind("Deployment").items()
        if _containers(deployment)[0]["image"] in PYTHON_IMAGES
    }
    assert _targets(wait["target"]) == python
    [init] = _op(wait["ops"], "/spec/template/spec/initContainers")
    assert init["image"] in PYTHON_IMAGES
    assert build_parser().parse_args(init["args"]).wait is True
    [job] = _containers({"spec": _of_kind("Job")["migrate"]["spec"]})
    assert job["args"] == ["migrate"]


def test_every_container_has_resources_and_the_serving_ones_probes() -> None:
    for name, deployment in _of_kind("Deployment").items():
        [container] = _containers(deployment)
        resources = container["resources"]
        assert resources["requests"]["cpu"] and resources["requests"]["memory"], name
        assert resources["limits"]["memory"], name
        if container.get("ports"):
            assert container["readinessProbe"] and container["livenessProbe"], name


def test_replicated_deployments_have_disruption_budgets() -> None:
    budgets = {
        tuple(sorted(pdb["spec"]["selector"]["matchLabels"].items())): pdb
        for pdb in _of_kind("PodDisruptionBudget").values()
    }
    for name, deployment in _of_kind("Deployment").items():
        if deployment["spec"]["replicas"] < 2:
            continue
        labels = tuple(sorted(deployment["spec"]["selector"]["matchLabels"].items()))
        assert labels in budgets, name
        assert budgets[labels]["spec"]["minAvailable"] < deployment["spec"]["replicas"], name


def test_the_ingress_exposes_graphql_and_only_the_notify_path_of_payments() -> None:
    [ingress] = _of_kind("Ingress").values()
    services = _of_kind("Service")
    routes = {
        (rule["host"], path["path"]): path["backend"]["service"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    backends = {path: backend["name"] for (_, path), backend in routes.items()}
    assert backends == {"/graphql": "router", "/wechatpay/notify": "payments"}
    for backend in routes.values():
        ports = [p["port"] for p in services[backend["name"]]["spec"]["ports"]]
        assert backend["port"]["number"] in ports
    notify_url = _of_kind("ConfigMap")["looklook-config"]["data"]["WECHAT_PAY_NOTIFY_URL"]
    match = re.fullmatch(r"https://([^/]+)(/.*)", notify_url)
    assert match and (match.group(1), match.group(2)) in routes


def test_traces_go_through_one_collector_config_to_jaeger() -> None:
    collector = yaml.safe_load((PROJECT_ROOT / "deploy" / "otel-collector.yaml").read_text())
    in_k8s = yaml.safe_load(_of_kind("ConfigMap")["otel-collector"]["data"]["config.yaml"])
    assert in_k8s == collector
    assert collector["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    services = _of_kind("Service")
    assert 4317 in [p["port"] for p in services["jaeger"]["spec"]["ports"]]
    assert 4318 in [p["port"] for p in services["otel-collector"]["spec"]["ports"]]
    config = _of_kind("ConfigMap")["looklook-config"]["data"]
    [router] = _containers(_of_kind("Deployment")["router"])
    router_env = {e["name"]: e["value"] for e in router["env"]}
    compose = _documents(PROJECT_ROOT / "docker-compose.yml")[0]
    endpoints = {
        config["OTEL_EXPORTER_OTLP_ENDPOINT"],
        router_env["OTEL_EXPORTER_OTLP_ENDPOINT"],
        compose["x-python"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"],
        compose["services"]["router"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"],
    }
    assert endpoints == {"http://otel-collector:4318"}
    assert "otel-collector" in compose["services"]


def test_the_router_image_is_self_contained() -> None:
    dockerfile = (PROJECT_ROOT / "router" / "Dockerfile").read_text()
    assert "COPY schema/supergraph.graphql /schema/supergraph.graphql" in dockerfile
    assert "SUPERGRAPH_PATH=/schema/supergraph.graphql" in dockerfile
    assert "npx" not in dockerfile.split("CMD", 1)[1]
    compose = _documents(PROJECT_ROOT / "docker-compose.yml")[0]
    assert compose["services"]["router"]["build"] == {
        "context": ".",
        "dockerfile": "router/Dockerfile",
    }
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    assert {"data", "router/node_modules", ".venv", ".env"} <= set(ignored)


def test_the_router_image_runs_the_node_major_that_dev_tests_and_bench_run() -> None:
    """Dev, tests and `make bench` run the router on the `node` pinned in package.json;
    the image brings its own Node. Measured on one, deployed on the other, if they drift."""
    package = json.loads((PROJECT_ROOT / "router" / "package.json").read_text())
    pinned_major = package["devDependencies"]["node"].split(".")[0]
    assert package["allowScripts"]["node"] is True  # its install script fetches the binary
    dockerfile = (PROJECT_ROOT / "router" / "Dockerfile").read_text()
    image = re.search(r"^FROM node:(\d+)-slim$", dockerfile, re.MULTILINE)
    assert image is not None, "router/Dockerfile: FROM node:<major>-slim"
    assert image.group(1) == pinned_major


def test_grafana_is_provisioned_from_the_repository() -> None:
    compose = _documents(PROJECT_ROOT / "docker-compose.yml")[0]
    for volume in compose["services"]["grafana"]["volumes"]:
        source = volume.split(":")[0]
        assert (PROJECT_ROOT / source).is_dir(), source
    datasources = yaml.safe_load(
        (PROJECT_ROOT / "deploy/grafana/provisioning/datasources/prometheus.yaml").read_text()
    )
    [prometheus] = datasources["datasources"]
    assert prometheus["url"] == "http://prometheus:9090" and "prometheus" in compose["services"]


# Dramatiq's exposition server (its `dramatiq_prom_port`, unchanged by the deployments).
WORKER_METRICS_PORT = DEFAULT_PROMETHEUS_PORT


def _metrics_endpoints(*, tls: bool) -> set[str]:
    """host:port of every process's /metrics in compose, from the code's own defaults."""
    compose = _documents(PROJECT_ROOT / "docker-compose.yml")[0]
    router_admin = compose["services"]["router"]["environment"]["ROUTER_ADMIN_PORT"]
    subgraphs = {f"{d.value}:{SETTINGS.plain_port(d) if tls else SETTINGS.port(d)}" for d in Domain}
    return subgraphs | {
        f"worker:{WORKER_METRICS_PORT}",
        f"scheduler:{SETTINGS.scheduler_metrics_port}",
        f"router:{router_admin}",
    }


@pytest.mark.parametrize("config, tls", [("prometheus.yml", False), ("prometheus-tls.yml", True)])
def test_prometheus_scrapes_every_process_in_compose(config: str, tls: bool) -> None:
    scrape = yaml.safe_load((PROJECT_ROOT / "deploy" / config).read_text())
    targets = {
        target
        for job in scrape["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets == _metrics_endpoints(tls=tls)
    services = _documents(PROJECT_ROOT / "docker-compose.yml")[0]["services"]
    assert {target.split(":")[0] for target in targets} <= set(services)


def test_every_k8s_process_with_metrics_is_annotated_for_prometheus() -> None:
    deployments = _of_kind("Deployment")
    [router] = _containers(deployments["router"])
    router_env = {e["name"]: e.get("value") for e in router.get("env", [])}
    expected = {
        **{d.value: SETTINGS.port(d) for d in Domain},
        "worker": WORKER_METRICS_PORT,
        "scheduler": SETTINGS.scheduler_metrics_port,
        "router": int(router_env["ROUTER_ADMIN_PORT"]),
    }
    config = _of_kind("ConfigMap")["looklook-config"]["data"]
    assert config.get("SCHEDULER_METRICS_PORT", str(SETTINGS.scheduler_metrics_port)) != "0"
    for name, port in expected.items():
        annotations = deployments[name]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == str(port), name
        [container] = _containers(deployments[name])
        assert port in [p["containerPort"] for p in container.get("ports", [])], name
