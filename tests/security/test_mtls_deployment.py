"""The mutual-TLS deployment files agree with the code (they cannot be run here).

docker-compose.tls.yml and deploy/k8s-tls/ layer TLS on the base files: every
setting they name exists, each process mounts its own certificate where its
TLS_* settings point, probes and metrics use the plain ports, URLs are https://,
and cert-manager issues a certificate for every identity `looklook certs` makes.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import yaml

from common.certs import IDENTITIES, Role
from common.settings import PROJECT_ROOT, Domain, Settings

SETTINGS = Settings()
OVERLAY = PROJECT_ROOT / "deploy" / "k8s-tls"
ROUTER_TLS_SETTINGS = {"TLS_ENABLED", "TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE"}


def _documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((OVERLAY / name).read_text()) if doc]


def _tls_dirs(env: dict[str, str]) -> set[PurePosixPath]:
    return {PurePosixPath(env[f"TLS_{f}_FILE"]).parent for f in ("CA", "CERT", "KEY")}


def test_compose_override_mounts_each_identity_and_probes_the_plain_port() -> None:
    base = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    override = yaml.safe_load((PROJECT_ROOT / "docker-compose.tls.yml").read_text())
    for name, service in override["services"].items():
        assert name in base["services"], name
        if name == "prometheus":
            continue
        env = service["environment"]
        names = set(env) - ROUTER_TLS_SETTINGS
        if name == "router":
            assert all(n.startswith("SUBGRAPH_") for n in names)
        else:
            assert all(n.lower() in Settings.model_fields for n in env), name
        [volume] = service["volumes"]
        source, target, mode = volume.rsplit(":", 2)
        assert mode == "ro" and {PurePosixPath(target)} == _tls_dirs(env), name
        identity = PurePosixPath(source).name
        assert identity == (name if name != "scheduler" else "worker")
        urls = [v for k, v in env.items() if k.endswith("_URL")]
        assert urls and all(url.startswith("https://") for url in urls), name
    for domain in Domain:
        test = override["services"][domain.value]["healthcheck"]["test"]
        assert f"127.0.0.1:{SETTINGS.plain_port(domain)}/readyz" in test[-1]


def test_kustomize_overlay_issues_and_mounts_every_identity() -> None:
    kustomization = _documents("kustomization.yaml")[0]
    assert "../k8s" in kustomization["resources"]
    certificates = {
        doc["metadata"]["name"]: doc["spec"]
        for doc in _documents("certificates.yaml")
        if doc["kind"] == "Certificate" and not doc["spec"].get("isCA")
    }
    for identity in IDENTITIES:
        usages = set(certificates[identity.name]["usages"])
        assert ("server auth" in usages) == (identity.role is Role.SERVER), identity.name
        assert "client auth" in usages
    [config] = _documents("config.yaml")
    data = config["data"]
    assert all(name.lower() in Settings.model_fields for name in data)
    assert all(v.startswith("https://") for k, v in data.items() if k.endswith("_INTERNAL_URL"))
    [mount_dir] = _tls_dirs(data)
    patches = [doc for name in ("subgraphs.yaml", "workers.yaml") for doc in _documents(name)]
    deployments = {doc["metadata"]["name"]: doc for doc in patches if doc["kind"] == "Deployment"}
    assert set(deployments) == {*(d.value for d in Domain), "worker", "scheduler"}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        [mount] = container["volumeMounts"]
        [volume] = pod["volumes"]
        assert PurePosixPath(mount["mountPath"]) == mount_dir and mount["name"] == volume["name"]
        secret = volume["secret"]["secretName"]
        owner = name if name in {d.value for d in Domain} else "worker"
        assert secret == certificates[owner]["secretName"], name
    for domain in Domain:
        plain = SETTINGS.plain_port(domain)
        deployment = deployments[domain.value]
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": plain}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": plain}
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(plain)
    [router] = _documents("router.yaml")
    [container] = router["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert set(env) >= ROUTER_TLS_SETTINGS and _tls_dirs(env) == {mount_dir}
    urls = [v for k, v in env.items() if k.startswith("SUBGRAPH_")]
    assert len(urls) == len(Domain) and all(u.startswith("https://") for u in urls)
    [volume] = router["spec"]["template"]["spec"]["volumes"]
    assert volume["secret"]["secretName"] == certificates["router"]["secretName"]
