"""A real GraphQL client (gql over HTTP) that returns errors instead of raising them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
        transport = HTTPXAsyncTransport(url=self.url, headers=all_headers, timeout=30)
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            try:
                data = await session.execute(GraphQLRequest(document, variable_values=variables))
            except TransportQueryError as error:
                return Result(data=error.data, errors=list(error.errors or []))
        return Result(data=data)
