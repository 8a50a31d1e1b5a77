"""A stack with service identity on: subgraphs serve mutual TLS, the router presents its own.

Subgraphs run as in production (`looklook serve <domain>` with TLS_ENABLED): GraphQL
over HTTPS on their port, probes and WeChat Pay's callback on a plain port.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from common.devrunner import free_port, wait_until_up
from common.settings import Domain
from tests.support.stack import Stack


@dataclass
class TlsStack(Stack):
    plain_urls: dict[Domain, str] = field(default_factory=dict)

    def graphql_url(self, port: int) -> str:
        return f"https://127.0.0.1:{port}/graphql"

    def start_subgraph(self, domain: Domain, **overrides: str) -> str:
        port, plain_port = self.subgraph_port(domain), free_port()
        plain = f"http://127.0.0.1:{plain_port}"
        name = domain.value.upper()
        env = {
            **self.env,
            "TLS_ENABLED": "true",
            "HOST": "127.0.0.1",
            f"{name}_PORT": str(port),
            f"{name}_PLAIN_PORT": str(plain_port),
        }
        if domain is Domain.PAYMENTS:  # WeChat calls back on the plain listener
            env["WECHAT_PAY_NOTIFY_URL"] = f"{plain}/wechatpay/notify"
        process = self.supervisor.start(
            domain.value,
            [sys.executable, "-m", "common.cli", "serve", domain.value],
            env={**env, **overrides},
        )
        wait_until_up(f"{plain}/readyz", process)
        self.plain_urls[domain] = plain
        return f"https://127.0.0.1:{port}/graphql"
