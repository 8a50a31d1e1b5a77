"""Access and refresh tokens (PyJWT, HS256 pinned) that can be revoked at once.

Each token carries the user's *token version*; Redis holds the current one.
Logout bumps the version, so every token issued before stops working on its
next use, without a token blacklist. Refresh tokens are single-use: reusing
one (a sign it was stolen) revokes every token of that user.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt
from redis.asyncio import Redis

from common.errors import Unauthenticated

ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "typ", "ver", "jti"]


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
        *,
        secret: str,
        issuer: str,
        access_ttl: int,
        refresh_ttl: int,
    ) -> None:
        self._redis = redis
        self._secret = secret
        self._issuer = issuer
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl

    @staticmethod
    def _version_key(user_id: int) -> str:
        return f"auth:token-version:{user_id}"

    @staticmethod
    def _used_refresh_key(jti: str) -> str:
        return f"auth:used-refresh:{jti}"

    async def current_version(self, user_id: int) -> int:
        return int(await self._redis.get(self._version_key(user_id)) or 0)

    async def revoke_all(self, user_id: int) -> None:
        """Invalidate every access and refresh token issued to the user so far."""
        await self._redis.incr(self._version_key(user_id))

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
        first_use = await self._redis.set(
            self._used_refresh_key(claims["jti"]), 1, ex=self._refresh_ttl, nx=True
        )
        if not first_use:
            await self.revoke_all(user_id)
            raise Unauthenticated("This refresh token was already used; please log in again.")
        return user_id, await self.issue(user_id)
