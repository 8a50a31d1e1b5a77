"""Mini-program subscribe messages ("your payment succeeded", "refunded"), sent with WeChat's
server API.

Sending needs an access token, which WeChat rate-limits (2,000 fetches a day)
and invalidates whenever a new one is fetched; so it is cached in Redis for
every process to share, fetched by one process at a time, and dropped and
fetched again once if WeChat says it is invalid or expired.

The HTTP client is not traced: the app secret and the access token travel in
query strings, and a span records the full URL.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.settings import Settings
from common.wechat.miniprogram import WeChatError, WeChatUnavailableError

logger = logging.getLogger("looklook.wechat")

T = TypeVar("T")

# Redis keys (names, not secrets).
TOKEN_KEY = "looklook:wechat:access-token:{appid}"  # noqa: S105
TOKEN_LOCK_KEY = "looklook:wechat:access-token:{appid}:lock"  # noqa: S105
# Stop using a token this long before WeChat's expiry (expires_in, 7200 s).
TOKEN_MARGIN_SECONDS = 300
TOKEN_MIN_TTL_SECONDS = 60
# How long one process may hold the right to fetch, and how long others wait for it.
LOCK_SECONDS = 10
LOCK_WAIT_SECONDS = 3.0
LOCK_POLL_SECONDS = 0.05
# WeChat: 40001 invalid credential (not the latest), 40014 invalid token, 42001 expired.
STALE_TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
SYSTEM_BUSY = -1  # transient: try again later
# The user refused this template or never subscribed to it (43101): retrying cannot help.
REFUSED_ERRCODES = frozenset({43101})

# The fields of each template (its keywords as set up in the mini-program's console);
# WeChat refuses a message whose data does not match (47003). No amounts: a message
# is shown on a lock screen.
PAYMENT_SUCCESS_FIELDS = ("character_string1", "character_string2", "time3", "thing4")
REFUND_FIELDS = ("character_string1", "phrase2", "time3", "thing4")


class WeChatMessageError(WeChatError):
    """WeChat refused a message or a token request (errcode and errmsg are WeChat's words;
    e.g. 43101: the user has not subscribed to this template)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def refused_by_user(self) -> bool:
        """The user said no to this message: final, not a fault of ours or WeChat's."""
        return self.errcode in REFUSED_ERRCODES


class SubscribeMessenger:
    """Sends subscribe messages for one mini-program; made once per process.

    Raises WeChatMessageError when WeChat refuses, WeChatUnavailableError when it
    cannot be asked (both are WeChatError).
    """

    def __init__(
        self, settings: Settings, redis: Redis, http: httpx.AsyncClient | None = None
    ) -> None:
        self._base = settings.wechat_api_base.rstrip("/")
        self._appid = settings.wechat_mini_appid
        self._secret = settings.wechat_mini_secret
        self._redis = redis
        self._http = http or httpx.AsyncClient(timeout=settings.wechat_timeout_seconds)
        self._token_key = TOKEN_KEY.format(appid=self._appid)
        self._lock_key = TOKEN_LOCK_KEY.format(appid=self._appid)

    async def send(self, openid: str, template_id: str, page: str, data: dict[str, str]) -> None:
        """Send one subscribe message (`data` maps the template's keys to their values)."""
        body = {
            "touser": openid,
            "template_id": template_id,
            "page": page,
            "data": {name: {"value": value} for name, value in data.items()},
        }
        for attempt in (1, 2):
            token = await self._access_token()
            answer = await self._call(
                "/cgi-bin/message/subscribe/send", params={"access_token": token}, json_body=body
            )
            errcode = _errcode(answer)
            if errcode == 0:
                return
            if errcode == SYSTEM_BUSY:
                raise WeChatUnavailableError("subscribe/send: WeChat busy (-1)")
            if errcode in STALE_TOKEN_ERRCODES and attempt == 1:
                logger.info("WeChat access token refused (%s); fetching a new one", errcode)
                await self._forget(token)
                continue
            raise WeChatMessageError(errcode, str(answer.get("errmsg", "")))

    async def _access_token(self) -> str:
        """The shared token: from Redis, or fetched by the one process holding the lock."""
        if cached := await self._cached():
            return cached
        try:
            locked = bool(await self._redis.set(self._lock_key, "1", nx=True, ex=LOCK_SECONDS))
        except RedisError as error:  # no cache: every process fetches; sends still work
            logger.warning("access-token cache unavailable: %s", error)
            return await self._fetch()
        if not locked:  # another process is fetching: use its token once it lands
            for _ in range(int(LOCK_WAIT_SECONDS / LOCK_POLL_SECONDS)):
                await asyncio.sleep(LOCK_POLL_SECONDS)
                if cached := await self._cached():
                    return cached
            return await self._fetch()  # it took too long (or died): fetch ourselves
        try:
            # The previous holder may have stored a token since we looked.
            return await self._cached() or await self._fetch()
        finally:
            await self._quietly(self._redis.delete(self._lock_key))

    async def _fetch(self) -> str:
        answer = await self._call(
            "/cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": self._appid,
                "secret": self._secret,
            },
        )
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            errcode = _errcode(answer)
            raise WeChatMessageError(errcode or -1, str(answer.get("errmsg", "no access_token")))
        expires_in = answer.get("expires_in")
        lifetime = int(expires_in) if isinstance(expires_in, int) else 7200
        ttl = max(lifetime - TOKEN_MARGIN_SECONDS, TOKEN_MIN_TTL_SECONDS)
        await self._quietly(self._redis.set(self._token_key, token, ex=ttl))
        return token

    async def _cached(self) -> str | None:
        value = await self._quietly(self._redis.get(self._token_key))
        if isinstance(value, bytes):
            value = value.decode()
        return value if isinstance(value, str) and value else None

    async def _forget(self, token: str) -> None:
        """Drop the cached token if it is still the refused one (not a fresher one)."""
        if await self._cached() == token:
            await self._quietly(self._redis.delete(self._token_key))

    @staticmethod
    async def _quietly(command: Awaitable[T]) -> T | None:
        """Redis is only a cache here: without it every send fetches a token, but works."""
        try:
            return await command
        except RedisError as error:
            logger.warning("access-token cache unavailable: %s", error)
            return None

    async def _call(
        self, path: str, *, params: dict[str, str], json_body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One call; errors never carry the URL (it holds the secret or the token)."""
        try:
            if json_body is None:
                response = await self._http.get(self._base + path, params=params)
            else:
                response = await self._http.post(
                    self._base + path,
                    params=params,
                    content=json.dumps(json_body, ensure_ascii=False).encode(),
                    headers={"Content-Type": "application/json"},
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


def _errcode(answer: dict[str, Any]) -> int:
    errcode = answer.get("errcode", 0)
    return errcode if isinstance(errcode, int) else -1
