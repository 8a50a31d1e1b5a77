"""Mini-program subscribe messages ("your payment succeeded"), sent with WeChat's server API.

Sending needs an access token, which WeChat rate-limits (2,000 fetches a day)
and invalidates whenever a new one is fetched; so it is cached in Redis for
every process to share, fetched by one process at a time, and dropped and
fetched again once if WeChat says it expired.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.settings import Settings
from common.telemetry import instrument_httpx_client
from common.wechat.miniprogram import WeChatError, WeChatUnavailableError

logger = logging.getLogger(__name__)

_REDIS_KEY = "looklook:wechat:access-token:{appid}"
_REDIS_LOCK_KEY = "looklook:wechat:access-token-lock:{appid}"
# Refresh a little before WeChat's expiry, so a token is never used in its last minutes.
TOKEN_MARGIN_SECONDS = 300
LOCK_SECONDS = 10
# WeChat: 40001 invalid credential, 42001 access token expired, 40014 invalid token.
_STALE_TOKEN_ERRCODES = frozenset({40001, 40014, 42001})


class WeChatMessageError(WeChatError):
    """WeChat refused a message or a token (errcode and errmsg are WeChat's words)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class SubscribeMessenger:
    def __init__(
        self, settings: Settings, redis: Redis, http: httpx.AsyncClient | None = None
    ) -> None:
        self._base = settings.wechat_api_base.rstrip("/")
        self._appid = settings.wechat_mini_appid
        self._secret = settings.wechat_mini_secret
        self._redis = redis
        self._http = http or httpx.AsyncClient(timeout=settings.wechat_timeout_seconds)
        instrument_httpx_client(self._http)
        self._token_key = _REDIS_KEY.format(appid=self._appid)
        self._lock_key = _REDIS_LOCK_KEY.format(appid=self._appid)

    async def send(self, openid: str, template_id: str, page: str, data: dict[str, str]) -> None:
        """Send one subscribe message; raises WeChatError when WeChat refuses or is down."""
        body = {
            "touser": openid,
            "template_id": template_id,
            "page": page,
            "data": {name: {"value": value} for name, value in data.items()},
        }
        for attempt in (1, 2):
            token = await self._access_token()
            answer = await self._call(
                "POST",
                "/cgi-bin/message/subscribe/send",
                params={"access_token": token},
                json_body=body,
            )
            errcode = int(answer.get("errcode", 0) or 0)
            if errcode == 0:
                return
            if errcode in _STALE_TOKEN_ERRCODES and attempt == 1:
                await self._forget(token)
                continue
            raise WeChatMessageError(errcode, str(answer.get("errmsg", "")))

    async def _access_token(self) -> str:
        """The shared token: from Redis, or fetched under a lock so only one process asks."""
        cached = await self._cached()
        if cached:
            return cached
        locked = await self._try(self._redis.set(self._lock_key, "1", nx=True, ex=LOCK_SECONDS))
        if not locked:  # another process is fetching: use its token if it lands in time
            for _ in range(20):
                if cached := await self._cached():
                    return cached
                await asyncio.sleep(0.1)
        try:
            answer = await self._call(
                "GET",
                "/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self._appid,
                    "secret": self._secret,
                },
            )
            token = answer.get("access_token")
            if not isinstance(token, str) or not token:
                raise WeChatMessageError(
                    int(answer.get("errcode", -1) or -1), str(answer.get("errmsg", "no token"))
                )
            ttl = max(int(answer.get("expires_in", 7200)) - TOKEN_MARGIN_SECONDS, 60)
            await self._try(self._redis.set(self._token_key, token, ex=ttl))
            return token
        finally:
            if locked:
                await self._try(self._redis.delete(self._lock_key))

    async def _cached(self) -> str | None:
        value = await self._try(self._redis.get(self._token_key))
        return str(value) if value else None

    async def _forget(self, token: str) -> None:
        if await self._cached() == token:
            await self._try(self._redis.delete(self._token_key))

    @staticmethod
    async def _try(command: Any) -> Any:
        """Redis is a cache here: without it every send fetches a token, but still works."""
        try:
            return await command
        except RedisError as error:
            logger.warning("access-token cache unavailable: %s", error)
            return None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str],
        json_body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(
                method,
                self._base + path,
                params=params,
                content=json.dumps(json_body, ensure_ascii=False).encode() if json_body else None,
                headers={"Content-Type": "application/json"} if json_body else None,
            )
        except httpx.HTTPError as error:
            raise WeChatUnavailableError(f"{path}: {type(error).__name__}") from error
        if response.status_code != 200:
            raise WeChatUnavailableError(f"{path}: HTTP {response.status_code}")
        try:
            answer = json.loads(response.content)  # WeChat labels its JSON text/plain
        except ValueError as error:
            raise WeChatUnavailableError(f"{path}: not JSON") from error
        if not isinstance(answer, dict):
            raise WeChatUnavailableError(f"{path}: unexpected JSON")
        return answer

    async def aclose(self) -> None:
        await self._http.aclose()
