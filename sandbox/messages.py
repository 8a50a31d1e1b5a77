"""Mini-program subscribe messages: WeChat's access-token and send APIs, and a window
(`GET /sandbox/messages?touser=<openid>`) to read what was sent, as the user's
phone would show it.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.state import state_of

ACCESS_TOKEN_TTL_SECONDS = 7200


@dataclass
class MessageState:
    """Issued access tokens (with their expiry) and every message sent."""

    clock: Callable[[], float]
    tokens: dict[str, float] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    token_requests: int = 0

    def issue(self) -> str:
        token = secrets.token_urlsafe(48)
        self.tokens[token] = self.clock() + ACCESS_TOKEN_TTL_SECONDS
        self.token_requests += 1
        return token

    def valid(self, token: str) -> bool:
        expires = self.tokens.get(token)
        return expires is not None and self.clock() < expires

    def expire_all(self) -> None:
        """Make every issued token stale (tests: WeChat rotated or expired them)."""
        self.tokens.clear()


def _wechat(data: dict[str, Any]) -> Response:
    """WeChat answers API errors with HTTP 200 and an errcode, labelled text/plain."""
    return Response(json.dumps(data, ensure_ascii=False), media_type="text/plain")


async def access_token(request: Request) -> Response:
    sandbox = state_of(request)
    settings, query = sandbox.settings, request.query_params
    if query.get("grant_type") != "client_credential":
        return _wechat({"errcode": 40002, "errmsg": "invalid grant_type"})
    if query.get("appid") != settings.wechat_mini_appid:
        return _wechat({"errcode": 40013, "errmsg": "invalid appid"})
    if not hmac.compare_digest(
        query.get("secret", "").encode(), settings.wechat_mini_secret.encode()
    ):
        return _wechat({"errcode": 40125, "errmsg": "invalid appsecret"})
    token = sandbox.messages.issue()
    return _wechat({"access_token": token, "expires_in": ACCESS_TOKEN_TTL_SECONDS})


async def send_subscribe_message(request: Request) -> Response:
    messages = state_of(request).messages
    token = request.query_params.get("access_token", "")
    if not token:
        return _wechat({"errcode": 41001, "errmsg": "access_token missing"})
    if not messages.valid(token):
        return _wechat({"errcode": 42001, "errmsg": "access_token expired"})
    try:
        body = json.loads(await request.body())
    except ValueError:
        return _wechat({"errcode": 47001, "errmsg": "data format error"})
    data = body.get("data") if isinstance(body, dict) else None
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("touser"), str)
        or not isinstance(body.get("template_id"), str)
        or not isinstance(data, dict)
        or not all(isinstance(v, dict) and isinstance(v.get("value"), str) for v in data.values())
    ):
        return _wechat({"errcode": 47003, "errmsg": "argument invalid"})
    messages.sent.append(body)
    return _wechat({"errcode": 0, "errmsg": "ok", "msgid": secrets.randbelow(10**15)})


async def sent_messages(request: Request) -> JSONResponse:
    """Messages sent so far, optionally only to one openid (`?touser=`)."""
    touser = request.query_params.get("touser")
    sent = [m for m in state_of(request).messages.sent if touser in (None, m["touser"])]
    return JSONResponse({"messages": sent})


async def expire_tokens(request: Request) -> Response:
    """Invalidate every access token, as WeChat does when the app secret is reset."""
    state_of(request).messages.expire_all()
    return Response(status_code=204)


routes: list[BaseRoute] = [
    Route("/cgi-bin/token", access_token, methods=["GET"]),
    Route("/cgi-bin/message/subscribe/send", send_subscribe_message, methods=["POST"]),
    Route("/sandbox/messages", sent_messages, methods=["GET"]),
    Route("/sandbox/access-tokens/expire", expire_tokens, methods=["POST"]),
]
