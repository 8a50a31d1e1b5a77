"""The running system for end-to-end tests: WeChat sandbox, subgraphs and the router.

Background jobs (the Dramatiq worker and the scheduler) start on demand with
`start_background`, and stop with the returned supervisor: the scheduler's
sweeper and outbox relay act on every order in the test databases, so only
the tests about them should have them running.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from common import devrunner
from common.devrunner import Supervisor, free_port, wait_until_up
from common.settings import PROJECT_ROOT, Domain, Settings, get_settings
from common.subgraphs import app_path, available_domains

# As `looklook serve` runs them: idle connections outlive the router's own idle timeout.
KEEP_ALIVE = str(Settings.model_fields["keep_alive_seconds"].default)

# Dramatiq workers announce themselves here while they poll their queues.
WORKER_HEARTBEATS = "dramatiq:__heartbeats__"
# A worker that exits fails at once; one still importing is waited for (a loaded CI box
# took over 30 s): this only bounds a hung boot.
WORKER_BOOT_SECONDS = 180.0


@dataclass
class Stack:
    env: dict[str, str]
    supervisor: Supervisor = field(default_factory=Supervisor)
    subgraph_urls: dict[Domain, str] = field(default_factory=dict)
    router_url: str = ""
    sandbox_url: str = ""
    reserved_ports: dict[Domain, int] = field(default_factory=dict)

    def start(self) -> None:
        python = sys.executable
        sandbox_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        env = {**self.env, "SANDBOX_PORT": str(sandbox_port), "WECHAT_API_BASE": self.sandbox_url}
        self.env = env
        sandbox = self.supervisor.start("sandbox", [python, "-m", "sandbox"], env=env)
        wait_until_up(f"{self.sandbox_url}/healthz", sandbox)
        # Subgraphs call each other directly (orders asks travel for prices, travel asks
        # orders about a reviewed order): every address is known before any starts.
        for domain in available_domains():
            self.reserved_ports[domain] = free_port()
            env[f"{domain.value.upper()}_INTERNAL_URL"] = self.graphql_url(
                self.reserved_ports[domain]
            )
        for domain in available_domains():
            self.subgraph_urls[domain] = self.start_subgraph(domain)
        self.router_url = self.start_router()

    def graphql_url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}/graphql"

    def subgraph_port(self, domain: Domain) -> int:
        """The port reserved for the domain's first process, else a free one (a replica)."""
        return self.reserved_ports.pop(domain, None) or free_port()

    def start_subgraph(self, domain: Domain, **overrides: str) -> str:
        """Start one subgraph process (another replica, or one with other settings).

        Returns its GraphQL URL; it stops with the stack.
        """
        port = self.subgraph_port(domain)
        if domain is Domain.PAYMENTS:  # WeChat Pay must call this very process back
            notify_url = f"http://127.0.0.1:{port}/wechatpay/notify"
            overrides = {"WECHAT_PAY_NOTIFY_URL": notify_url, **overrides}
            self.env.setdefault("WECHAT_PAY_NOTIFY_URL", notify_url)  # workers' refunds too
        process = self.supervisor.start(
            domain.value,
            [sys.executable, "-m", "uvicorn", app_path(domain), "--host", "127.0.0.1",
             "--port", str(port), "--no-access-log", "--timeout-keep-alive", KEEP_ALIVE],
            env={**self.env, **overrides},
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/healthz", process)
        return f"{base}/graphql"

    def _background_env(self, metrics_dir: Path, overrides: dict[str, str]) -> dict[str, str]:
        return {
            **self.env,
            "dramatiq_prom_port": str(free_port()),
            "dramatiq_prom_db": str(metrics_dir),
            "SCHEDULER_METRICS_PORT": str(free_port()),
            **overrides,
        }

    def start_scheduler(self, metrics_dir: Path, **overrides: str) -> Supervisor:
        """Start `looklook scheduler` alone (the worker is down); stop it with the result."""
        background = Supervisor()
        env = self._background_env(metrics_dir, overrides)
        background.start("scheduler", [sys.executable, "-m", "common.cli", "scheduler"], env=env)
        return background

    def start_background(self, metrics_dir: Path, **overrides: str) -> Supervisor:
        """Start `looklook worker` and `looklook scheduler`; stop them with the result.

        Returns once the worker polls its queues (its heartbeat is in Redis), so
        a message sent afterwards is picked up without a cold-start delay.
        """
        background = Supervisor()
        env = self._background_env(metrics_dir, overrides)
        cli = [sys.executable, "-m", "common.cli"]
        client = redis.Redis.from_url(self.env["REDIS_URL"])
        earlier = set(client.zrange(WORKER_HEARTBEATS, 0, -1))  # stopped workers linger there
        worker = background.start("worker", [*cli, "worker", "--threads", "2"], env=env)
        background.start("scheduler", [*cli, "scheduler"], env=env)
        try:
            deadline = time.monotonic() + WORKER_BOOT_SECONDS
            while not set(client.zrange(WORKER_HEARTBEATS, 0, -1)) - earlier:
                if worker.poll() is not None or time.monotonic() > deadline:
                    background.stop_all()
                    raise RuntimeError("the worker did not start")
                time.sleep(0.1)
        finally:
            client.close()
        return background

    def start_router(self, **overrides: str) -> str:
        """Start a router in front of the running subgraphs; returns its GraphQL URL."""
        port = free_port()
        env = {
            **self.env,
            **devrunner.router_env(get_settings()),
            **{f"SUBGRAPH_{d.value.upper()}_URL": url for d, url in self.subgraph_urls.items()},
            "ROUTER_PORT": str(port),
            "SUPERGRAPH_PATH": str(PROJECT_ROOT / "schema" / "supergraph.graphql"),
            **overrides,
        }
        if env["ENV"] == "production" and "ROUTER_ADMIN_PORT" not in overrides:
            # Production serves /metrics on an admin port: a free one, so routers never collide.
            env["ROUTER_ADMIN_PORT"] = str(free_port())
        router = self.supervisor.start(
            "router", devrunner.router_command(), cwd=devrunner.ROUTER_DIR, env=env
        )
        wait_until_up(f"http://127.0.0.1:{port}/readiness", router, timeout=90)
        return f"http://127.0.0.1:{port}/graphql"

    def stop(self) -> None:
        self.supervisor.stop_all()
