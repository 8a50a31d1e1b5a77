"""Who is asking: resolved once per request from the bearer token, and only when needed."""

from __future__ import annotations

from common.auth.tokens import TokenService
from common.errors import Unauthenticated

_BEARER = "bearer "


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` value; None when there is no header."""
    if not authorization:
        return None
    if not authorization.lower().startswith(_BEARER):
        raise Unauthenticated("Use an 'Authorization: Bearer <token>' header.")
    return authorization[len(_BEARER) :].strip() or None


class Viewer:
    """The request's identity. A present but invalid token is refused, never ignored."""

    def __init__(self, tokens: TokenService, authorization: str | None) -> None:
        self._tokens = tokens
        self._authorization = authorization
        self._resolved = False
        self._user_id: int | None = None

    @property
    def authorization(self) -> str | None:
        """The credential as received, to forward when asking another subgraph as this user."""
        return self._authorization

    async def user_id(self) -> int | None:
        """The authenticated user's id, None when anonymous; raises on a bad token."""
        if not self._resolved:
            token = bearer_token(self._authorization)
            self._user_id = await self._tokens.authenticate(token) if token else None
            self._resolved = True
        return self._user_id

    async def reauthenticate(self) -> int:
        """Check the token again now (a live subscription outlives the moment it began)."""
        self._resolved = False
        return await self.require_user_id()

    async def require_user_id(self) -> int:
        user_id = await self.user_id()
        if user_id is None:
            raise Unauthenticated()
        return user_id

    async def is_user(self, user_id: int) -> bool:
        return await self.user_id() == user_id
