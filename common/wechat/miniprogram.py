"""WeChat mini-program login: `code2session` and decrypting `wx.getUserProfile` data.

The users subgraph trades the mini-program's one-time `wx.login` code for the
user's openid and session key, then decrypts the profile the mini-program sent
with that key. Errors come in three kinds so the caller can answer correctly:
WeChat refused (`WeChatLoginError`; its subclass `WeChatInvalidCodeError`
means the user must call wx.login again, and every one carries a `reason`
fit for the user), WeChat could not be asked (`WeChatUnavailableError`, try
later), or the profile is not readable (`WeChatDecryptError`, bad input). All
derive from `WeChatError`.

The decrypted profile's openId is not authenticated (CBC has no integrity
check and the iv is the client's): trust code2session's openid and compare.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from common.settings import Settings

logger = logging.getLogger("looklook.wechat")

# WeChat's "system busy" and "minute quota reached": transient, not a verdict on the code.
_TRANSIENT_ERRCODES = frozenset({-1, 45011})
# 40029 invalid code; 40163 code already used (the sandbox answers 40029 for both).
_INVALID_CODE_ERRCODES = frozenset({40029, 40163})
_BLOCKED_ERRCODE = 40226


class WeChatError(Exception):
    """Any failure talking to WeChat or reading what it produced."""


class WeChatLoginError(WeChatError):
    """WeChat answered with an errcode (e.g. 40029 invalid or used code, 40125 bad secret).

    `errcode`/`errmsg` are WeChat's words, for logs; `reason` is what the user
    may be told. Most errcodes are our misconfiguration (wrong appid or secret),
    which the user can do nothing about, so they get a generic reason.
    """

    reason = "WeChat login is not possible right now; please try again later."

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatInvalidCodeError(WeChatLoginError):
    """The wx.login code is unknown, already used or expired: the user must log in again."""

    reason = "The WeChat login code is invalid or expired; call wx.login again."


class WeChatLoginBlockedError(WeChatLoginError):
    """WeChat refuses this user (40226, a high-risk account): retrying will not help."""

    reason = "WeChat refused to log this account in."


class WeChatUnavailableError(WeChatError):
    """WeChat could not be reached or gave no usable answer (network, timeout, 5xx, busy)."""


class WeChatDecryptError(WeChatError):
    """The encrypted user data does not decrypt to a profile of our mini-program."""


@dataclass(frozen=True)
class WxSession:
    """The result of code2session: who the user is and the key of this login."""

    openid: str
    session_key: str
    unionid: str | None = None


@dataclass(frozen=True)
class WxUserInfo:
    """The decrypted wx.getUserProfile data; gender is 0 unknown, 1 male, 2 female."""

    openid: str | None
    nickname: str
    avatar_url: str | None
    gender: int


class MiniProgramClient:
    """Calls WeChat's mini-program server API for one appid (api.weixin.qq.com or the sandbox).

    One instance per process, sharing its connection pool; pass `http` to route
    requests elsewhere (tests give an ASGI transport onto the sandbox app).
    """

    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self._url = settings.wechat_api_base.rstrip("/") + "/sns/jscode2session"
        self._appid = settings.wechat_mini_appid
        self._secret = settings.wechat_mini_secret
        self._timeout = httpx.Timeout(settings.wechat_timeout_seconds)
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=self._timeout)

    async def code2session(self, code: str) -> WxSession:
        """Trade a wx.login code for the user's openid and session key.

        A code works once, so the request is never repeated once it may have
        reached WeChat; only a failure to connect at all is retried, once.
        """
        params = {
            "appid": self._appid,
            "secret": self._secret,
            "js_code": code,
            "grant_type": "authorization_code",
        }
        response = await self._get(params)
        if response.status_code >= 500:
            raise WeChatUnavailableError(f"WeChat answered HTTP {response.status_code}")
        if response.status_code != 200:
            raise WeChatUnavailableError(f"unexpected HTTP {response.status_code} from WeChat")
        # WeChat sends this JSON as text/plain, so parse the body whatever its type.
        try:
            body: Any = json.loads(response.content)
        except ValueError as error:
            raise WeChatUnavailableError(
                "WeChat answered with something other than JSON"
            ) from error
        if not isinstance(body, dict):
            raise WeChatUnavailableError("WeChat answered with an unexpected JSON shape")
        return _session_from(body)

    async def _get(self, params: dict[str, str]) -> httpx.Response:
        """GET jscode2session; the error messages never carry the URL (it holds the secret)."""
        for attempt in (1, 2):
            try:
                return await self._http.get(self._url, params=params, timeout=self._timeout)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                # Nothing was sent, so the code is still unused: one more try is safe.
                if attempt == 1:
                    logger.warning("connecting to WeChat failed, retrying once: %r", error)
                    continue
                raise WeChatUnavailableError("cannot connect to WeChat") from error
            except httpx.TimeoutException as error:
                raise WeChatUnavailableError("WeChat did not answer in time") from error
            except httpx.HTTPError as error:
                raise WeChatUnavailableError(
                    f"talking to WeChat failed: {type(error).__name__}"
                ) from error
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        """Close the connection pool, unless it was handed in (then its owner closes it)."""
        if self._owns_http:
            await self._http.aclose()


def _session_from(body: dict[str, Any]) -> WxSession:
    """Read a jscode2session answer: an errcode, or openid + session_key."""
    errcode = body.get("errcode", 0)
    if errcode not in (0, None):
        errmsg = str(body.get("errmsg", ""))
        if not isinstance(errcode, int) or isinstance(errcode, bool):
            raise WeChatUnavailableError("WeChat answered with a malformed errcode")
        if errcode in _TRANSIENT_ERRCODES:
            raise WeChatUnavailableError(f"WeChat is busy ({errcode}): {errmsg}")
        if errcode in _INVALID_CODE_ERRCODES:
            raise WeChatInvalidCodeError(errcode, errmsg)
        if errcode == _BLOCKED_ERRCODE:
            raise WeChatLoginBlockedError(errcode, errmsg)
        logger.error("WeChat refused code2session: %s %s", errcode, errmsg)
        raise WeChatLoginError(errcode, errmsg)
    openid = body.get("openid")
    session_key = body.get("session_key")
    if not isinstance(openid, str) or not openid or not isinstance(session_key, str):
        raise WeChatUnavailableError("WeChat's answer lacks openid or session_key")
    unionid = body.get("unionid")
    return WxSession(
        openid=openid,
        session_key=session_key,
        unionid=unionid if isinstance(unionid, str) and unionid else None,
    )


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise WeChatDecryptError(f"{what} is not valid base64") from error


def decrypt_user_info(session_key: str, encrypted_data: str, iv: str, *, appid: str) -> WxUserInfo:
    """Decrypt wx.getUserProfile's encryptedData with the login's session key.

    AES-128-CBC with PKCS#7 padding, as WeChat documents. CBC has no integrity
    check, so the padding, the JSON and the watermark's appid are all verified:
    tampered data, a wrong iv or key, or data for another app all fail here.
    """
    key = _b64(session_key, "session_key")
    iv_bytes = _b64(iv, "iv")
    ciphertext = _b64(encrypted_data, "encryptedData")
    if len(key) != 16:
        raise WeChatDecryptError("session_key must be 16 bytes")
    if len(iv_bytes) != 16:
        raise WeChatDecryptError("iv must be 16 bytes")
    if not ciphertext or len(ciphertext) % 16:
        raise WeChatDecryptError("encryptedData is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv_bytes)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plaintext = unpadder.update(padded) + unpadder.finalize()
        data: Any = json.loads(plaintext.decode("utf-8"))
    except ValueError as error:  # bad padding, bad UTF-8 and bad JSON are all ValueErrors
        raise WeChatDecryptError("encryptedData does not decrypt to user info") from error
    if not isinstance(data, dict):
        raise WeChatDecryptError("the decrypted user info is not a JSON object")
    return _user_info_from(data, appid)


def _user_info_from(data: dict[str, Any], appid: str) -> WxUserInfo:
    """Check the watermark and pick the profile fields, tolerating absent optional ones."""
    watermark = data.get("watermark")
    if not isinstance(watermark, dict) or watermark.get("appid") != appid:
        raise WeChatDecryptError("the user info was not issued for this mini-program")
    nickname = data.get("nickName")
    if not isinstance(nickname, str):
        raise WeChatDecryptError("the user info has no nickName")
    openid = data.get("openId")
    avatar_url = data.get("avatarUrl")
    gender = data.get("gender")
    return WxUserInfo(
        openid=openid if isinstance(openid, str) and openid else None,
        nickname=nickname,
        avatar_url=avatar_url if isinstance(avatar_url, str) and avatar_url else None,
        gender=gender if type(gender) is int and gender in (0, 1, 2) else 0,
    )
