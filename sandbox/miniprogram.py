"""Mini-program login, both sides: the WeChat client (`wx.login` + `wx.getUserProfile`)
and WeChat's `jscode2session` API.

`POST /sandbox/login` is what the phone would do: it mints a one-time code and
the user profile encrypted with that login's session key. `GET
/sns/jscode2session` is what WeChat's server does: it trades the code for the
openid and session key. The encryption is written here independently of
`common.wechat` so the client is tested against WeChat's format, not itself.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from sandbox.state import state_of

NICKNAME_MAX = 64
AVATAR_MAX = 1024
_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class _BadRequest(Exception):
    """A malformed /sandbox/login body; its message is returned to the caller."""


@dataclass(frozen=True)
class _Profile:
    nickname: str
    openid: str
    avatar: str
    gender: int


def _parse_login(body: Any) -> _Profile:
    """Validate the JSON body of /sandbox/login, filling in a fresh openid when absent."""
    if not isinstance(body, dict):
        raise _BadRequest("the body must be a JSON object")
    nickname = body.get("nickname")
    if not isinstance(nickname, str) or not nickname.strip():
        raise _BadRequest("nickname must be a non-empty string")
    if len(nickname) > NICKNAME_MAX:
        raise _BadRequest(f"nickname must be at most {NICKNAME_MAX} characters")
    openid = body.get("openid")
    if openid is None:
        openid = new_openid()
    elif not isinstance(openid, str) or not _OPENID.fullmatch(openid):
        raise _BadRequest("openid must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -")
    avatar = body.get("avatar")
    if avatar is None:
        avatar = ""
    elif not isinstance(avatar, str) or len(avatar) > AVATAR_MAX:
        raise _BadRequest(f"avatar must be a string of at most {AVATAR_MAX} characters")
    gender = body.get("gender", 0)
    if type(gender) is not int or gender not in (0, 1, 2):
        raise _BadRequest("gender must be 0 (unknown), 1 (male) or 2 (female)")
    return _Profile(nickname=nickname, openid=openid, avatar=avatar, gender=gender)


def new_openid() -> str:
    """A random openid shaped like WeChat's: 28 characters starting with `o`."""
    return "o" + secrets.token_urlsafe(21)[:27]


def encrypt_user_info(plaintext: bytes, session_key: str) -> tuple[str, str]:
    """(encryptedData, iv) as WeChat produces them: AES-128-CBC, PKCS#7, base64."""
    iv = secrets.token_bytes(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(base64.b64decode(session_key)), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    return base64.b64encode(ciphertext).decode(), base64.b64encode(iv).decode()


async def login(request: Request) -> JSONResponse:
    """Act as the phone: wx.login (a code) plus wx.getUserProfile (encrypted profile)."""
    try:
        try:
            body = await request.json()
        except ValueError as error:
            raise _BadRequest("the body must be JSON") from error
        profile = _parse_login(body)
    except _BadRequest as error:
        return JSONResponse({"error": str(error)}, status_code=400)

    state = state_of(request)
    session_key = base64.b64encode(secrets.token_bytes(16)).decode()
    code = state.login_codes.issue(profile.openid, session_key)
    user_info = {
        "openId": profile.openid,
        "nickName": profile.nickname,
        "gender": profile.gender,
        "language": "zh_CN",
        "city": "",
        "province": "",
        "country": "",
        "avatarUrl": profile.avatar,
        "watermark": {"timestamp": int(time.time()), "appid": state.settings.wechat_mini_appid},
    }
    plaintext = json.dumps(user_info, ensure_ascii=False).encode()
    encrypted_data, iv = encrypt_user_info(plaintext, session_key)
    return JSONResponse({"code": code, "encryptedData": encrypted_data, "iv": iv})


class _WeChatJSON(JSONResponse):
    """JSON labelled `text/plain`, as api.weixin.qq.com labels it: clients must not rely
    on the content type (aiohttp's `json()` and similar refuse such answers)."""

    media_type = "text/plain"


def _wechat_error(errcode: int, errmsg: str) -> JSONResponse:
    """WeChat reports API errors in the body with HTTP 200."""
    return _WeChatJSON({"errcode": errcode, "errmsg": errmsg})


async def jscode2session(request: Request) -> JSONResponse:
    """Act as WeChat's server: trade a one-time code for openid and session_key."""
    settings = state_of(request).settings
    query = request.query_params
    if query.get("appid", "") != settings.wechat_mini_appid:
        return _wechat_error(40013, "invalid appid")
    if not hmac.compare_digest(
        query.get("secret", "").encode(), settings.wechat_mini_secret.encode()
    ):
        return _wechat_error(40125, "invalid appsecret")
    if query.get("grant_type") != "authorization_code":
        return _wechat_error(40002, "invalid grant_type")
    code = query.get("js_code", "")
    if not code:
        return _wechat_error(41008, "missing code")
    grant = state_of(request).login_codes.redeem(code)
    if grant is None:
        return _wechat_error(40029, "invalid code")
    return _WeChatJSON({"openid": grant.openid, "session_key": grant.session_key})


routes: list[BaseRoute] = [
    Route("/sandbox/login", login, methods=["POST"]),
    Route("/sns/jscode2session", jscode2session, methods=["GET"]),
]
