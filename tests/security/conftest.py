"""A production-mode front door: subgraphs and a router as deployed (ENV=production).

The suite-wide stack runs in test mode; these tests need what production does
(hidden schema, admin port), and a subgraph whose log they can read.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from common.devrunner import free_port, wait_until_up
from common.settings import Domain
from common.subgraphs import app_path
from tests.support.graphql import GraphQLClient
from tests.support.stack import Stack

# Production refuses the sandbox's APIv3 key and the development internal token;
# any other values will do here.
PRODUCTION = {
    "ENV": "production",
    "WECHAT_PAY_APIV3_KEY": "p" * 32,
    "INTERNAL_TOKEN": "production-internal-token-for-the-security-suite",
}
# Short, so a request the router mishandles around its upstream timeout shows within
# the test (the deep-variable crash happened when that timer fired).
UPSTREAM_TIMEOUT_MS = 4000


@dataclass
class LoggedSubgraph:
    url: str
    log: Path

    def errors_logged(self) -> list[str]:
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return [line for line in lines if "ERROR" in line or "Traceback" in line]


def start_logged_subgraph(
    stack: Stack, domain: Domain, log: Path, **overrides: str
) -> LoggedSubgraph:
    """A subgraph process whose output goes to `log`; it stops with the stack."""
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - argv is ours
            [sys.executable, "-m", "uvicorn", app_path(domain), "--host", "127.0.0.1",
             "--port", str(port), "--no-access-log"],
            env={**stack.env, "LOG_LEVEL": "INFO", **overrides},
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    stack.supervisor.children.append((f"{domain.value}-logged", process))
    base = f"http://127.0.0.1:{port}"
    wait_until_up(f"{base}/healthz", process)
    return LoggedSubgraph(url=f"{base}/graphql", log=log)


@pytest.fixture(scope="module")
def production_orders(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> LoggedSubgraph:
    log = tmp_path_factory.mktemp("orders-log") / "orders.log"
    return start_logged_subgraph(stack, Domain.ORDERS, log, **PRODUCTION)


@pytest.fixture(scope="module")
def production_users(stack: Stack) -> GraphQLClient:
    return GraphQLClient(stack.start_subgraph(Domain.USERS, **PRODUCTION))


@pytest.fixture(scope="module")
def production_travel(stack: Stack) -> GraphQLClient:
    return GraphQLClient(stack.start_subgraph(Domain.TRAVEL, **PRODUCTION))


@dataclass
class ProductionRouter:
    client: GraphQLClient
    admin_url: str
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return self.client.url


@pytest.fixture(scope="module")
def production_router(
    stack: Stack,
    production_orders: LoggedSubgraph,
    production_travel: GraphQLClient,
    production_users: GraphQLClient,
) -> ProductionRouter:
    admin_port = free_port()
    url = stack.start_router(
        **PRODUCTION,
        ROUTER_ADMIN_PORT=str(admin_port),
        ROUTER_UPSTREAM_TIMEOUT_MS=str(UPSTREAM_TIMEOUT_MS),
        SUBGRAPH_ORDERS_URL=production_orders.url,
        SUBGRAPH_TRAVEL_URL=production_travel.url,
        SUBGRAPH_USERS_URL=production_users.url,
    )
    _, process = stack.supervisor.children[-1]
    return ProductionRouter(GraphQLClient(url), f"http://127.0.0.1:{admin_port}", process)
