"""Calls from one subgraph to another's GraphQL endpoint, for answers needed synchronously.

Reads, and idempotent internal writes (safe to retry): a timeout per attempt
and a few retries with backoff; when the other side stays unavailable the
caller gets SERVICE_UNAVAILABLE instead of hanging. `internal_client` makes a
client that proves it is one of ours (INTERNAL_TOKEN) for the internal writes.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

import httpx

from common.errors import ErrorCode, PeerError, ServiceUnavailable
from common.settings import Domain, Settings
from common.telemetry import instrument_httpx_client

logger = logging.getLogger("looklook.internal")

# The header of internal writes: it carries INTERNAL_TOKEN (checked by IsInternalCaller).
INTERNAL_TOKEN_HEADER = "X-Looklook-Internal-Token"  # noqa: S105 - a header name, not a secret


class InternalGraphQLClient:
    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float,
        retries: int,
        http: httpx.AsyncClient | None = None,
        tls: ssl.SSLContext | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """`tls` (see common.tls): trust the project's CA and present this process's
        certificate, as subgraphs require once TLS is on."""
        self._url = url
        self._retries = retries
        self._headers = headers or {}
        self._http = http or httpx.AsyncClient(timeout=timeout_seconds, verify=tls or True)
        instrument_httpx_client(self._http)  # carries traceparent to the other subgraph

    async def query(
        self,
        document: str,
        variables: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The `data` of a query; SERVICE_UNAVAILABLE after the retries are used up.

        `headers` carry the caller's identity when the other subgraph must answer
        as it would answer the user (an Authorization header, say).
        """
        last_error: Exception | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(0.1 * 2 ** (attempt - 1))
            try:
                response = await self._http.post(
                    self._url,
                    json={"query": document, "variables": variables},
                    headers={**self._headers, **(headers or {})},
                )
                if response.status_code >= 500:
                    raise httpx.HTTPStatusError(
                        f"status {response.status_code}",
                        request=response.request,
                        response=response,
                    )
                body: dict[str, Any] = response.json()
            except (httpx.HTTPError, ValueError) as error:
                last_error = error
                logger.warning(
                    "internal call to %s failed (attempt %d): %s", self._url, attempt + 1, error
                )
                continue
            if body.get("errors"):
                raise peer_error(body["errors"])
            data: dict[str, Any] = body["data"]
            return data
        raise ServiceUnavailable() from last_error

    async def aclose(self) -> None:
        await self._http.aclose()


def peer_error(errors: list[dict[str, Any]]) -> Exception:
    """What to raise for a peer's errors: its first coded, expected error keeps its code
    and message (UNAUTHENTICATED stays UNAUTHENTICATED); anything else is our bug."""
    for error in errors:
        extensions = dict(error.get("extensions") or {})
        try:
            code = ErrorCode(str(extensions.pop("code", "")))
        except ValueError:
            continue
        if code is not ErrorCode.INTERNAL_SERVER_ERROR:
            return PeerError(str(error.get("message") or ""), code, **extensions)
    return RuntimeError(f"internal query failed: {errors}")


def internal_client(url: str, settings: Settings, identity: Domain) -> InternalGraphQLClient:
    """A client for another subgraph's internal (`inaccessible`, token-guarded) fields,
    presenting `identity`'s certificate when TLS is on."""
    from common.tls import internal_client_context

    return InternalGraphQLClient(
        url,
        timeout_seconds=settings.internal_timeout_seconds,
        retries=settings.internal_retries,
        tls=internal_client_context(settings, identity),
        headers={INTERNAL_TOKEN_HEADER: settings.internal_token},
    )
