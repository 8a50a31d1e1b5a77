"""Mini-program subscribe messages for development and tests: WeChat's access-token and
send APIs, and a window on what was sent.

The workers tell a user their payment succeeded with a subscribe message; the
sandbox plays WeChat's server (GET /cgi-bin/token, POST
/cgi-bin/message/subscribe/send, with WeChat's errcodes) so that path runs
locally, and `GET /sandbox/messages?touser=<openid>` shows what the user's
phone would have received. `POST /sandbox/access-tokens/expire` invalidates
every token, as WeChat does when the secret is reset. `POST
/sandbox/messages/refuse` with `{"touser": openid}` plays a user who refused
(or never accepted) subscribe messages: WeChat answers 43101 for them. The
sandbox knows the configured templates and refuses data that does not match
their fields (47003), as WeChat does. Like the rest of the
sandbox it refuses to run with production settings.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from common.settings import Settings
from common.wechat.messages import PAYMENT_SUCCESS_FIELDS, REFUND_FIELDS
from sandbox.state import state_of

ACCESS_TOKEN_TTL_SECONDS = 7200
_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass
class MessageState:
    """Issued access tokens (with their expiry) and every message sent."""

    clock: Callable[[], float]
    tokens: dict[str, float] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    token_requests: int = 0
    refusing: set[str] = field(default_factory=set)  # openids that refused every template

    def issue(self) -> str:
        token = secrets.token_urlsafe(48)
        self.tokens[token] = self.clock() + ACCESS_TOKEN_TTL_SECONDS
        self.token_requests += 1
        return token

    def problem(self, token: str) -> tuple[int, str] | None:
        """WeChat's errcode for an unusable token (40001 unknown, 42001 expired), or None."""
        expires = self.tokens.get(token)
        if expires is None:
            return 40001, "invalid credential, access_token is invalid or not latest"
        if self.clock() >= expires:
            return 42001, "access_token expired"
        return None

    def expire_all(self) -> None:
        """Make every issued token expired (tests: WeChat's two hours are up)."""
        now = self.clock()
        self.tokens = dict.fromkeys(self.tokens, now)


def templates(settings: Settings) -> dict[str, frozenset[str]]:
    """The app's templates, as WeChat knows them: id → field names."""
    return {
        settings.wechat_subscribe_template_id: frozenset(PAYMENT_SUCCESS_FIELDS),
        settings.wechat_refund_template_id: frozenset(REFUND_FIELDS),
    }


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
    sandbox = state_of(request)
    messages = sandbox.messages
    token = request.query_params.get("access_token", "")
    if not token:
        return _wechat({"errcode": 41001, "errmsg": "access_token missing"})
    problem = messages.problem(token)
    if problem is not None:
        return _wechat({"errcode": problem[0], "errmsg": problem[1]})
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
    if not _OPENID.fullmatch(body["touser"]):
        return _wechat({"errcode": 40003, "errmsg": "invalid openid"})
    # The sandbox knows the configured templates (WeChat knows the app's templates).
    fields = templates(sandbox.settings).get(body["template_id"])
    if fields is None:
        return _wechat({"errcode": 40037, "errmsg": "invalid template_id"})
    if set(data) != fields:
        return _wechat({"errcode": 47003, "errmsg": "argument invalid! data does not match"})
    if body["touser"] in messages.refusing:
        return _wechat({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
    messages.sent.append(body)
    return _wechat({"errcode": 0, "errmsg": "ok", "msgid": secrets.randbelow(10**15)})


async def sent_messages(request: Request) -> JSONResponse:
    """Messages sent so far, optionally only to one openid (`?touser=`)."""
    touser = request.query_params.get("touser")
    sent = [m for m in state_of(request).messages.sent if touser in (None, m["touser"])]
    return JSONResponse({"messages": sent})


async def refuse_messages(request: Request) -> Response:
    """The user with this openid refuses subscribe messages from now on (43101)."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    touser = body.get("touser") if isinstance(body, dict) else None
    if not isinstance(touser, str) or not _OPENID.fullmatch(touser):
        return JSONResponse({"error": "touser (an openid) is required"}, status_code=400)
    state_of(request).messages.refusing.add(touser)
    return Response(status_code=204)


async def expire_tokens(request: Request) -> Response:
    """Invalidate every access token, as WeChat does when the app secret is reset."""
    state_of(request).messages.expire_all()
    return Response(status_code=204)


routes: list[BaseRoute] = [
    Route("/cgi-bin/token", access_token, methods=["GET"]),
    Route("/cgi-bin/message/subscribe/send", send_subscribe_message, methods=["POST"]),
    Route("/sandbox/messages", sent_messages, methods=["GET"]),
    Route("/sandbox/messages/refuse", refuse_messages, methods=["POST"]),
    Route("/sandbox/access-tokens/expire", expire_tokens, methods=["POST"]),
]
