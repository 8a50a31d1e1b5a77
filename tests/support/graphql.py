"""A real GraphQL client (gql over HTTP) that returns errors instead of raising them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport


@dataclass
class Result:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        return [str((e.get("extensions") or {}).get("code")) for e in self.errors]

    def ok(self) -> dict[str, Any]:
        """The data, asserting there were no errors."""
        assert not self.errors, self.errors
        assert self.data is not None
        return self.data


class GraphQLClient:
    def __init__(self, url: str) -> None:
        self.url = url

    async def execute(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Result:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        [result] = await self.execute_concurrently(
            document, variables, times=1, headers=all_headers
        )
        return result

    async def execute_concurrently(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        *,
        times: int,
        headers: dict[str, str] | None = None,
    ) -> list[Result]:
        """The same request `times` times at once, over one client's connection pool.

        One client for the whole burst: a client per request would spend the test's
        time setting up clients and connections, not exercising the server.
        """
        transport = HTTPXAsyncTransport(
            url=self.url,
            headers=headers or {},
            timeout=30,
            limits=httpx.Limits(max_connections=times, max_keepalive_connections=times),
        )
        client = Client(transport=transport, fetch_schema_from_transport=False, execute_timeout=30)
        async with client as session:
            request = GraphQLRequest(document, variable_values=variables)
            return list(await asyncio.gather(*(_run(session, request) for _ in range(times))))


async def _run(session: Any, request: GraphQLRequest) -> Result:
    try:
        data = await session.execute(request)
    except TransportQueryError as error:
        return Result(data=error.data, errors=list(error.errors or []))
    return Result(data=data)
