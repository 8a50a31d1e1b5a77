"""The mini-program login client against the real WeChat sandbox app, in process."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from common.settings import Settings
from common.wechat.miniprogram import (
    MiniProgramClient,
    WeChatDecryptError,
    WeChatError,
    WeChatInvalidCodeError,
    WeChatLoginBlockedError,
    WeChatLoginError,
    WeChatUnavailableError,
    WxSession,
    decrypt_user_info,
)
from sandbox.app import create_app
from sandbox.state import LOGIN_CODE_TTL_SECONDS, SandboxState

APPID = "wx-unit-test-appid"
SECRET = "unit-test-secret"
BASE = "http://wechat.sandbox.test"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "wechat_mini_appid": APPID,
        "wechat_mini_secret": SECRET,
        "wechat_api_base": BASE,
        "wechat_timeout_seconds": 2.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def app() -> Starlette:
    return create_app(make_settings())


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


@pytest.fixture
async def client(http: httpx.AsyncClient) -> AsyncIterator[MiniProgramClient]:
    wechat = MiniProgramClient(make_settings(), http=http)
    yield wechat
    await wechat.aclose()


async def sandbox_login(http: httpx.AsyncClient, **body: Any) -> dict[str, str]:
    response = await http.post("/sandbox/login", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, str] = response.json()
    assert set(data) == {"code", "encryptedData", "iv"}
    return data


async def test_healthz(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.json() == {"status": "ok"}


async def test_login_then_code2session_and_decrypt(
    http: httpx.AsyncClient, client: MiniProgramClient
) -> None:
    login = await sandbox_login(
        http, nickname="山间小屋", avatar="https://a.example/1.png", gender=2
    )

    session = await client.code2session(login["code"])
    assert session.openid.startswith("o") and len(session.openid) == 28
    assert len(base64.b64decode(session.session_key)) == 16

    info = decrypt_user_info(session.session_key, login["encryptedData"], login["iv"], appid=APPID)
    assert info.openid == session.openid
    assert info.nickname == "山间小屋"
    assert info.avatar_url == "https://a.example/1.png"
    assert info.gender == 2


async def test_given_openid_is_preserved_and_each_login_has_a_new_session_key(
    http: httpx.AsyncClient, client: MiniProgramClient
) -> None:
    first = await client.code2session(
        (await sandbox_login(http, nickname="a", openid="o_abc-1"))["code"]
    )
    second = await client.code2session(
        (await sandbox_login(http, nickname="b", openid="o_abc-1"))["code"]
    )
    assert first.openid == second.openid == "o_abc-1"
    assert first.session_key != second.session_key


async def test_optional_profile_fields_default(
    http: httpx.AsyncClient, client: MiniProgramClient
) -> None:
    login = await sandbox_login(http, nickname="无头像")
    session = await client.code2session(login["code"])
    info = decrypt_user_info(session.session_key, login["encryptedData"], login["iv"], appid=APPID)
    assert (info.avatar_url, info.gender) == (None, 0)


async def test_a_code_works_once(http: httpx.AsyncClient, client: MiniProgramClient) -> None:
    login = await sandbox_login(http, nickname="一次性")
    await client.code2session(login["code"])
    with pytest.raises(WeChatLoginError) as caught:
        await client.code2session(login["code"])
    assert caught.value.errcode == 40029


async def test_unknown_code_is_refused(client: MiniProgramClient) -> None:
    with pytest.raises(WeChatInvalidCodeError) as caught:
        await client.code2session("no-such-code")
    assert (caught.value.errcode, caught.value.errmsg) == (40029, "invalid code")
    assert "wx.login" in caught.value.reason


async def test_each_login_is_remembered_as_the_latest_session_key(
    app: Starlette, http: httpx.AsyncClient, client: MiniProgramClient
) -> None:
    state: SandboxState = app.state.sandbox
    assert state.login_codes.session_key_of("o-latest") is None
    first = await sandbox_login(http, nickname="a", openid="o-latest")
    second = await sandbox_login(http, nickname="b", openid="o-latest")
    latest = (await client.code2session(second["code"])).session_key
    assert state.login_codes.session_key_of("o-latest") == latest
    # The older code still stands for its own login's key, which decrypts its own data.
    older = await client.code2session(first["code"])
    assert older.session_key != latest
    info = decrypt_user_info(older.session_key, first["encryptedData"], first["iv"], appid=APPID)
    assert info.nickname == "a"


async def test_jscode2session_answers_like_wechat(http: httpx.AsyncClient) -> None:
    """HTTP 200 and a text/plain label even on errors, so the client must read the body."""
    response = await http.get(
        "/sns/jscode2session",
        params={
            "appid": APPID,
            "secret": SECRET,
            "js_code": "x",
            "grant_type": "authorization_code",
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.json() == {"errcode": 40029, "errmsg": "invalid code"}


def test_sandbox_refuses_production_settings() -> None:
    production = make_settings(
        env="production",
        jwt_secret="p" * 40,
        wechat_pay_apiv3_key="k" * 32,
        internal_token="i" * 40,
    )
    with pytest.raises(RuntimeError):
        create_app(production)


def test_every_error_is_a_wechat_error() -> None:
    for kind in (WeChatLoginError, WeChatUnavailableError, WeChatDecryptError):
        assert issubclass(kind, WeChatError)
    assert issubclass(WeChatInvalidCodeError, WeChatLoginError)


async def test_a_code_expires_after_five_minutes(
    app: Starlette, http: httpx.AsyncClient, client: MiniProgramClient
) -> None:
    state: SandboxState = app.state.sandbox
    now = [1000.0]
    state.clock = lambda: now[0]
    login = await sandbox_login(http, nickname="迟到")
    now[0] += LOGIN_CODE_TTL_SECONDS
    with pytest.raises(WeChatLoginError) as caught:
        await client.code2session(login["code"])
    assert caught.value.errcode == 40029


async def test_wrong_secret_is_refused_and_leaves_the_code_usable(
    http: httpx.AsyncClient, client: MiniProgramClient
) -> None:
    login = await sandbox_login(http, nickname="x")
    wrong = MiniProgramClient(make_settings(wechat_mini_secret="nope"), http=http)
    with pytest.raises(WeChatLoginError) as caught:
        await wrong.code2session(login["code"])
    assert caught.value.errcode == 40125
    assert not isinstance(caught.value, WeChatInvalidCodeError)
    assert "wx.login" not in caught.value.reason  # our misconfiguration, not the user's
    assert isinstance(await client.code2session(login["code"]), WxSession)


async def test_wrong_appid_is_refused(http: httpx.AsyncClient) -> None:
    login = await sandbox_login(http, nickname="x")
    wrong = MiniProgramClient(make_settings(wechat_mini_appid="wx-other"), http=http)
    with pytest.raises(WeChatLoginError) as caught:
        await wrong.code2session(login["code"])
    assert caught.value.errcode == 40013


@pytest.fixture
async def logged_in(
    http: httpx.AsyncClient, client: MiniProgramClient
) -> tuple[dict[str, str], WxSession]:
    login = await sandbox_login(http, nickname="篡改", openid="o-tamper")
    return login, await client.code2session(login["code"])


def _flip_last_byte(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


async def test_tampered_encrypted_data_is_refused(
    logged_in: tuple[dict[str, str], WxSession],
) -> None:
    login, session = logged_in
    for tampered in (
        _flip_last_byte(login["encryptedData"]),
        login["encryptedData"][:-8] + "AAAAAAA=",  # what the end-to-end test sends
        login["encryptedData"][:-4],  # not whole blocks
        "not base64!",
        "",
    ):
        with pytest.raises(WeChatDecryptError):
            decrypt_user_info(session.session_key, tampered, login["iv"], appid=APPID)


async def test_wrong_iv_is_refused(logged_in: tuple[dict[str, str], WxSession]) -> None:
    login, session = logged_in
    zero_iv = base64.b64encode(bytes(16)).decode()
    for iv in (zero_iv, "", "AAAA", login["encryptedData"][:24]):
        with pytest.raises(WeChatDecryptError):
            decrypt_user_info(session.session_key, login["encryptedData"], iv, appid=APPID)


async def test_iv_bit_flips_reach_only_the_openid_which_callers_must_compare(
    logged_in: tuple[dict[str, str], WxSession],
) -> None:
    """CBC has no integrity check: flipping iv bits edits the first block (the openId)
    undetected, so callers must compare the decrypted openid with code2session's."""
    login, session = logged_in
    flipped = decrypt_user_info(
        session.session_key, login["encryptedData"], _flip_last_byte(login["iv"]), appid=APPID
    )
    assert flipped.openid != session.openid
    assert flipped.nickname == "篡改"


async def test_wrong_session_key_is_refused(
    http: httpx.AsyncClient,
    client: MiniProgramClient,
    logged_in: tuple[dict[str, str], WxSession],
) -> None:
    login, _ = logged_in
    other = await client.code2session((await sandbox_login(http, nickname="y"))["code"])
    for key in (other.session_key, "", "c2hvcnQ="):
        with pytest.raises(WeChatDecryptError):
            decrypt_user_info(key, login["encryptedData"], login["iv"], appid=APPID)


async def test_user_info_of_another_app_is_refused(
    logged_in: tuple[dict[str, str], WxSession],
) -> None:
    login, session = logged_in
    with pytest.raises(WeChatDecryptError):
        decrypt_user_info(
            session.session_key, login["encryptedData"], login["iv"], appid="wx-other"
        )


@pytest.mark.parametrize(
    "body",
    [
        {"nickname": ""},
        {"nickname": "   "},
        {},
        {"nickname": 5},
        {"nickname": "x" * 65},
        {"nickname": "ok", "openid": ""},
        {"nickname": "ok", "openid": "has space"},
        {"nickname": "ok", "openid": "o" * 65},
        {"nickname": "ok", "gender": 3},
        {"nickname": "ok", "gender": True},
        {"nickname": "ok", "avatar": 1},
        ["nickname"],
    ],
)
async def test_bad_login_bodies_are_400(http: httpx.AsyncClient, body: Any) -> None:
    response = await http.post("/sandbox/login", json=body)
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)


async def test_non_json_login_body_is_400(http: httpx.AsyncClient) -> None:
    response = await http.post("/sandbox/login", content=b"{nope")
    assert response.status_code == 400


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that is bound (so nobody else takes it) but not listening: connects are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_sandbox_not_listening_is_unavailable(closed_port: int) -> None:
    client = MiniProgramClient(make_settings(wechat_api_base=f"http://127.0.0.1:{closed_port}"))
    try:
        with pytest.raises(WeChatUnavailableError):
            await client.code2session("any")
    finally:
        await client.aclose()


async def test_connect_errors_are_retried_once() -> None:
    calls: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    client = MiniProgramClient(
        make_settings(), http=httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    )
    with pytest.raises(WeChatUnavailableError):
        await client.code2session("c")
    assert len(calls) == 2


async def test_a_connect_error_then_success_goes_through() -> None:
    calls: list[httpx.Request] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, text='{"openid": "o1", "session_key": "k"}')

    client = MiniProgramClient(
        make_settings(), http=httpx.AsyncClient(transport=httpx.MockTransport(flaky))
    )
    assert await client.code2session("c") == WxSession(openid="o1", session_key="k")


async def test_a_request_that_may_have_arrived_is_not_retried() -> None:
    calls: list[httpx.Request] = []

    def slow(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("slow", request=request)

    client = MiniProgramClient(
        make_settings(), http=httpx.AsyncClient(transport=httpx.MockTransport(slow))
    )
    with pytest.raises(WeChatUnavailableError):
        await client.code2session("c")
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("errcode", "kind"),
    [
        (40163, WeChatInvalidCodeError),
        (40226, WeChatLoginBlockedError),
        (40013, WeChatLoginError),
    ],
)
async def test_real_wechat_errcodes_map_to_their_kind(
    errcode: int, kind: type[WeChatLoginError]
) -> None:
    """Errcodes real WeChat sends that the sandbox does not (it answers 40029 for a used code)."""
    answer = httpx.Response(200, json={"errcode": errcode, "errmsg": "from wechat"})
    client = MiniProgramClient(
        make_settings(),
        http=httpx.AsyncClient(transport=httpx.MockTransport(lambda _: answer)),
    )
    with pytest.raises(kind) as caught:
        await client.code2session("c")
    assert type(caught.value) is kind
    assert caught.value.errcode == errcode


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(502, text="bad gateway"),
        httpx.Response(200, text="<html>"),
        httpx.Response(200, json={"errcode": -1, "errmsg": "system error"}),
        httpx.Response(200, json={"errcode": 45011, "errmsg": "minute-quota reach limit"}),
        httpx.Response(200, json={"errcode": "40029", "errmsg": "string errcode"}),
        httpx.Response(200, json={"openid": "o1"}),
        httpx.Response(200, json=[1]),
    ],
)
async def test_unusable_answers_are_unavailable(response: httpx.Response) -> None:
    client = MiniProgramClient(
        make_settings(),
        http=httpx.AsyncClient(transport=httpx.MockTransport(lambda _: response)),
    )
    with pytest.raises(WeChatUnavailableError):
        await client.code2session("c")


async def test_request_carries_wechat_parameters() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text='{"openid": "o1", "session_key": "k", "unionid": "u"}')

    client = MiniProgramClient(
        make_settings(), http=httpx.AsyncClient(transport=httpx.MockTransport(record))
    )
    session = await client.code2session("the-code")
    assert session.unionid == "u"
    url = seen[0].url
    assert str(url).startswith(f"{BASE}/sns/jscode2session?")
    assert dict(url.params) == {
        "appid": APPID,
        "secret": SECRET,
        "js_code": "the-code",
        "grant_type": "authorization_code",
    }
