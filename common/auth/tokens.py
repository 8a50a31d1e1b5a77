"""Access and refresh tokens (PyJWT, HS256 pinned) that can be revoked at once.

Each token carries the user's *token version*. The users database holds the
current one (the source of truth); Redis caches it for every subgraph. Logout
bumps the version, so every token issued before stops working on its next use,
without a token blacklist. Refresh tokens are single-use: their first use is
recorded in the users database, and reusing one (a sign it was stolen) revokes
every token of that user. A flushed or restarted Redis therefore forgets
nothing: a missing cache entry is read again from the source of truth (the users
subgraph reads its database; the others ask the users subgraph), never taken as
version 0.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import jwt
from redis.asyncio import Redis

from common.errors import Unauthenticated

# Logout publishes the user id here, so processes end that user's live subscriptions.
REVOCATIONS_CHANNEL = "looklook:auth:revoked"

# Cache the version only if it is newer than the cached one: a reader that fetched the
# version just before a logout can never write the old one back over the new one.
_REMEMBER_NEWER = """
local cached = tonumber(redis.call('GET', KEYS[1]) or '-1')
local version = tonumber(ARGV[1])
if version > cached then
  redis.call('SET', KEYS[1], version, 'EX', ARGV[2])
  return version
end
return cached
"""

ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "typ", "ver", "jti"]


@runtime_checkable
class TokenVersions(Protocol):
    """Where the current token versions are kept (the users database, or a way to ask it)."""

    async def version(self, user_id: int) -> int | None:
        """The user's current token version; None when there is no such (live) user."""
        ...


@runtime_checkable
class Revocations(TokenVersions, Protocol):
    """The source of truth itself: only the users subgraph can revoke and spend tokens."""

    async def bump(self, user_id: int) -> int:
        """Make the user's version one higher (durably); returns the new version."""
        ...

    async def claim_refresh(self, jti: str, user_id: int, expires_at: int) -> bool:
        """Record a refresh token's use; False when it had been used already."""
        ...


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_expire: int  # unix time the access token expires
    refresh_after: int  # unix time from which the client should refresh
    refresh_token: str


class TokenService:
    def __init__(
        self,
        redis: Redis,
        versions: TokenVersions,
        *,
        secret: str,
        issuer: str,
        access_ttl: int,
        refresh_ttl: int,
        version_cache_seconds: int = 24 * 3600,
    ) -> None:
        self._redis = redis
        self._versions = versions
        self._secret = secret
        self._issuer = issuer
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl
        self._cache_seconds = version_cache_seconds
        self._remember_newer = redis.register_script(_REMEMBER_NEWER)

    @staticmethod
    def _version_key(user_id: int) -> str:
        return f"auth:token-version:{user_id}"

    async def _remember(self, user_id: int, version: int) -> int:
        """Cache `version` unless a newer one is cached; the newest of the two."""
        newest = await self._remember_newer(
            keys=[self._version_key(user_id)], args=[version, self._cache_seconds]
        )
        return int(newest)

    async def current_version(self, user_id: int) -> int:
        """The user's token version: Redis when it has it, else the source of truth."""
        cached = await self._redis.get(self._version_key(user_id))
        if cached is not None:
            return int(cached)
        version = await self._versions.version(user_id)
        if version is None:
            raise Unauthenticated("This account no longer exists.")
        return await self._remember(user_id, version)

    def _authority(self) -> Revocations:
        if not isinstance(self._versions, Revocations):
            raise TypeError("only the users subgraph can revoke or spend tokens")
        return self._versions

    async def revoke_all(self, user_id: int) -> None:
        """Invalidate every access and refresh token issued to the user so far.

        The new version is committed to the database first, then cached and
        announced (live subscriptions of the user end on the announcement).
        """
        version = await self._authority().bump(user_id)
        await self._remember(user_id, version)
        await self._redis.publish(REVOCATIONS_CHANNEL, str(user_id))

    def _encode(self, user_id: int, version: int, kind: TokenType, ttl: int, now: int) -> str:
        claims = {
            "sub": str(user_id),
            "iss": self._issuer,
            "iat": now,
            "exp": now + ttl,
            "typ": kind.value,
            "ver": version,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    async def issue(self, user_id: int) -> TokenPair:
        now = int(time.time())
        version = await self.current_version(user_id)
        return TokenPair(
            access_token=self._encode(user_id, version, TokenType.ACCESS, self._access_ttl, now),
            access_expire=now + self._access_ttl,
            refresh_after=now + self._access_ttl // 2,
            refresh_token=self._encode(user_id, version, TokenType.REFRESH, self._refresh_ttl, now),
        )

    def _decode(self, token: str, kind: TokenType) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthenticated("Your session has expired, please log in again.") from error
        except jwt.PyJWTError as error:
            raise Unauthenticated("Invalid token.") from error
        if claims.get("typ") != kind.value or not str(claims["sub"]).isdigit():
            raise Unauthenticated("Invalid token.")
        return claims

    async def _check_version(self, claims: dict[str, Any]) -> int:
        user_id = int(claims["sub"])
        if claims["ver"] != await self.current_version(user_id):
            raise Unauthenticated("This session has been logged out.")
        return user_id

    async def authenticate(self, access_token: str) -> int:
        """The user id an access token stands for; UNAUTHENTICATED if it is not valid now."""
        return await self._check_version(self._decode(access_token, TokenType.ACCESS))

    async def refresh(self, refresh_token: str) -> tuple[int, TokenPair]:
        """Exchange a refresh token, once, for a new pair."""
        claims = self._decode(refresh_token, TokenType.REFRESH)
        user_id = await self._check_version(claims)
        first_use = await self._authority().claim_refresh(
            str(claims["jti"]), user_id, int(claims["exp"])
        )
        if not first_use:
            await self.revoke_all(user_id)
            raise Unauthenticated("This refresh token was already used; please log in again.")
        return user_id, await self.issue(user_id)
