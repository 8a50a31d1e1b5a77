"""`python -m bench.run live`: how long a payer waits to see their payment succeed.

One round: a mini-program user books a homestay, starts WeChat Pay, subscribes to
`paymentStatus(orderSn)` through the router (WebSocket, graphql-transport-ws), and
pays in the WeChat sandbox (`POST /sandbox/pay`). Measured: from sending the pay
request to the subscription's SUCCESS event, i.e. sandbox → signed notification →
`POST /wechatpay/notify` → commit → wake-up → re-read → router → client. Rounds
run one after another (a latency, not a throughput, measure) on a private stack:
bundled Redis, SQLite, the WeChat sandbox, the four subgraphs, the router, and the
worker and scheduler (so the outbox path runs as in production).
BENCH_LIVE_ROUNDS (default 60) and BENCH_LIVE_WARMUP (5) tune it; the result is
written to bench/results-live.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from bench.run import BENCH_DIR, seed
from common import devrunner, migrations
from common.clock import china_today
from common.devrunner import Supervisor, free_port, wait_until_up
from common.settings import PROJECT_ROOT, Domain, Settings
from common.subgraphs import app_path

RESULTS_LIVE_JSON = BENCH_DIR / "results-live.json"
ROUNDS = int(os.environ.get("BENCH_LIVE_ROUNDS", "60"))
WARMUP = int(os.environ.get("BENCH_LIVE_WARMUP", "5"))
EVENT_TIMEOUT_SECONDS = 30.0
WORKER_BOOT_SECONDS = 180.0

WX_MINI_AUTH = "mutation($input: WxMiniAuthInput!) { wxMiniAuth(input: $input) { accessToken } }"
PREFERRED = "{ preferredHomestays(first: 50) { edges { node { id } } } }"
BOOK = "mutation($input: CreateHomestayOrderInput!) { createHomestayOrder(input: $input) { sn } }"
PAY = "mutation($sn: ID!) { wxPayHomestayOrder(orderSn: $sn) { package } }"
PAYMENT_STATUS = "subscription($sn: ID!) { paymentStatus(orderSn: $sn) { sn payStatus } }"


class LiveStack:
    """Everything a payment touches, on free ports in a temporary data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.supervisor = Supervisor()
        self.settings = Settings(
            data_dir=data_dir,
            redis_url=f"redis://127.0.0.1:{free_port()}/0",
            log_level="WARNING",
        )
        self.sandbox_url = f"http://127.0.0.1:{free_port()}"
        self.env = {
            **os.environ,
            "ENV": "development",
            "DATA_DIR": str(data_dir),
            "REDIS_URL": self.settings.redis_url,
            "BROKER_URL": "",
            "LOG_LEVEL": "WARNING",
            "OTEL_EXPORTER": "none",
            "SANDBOX_PORT": self.sandbox_url.rsplit(":", 1)[1],
            "WECHAT_API_BASE": self.sandbox_url,
            # Every round logs a new guest in from 127.0.0.1: the per-address throttle
            # (30 per 5 minutes by default) would refuse the 31st.
            "WX_MINI_AUTH_ATTEMPTS_PER_ADDRESS": "100000",
            "dramatiq_prom_port": str(free_port()),
            "dramatiq_prom_db": str(data_dir / "dramatiq-prometheus"),
            **{f"{d.value.upper()}_DATABASE_URL": "" for d in Domain},
        }
        self.router_url = ""

    def start(self) -> None:
        devrunner.start_embedded_redis(self.supervisor, self.settings)
        for domain in Domain:
            migrations.upgrade(domain, self.settings.database_url(domain))
        seed(self.settings)
        python = sys.executable
        sandbox = self.supervisor.start("sandbox", [python, "-m", "sandbox"], env=self.env)
        wait_until_up(f"{self.sandbox_url}/healthz", sandbox)
        urls: dict[Domain, str] = {}
        for domain in (Domain.USERS, Domain.TRAVEL, Domain.ORDERS, Domain.PAYMENTS):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            if domain is Domain.PAYMENTS:
                self.env["WECHAT_PAY_NOTIFY_URL"] = f"{base}/wechatpay/notify"
            process = self.supervisor.start(
                domain.value,
                [python, "-m", "uvicorn", app_path(domain), "--host", "127.0.0.1",
                 "--port", str(port), "--no-access-log", "--log-level", "warning"],
                env=self.env,
            )  # fmt: skip
            wait_until_up(f"{base}/healthz", process)
            urls[domain] = f"{base}/graphql"
            self.env[f"{domain.value.upper()}_INTERNAL_URL"] = urls[domain]
        cli = [python, "-m", "common.cli"]
        self.supervisor.start("worker", [*cli, "worker", "--threads", "4"], env=self.env)
        self.supervisor.start("scheduler", [*cli, "scheduler"], env=self.env)
        port = free_port()
        router_env = {
            **self.env,
            **devrunner.router_env(self.settings),
            **{f"SUBGRAPH_{d.value.upper()}_URL": url for d, url in urls.items()},
            "ROUTER_PORT": str(port),
            "SUPERGRAPH_PATH": str(PROJECT_ROOT / "schema" / "supergraph.graphql"),
            "LOG_LEVEL": "warn",
        }
        router = self.supervisor.start(
            "router", devrunner.router_command(), cwd=devrunner.ROUTER_DIR, env=router_env
        )
        wait_until_up(f"http://127.0.0.1:{port}/readiness", router, timeout=90)
        self.router_url = f"http://127.0.0.1:{port}/graphql"
        self._wait_for_worker()

    def _wait_for_worker(self) -> None:
        import redis

        client = redis.Redis.from_url(self.settings.redis_url)
        try:
            deadline = time.monotonic() + WORKER_BOOT_SECONDS
            while not client.zcard("dramatiq:__heartbeats__"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the worker did not start")
                time.sleep(0.2)
        finally:
            client.close()

    def stop(self) -> None:
        self.supervisor.stop_all(grace_seconds=30)


async def _graphql(
    http: httpx.AsyncClient, url: str, query: str, variables: dict[str, Any], token: str = ""
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.post(url, json={"query": query, "variables": variables}, headers=headers)
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    data: dict[str, Any] = body["data"]
    return data


async def one_round(
    http: httpx.AsyncClient, stack: LiveStack, homestay_id: str, start_in: int
) -> float:
    """Book, pay-init, subscribe, pay; seconds from the pay request to the SUCCESS event."""
    login = await http.post(
        f"{stack.sandbox_url}/sandbox/login",
        json={"nickname": "测速住客", "openid": f"o{secrets.token_hex(13)}"},
    )
    token = (await _graphql(http, stack.router_url, WX_MINI_AUTH, {"input": login.json()}))[
        "wxMiniAuth"
    ]["accessToken"]
    start = china_today() + timedelta(days=start_in)
    booking = {
        "homestayId": homestay_id,
        "liveStartDate": start.isoformat(),
        "liveEndDate": (start + timedelta(days=1)).isoformat(),
        "livePeopleNum": 1,
    }
    sn = (await _graphql(http, stack.router_url, BOOK, {"input": booking}, token))[
        "createHomestayOrder"
    ]["sn"]
    package = (await _graphql(http, stack.router_url, PAY, {"sn": sn}, token))[
        "wxPayHomestayOrder"
    ]["package"]
    transport = WebsocketsTransport(
        url=stack.router_url.replace("http://", "ws://", 1),
        init_payload={"authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        close_timeout=0.5,  # bounds the close handshake (subscriptions are ended first, below)
    )
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        events = session.subscribe(GraphQLRequest(PAYMENT_STATUS, variable_values={"sn": sn}))
        first = await asyncio.wait_for(anext(events), EVENT_TIMEOUT_SECONDS)
        assert first["paymentStatus"]["payStatus"] == "WAITING", first
        started = time.perf_counter()
        paid = await http.post(
            f"{stack.sandbox_url}/sandbox/pay",
            json={"prepay_id": package.removeprefix("prepay_id=")},
        )
        paid.raise_for_status()
        try:
            while True:
                event = await asyncio.wait_for(anext(events), EVENT_TIMEOUT_SECONDS)
                if event["paymentStatus"]["payStatus"] == "SUCCESS":
                    return time.perf_counter() - started
        finally:
            # Ends the subscription on the socket first: gql waits (close_timeout) for
            # every subscription still open when the client leaves.
            await events.aclose()


async def measure(stack: LiveStack, say: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http:
        listed = await _graphql(http, stack.router_url, PREFERRED, {})
        homestays = [edge["node"]["id"] for edge in listed["preferredHomestays"]["edges"]]
        samples: list[float] = []
        for n in range(WARMUP + ROUNDS):
            # A different homestay or day each round: bookings never collide.
            elapsed = await one_round(http, stack, homestays[n % len(homestays)], 1 + n // 40)
            if n >= WARMUP:
                samples.append(elapsed * 1000)
            if (n + 1) % 10 == 0:
                say(f"{n + 1} rounds, last {elapsed * 1000:.0f} ms")
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "description": "/sandbox/pay → /wechatpay/notify → paymentStatus SUCCESS via the router",
        "rounds": len(samples),
        "median_ms": round(statistics.median(samples), 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(ordered[-1], 1),
        "min_ms": round(ordered[0], 1),
        "samples_ms": [round(s, 1) for s in samples],
    }


def run(say: Any) -> dict[str, Any]:
    """The live-status scenario on its own private stack; writes results-live.json.

    `make bench` calls it after its own stack has stopped (the two never share the CPU);
    KeyboardInterrupt passes through after the stack is stopped.
    """
    with tempfile.TemporaryDirectory(prefix="looklook-bench-live-") as data_dir:
        stack = LiveStack(Path(data_dir))
        try:
            say(f"starting the whole stack in {data_dir}")
            stack.start()
            say(f"{WARMUP} warm-up + {ROUNDS} measured payments, one at a time")
            result = asyncio.run(measure(stack, say))
        finally:
            say("stopping the stack")
            stack.stop()
    result["cpus"] = os.cpu_count()
    RESULTS_LIVE_JSON.write_text(json.dumps(result, indent=2) + "\n")
    return result


def summary(result: dict[str, Any]) -> str:
    return (
        f"payment → paymentStatus SUCCESS: median {result['median_ms']} ms, "
        f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms ({result['rounds']} rounds)"
    )


def main() -> int:
    def say(message: str) -> None:
        print(f"  bench live: {message}", file=sys.stderr, flush=True)

    try:
        result = run(say)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    print(f"\n  {summary(result)}")
    return 0
