"""Token versions for subgraphs without the users database: ask the users subgraph.

Used only when Redis has no cached version (after a flush, a restart or expiry):
the users subgraph answers from its database, the source of truth, and the
caller caches the answer. Taking a missing entry as "version 0" instead would
revive every logged-out token whenever Redis loses its data.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin

import httpx

from common.errors import ServiceUnavailable
from common.settings import Settings
from common.telemetry import instrument_httpx_client

logger = logging.getLogger("looklook.auth")

# The users subgraph's route (see subgraphs/users/app.py).
TOKEN_VERSION_PATH = "/internal/token-versions/"  # noqa: S105 (a path, not a secret)


def token_version_url(users_graphql_url: str, user_id: int) -> str:
    """The users subgraph's version endpoint, beside its GraphQL endpoint."""
    return urljoin(users_graphql_url, f"{TOKEN_VERSION_PATH}{user_id}")


class UsersServiceVersions:
    """`TokenVersions` read from the users subgraph (one attempt, short timeout)."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self._url = settings.users_internal_url
        self._http = http or httpx.AsyncClient(timeout=settings.internal_timeout_seconds)
        instrument_httpx_client(self._http)

    async def version(self, user_id: int) -> int | None:
        try:
            response = await self._http.get(token_version_url(self._url, user_id))
        except httpx.HTTPError as error:
            logger.warning("token version of user %d unavailable: %s", user_id, error)
            raise ServiceUnavailable() from error
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        if response.status_code != httpx.codes.OK:
            logger.warning("token version of user %d: status %d", user_id, response.status_code)
            raise ServiceUnavailable()
        return int(response.json()["version"])

    async def aclose(self) -> None:
        await self._http.aclose()
