"""Read a subgraph's Prometheus counters, to measure what a request cost."""

from __future__ import annotations

import re

import httpx


async def statements(subgraph_graphql_url: str, service: str) -> float:
    """The subgraph's `db_statements_total` so far."""
    base = subgraph_graphql_url.removesuffix("/graphql")
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{base}/metrics")).text
    match = re.search(rf'^db_statements_total\{{service="{service}"\}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0
