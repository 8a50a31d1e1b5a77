"""The running system for end-to-end tests: WeChat sandbox, subgraphs and the router."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from common import devrunner
from common.devrunner import Supervisor, wait_until_up
from common.settings import PROJECT_ROOT, Domain, get_settings
from common.subgraphs import app_path, available_domains
from tests.support.backends import free_port


@dataclass
class Stack:
    env: dict[str, str]
    supervisor: Supervisor = field(default_factory=Supervisor)
    subgraph_urls: dict[Domain, str] = field(default_factory=dict)
    router_url: str = ""
    sandbox_url: str = ""

    def start(self) -> None:
        python = sys.executable
        sandbox_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        env = {**self.env, "SANDBOX_PORT": str(sandbox_port), "WECHAT_API_BASE": self.sandbox_url}
        self.env = env
        sandbox = self.supervisor.start("sandbox", [python, "-m", "sandbox"], env=env)
        wait_until_up(f"{self.sandbox_url}/healthz", sandbox)
        for domain in available_domains():
            port = free_port()
            process = self.supervisor.start(
                domain.value,
                [python, "-m", "uvicorn", app_path(domain), "--host", "127.0.0.1",
                 "--port", str(port), "--no-access-log"],
                env=env,
            )  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            wait_until_up(f"{base}/healthz", process)
            self.subgraph_urls[domain] = f"{base}/graphql"
            # Later subgraphs call earlier ones directly (orders asks travel for prices).
            env[f"{domain.value.upper()}_INTERNAL_URL"] = f"{base}/graphql"
        self.router_url = self.start_router()

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
        router = self.supervisor.start(
            "router", devrunner.router_command(), cwd=devrunner.ROUTER_DIR, env=env
        )
        wait_until_up(f"http://127.0.0.1:{port}/readiness", router, timeout=90)
        return f"http://127.0.0.1:{port}/graphql"

    def stop(self) -> None:
        self.supervisor.stop_all()
