"""users service functions against the real database and Redis."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from common import ratelimit
from common.db import Database
from common.errors import (
    BadUserInput,
    Conflict,
    DomainError,
    ErrorCode,
    TooManyRequests,
    Unauthenticated,
)
from common.settings import Settings
from common.wechat.miniprogram import MiniProgramClient
from sandbox.app import create_app
from subgraphs.users import service
from subgraphs.users.models import User, UserAuth
from tests.support.users import PASSWORD, new_mobile


def _limits(per_mobile: int = 5, per_address: int = 3) -> service.LoginLimits:
    scope = secrets.token_hex(4)  # fresh counters per test
    return service.LoginLimits(
        per_mobile=ratelimit.Limit(f"t-mobile-{scope}", per_mobile, 60),
        per_address=ratelimit.Limit(f"t-address-{scope}", per_address, 60),
    )


async def test_password_is_stored_as_argon2id_hash(users_db: Database) -> None:
    user = await service.register(users_db, mobile=new_mobile(), password=PASSWORD, nickname=None)
    async with users_db.session() as session:
        stored = await session.scalar(select(User.password).where(User.id == user.id))
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert user.nickname.startswith("用户")


async def test_concurrent_registrations_of_one_mobile_create_one_account(
    users_db: Database,
) -> None:
    mobile = new_mobile()
    results = await asyncio.gather(
        *(
            service.register(users_db, mobile=mobile, password=PASSWORD, nickname=None)
            for _ in range(5)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, User)]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, User))
    async with users_db.session() as session:
        users = await session.scalar(
            select(func.count()).select_from(User).where(User.mobile == mobile)
        )
        auths = await session.scalar(
            select(func.count()).select_from(UserAuth).where(UserAuth.auth_key == mobile)
        )
    assert (users, auths) == (1, 1)


async def test_per_address_limit_counts_every_attempt(users_db: Database, redis: Redis) -> None:
    limits = _limits(per_address=3)
    account = await service.register(
        users_db, mobile=new_mobile(), password=PASSWORD, nickname=None
    )
    assert account.mobile

    async def login_from(address: str) -> User:
        assert account.mobile
        return await service.authenticate(
            users_db,
            redis,
            limits,
            mobile=account.mobile,
            password=PASSWORD,
            client_address=address,
        )

    for _ in range(3):
        await login_from("198.51.100.9")
    with pytest.raises(TooManyRequests):
        await login_from("198.51.100.9")
    # Another address still gets in.
    assert (await login_from("198.51.100.10")).id == account.id


async def test_successful_login_resets_the_mobile_counter(users_db: Database, redis: Redis) -> None:
    limits = _limits(per_mobile=2, per_address=100)
    account = await service.register(
        users_db, mobile=new_mobile(), password=PASSWORD, nickname=None
    )
    assert account.mobile

    async def login_with(password: str) -> User:
        assert account.mobile
        return await service.authenticate(
            users_db, redis, limits, mobile=account.mobile, password=password, client_address="a"
        )

    # Without the reset, the third wrong password would be TOO_MANY_REQUESTS.
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await login_with("wrong-password")
        await login_with(PASSWORD)


# WeChat login: which failures are the user's (WECHAT_LOGIN_FAILED) and which are
# WeChat's or ours (SERVICE_UNAVAILABLE), against an in-process WeChat sandbox.

WX_APPID = "wx-service-test-appid"
WX_SECRET = "service-test-secret"
WX_BASE = "http://wechat.sandbox.test"


def _wechat_settings(secret: str = WX_SECRET) -> Settings:
    return Settings(
        wechat_mini_appid=WX_APPID,
        wechat_mini_secret=secret,
        wechat_api_base=WX_BASE,
        wechat_timeout_seconds=2.0,
    )


@pytest.fixture
async def wechat_sandbox() -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox, knowing the right appid and secret, reached in process."""
    app = create_app(_wechat_settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=WX_BASE) as http:
        yield http


async def _phone_login(sandbox: httpx.AsyncClient) -> dict[str, str]:
    """What wx.login + wx.getUserProfile hand the mini-program."""
    response = await sandbox.post("/sandbox/login", json={"nickname": "登录测试"})
    response.raise_for_status()
    data: dict[str, str] = response.json()
    return data


async def _wechat_login(
    users_db: Database, wechat: MiniProgramClient, login: dict[str, str]
) -> User:
    return await service.login_with_wechat(
        users_db,
        wechat,
        appid=WX_APPID,
        code=login["code"],
        encrypted_data=login["encryptedData"],
        iv=login["iv"],
    )


async def _login_against(
    users_db: Database, handler: Callable[[httpx.Request], httpx.Response]
) -> User:
    """Log in with a WeChat that answers by `handler` (for answers the sandbox never gives)."""
    transport = httpx.MockTransport(handler)
    async with httpx.AsyncClient(transport=transport, base_url=WX_BASE) as http:
        wechat = MiniProgramClient(_wechat_settings(), http=http)
        return await _wechat_login(users_db, wechat, {"code": "c", "encryptedData": "e", "iv": "i"})


async def test_a_used_wechat_code_is_the_users_to_renew(
    users_db: Database, wechat_sandbox: httpx.AsyncClient
) -> None:
    wechat = MiniProgramClient(_wechat_settings(), http=wechat_sandbox)
    login = await _phone_login(wechat_sandbox)
    user = await _wechat_login(users_db, wechat, login)
    assert user.nickname == "登录测试"

    with pytest.raises(service.WeChatLoginFailed) as refused:
        await _wechat_login(users_db, wechat, login)  # 40029: the code was used

    assert refused.value.code is ErrorCode.WECHAT_LOGIN_FAILED
    assert refused.value.message == (
        "The WeChat login code is invalid or expired; call wx.login again."
    )


async def test_a_wrong_app_secret_is_not_blamed_on_the_user(
    users_db: Database, wechat_sandbox: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    wechat = MiniProgramClient(_wechat_settings(secret="not-the-secret"), http=wechat_sandbox)
    login = await _phone_login(wechat_sandbox)

    with caplog.at_level(logging.INFO), pytest.raises(DomainError) as refused:
        await _wechat_login(users_db, wechat, login)  # the sandbox answers 40125

    assert refused.value.code is ErrorCode.SERVICE_UNAVAILABLE
    assert refused.value.message == service.WECHAT_LOGIN_UNAVAILABLE
    assert "code" not in refused.value.message
    misconfigured = [
        record
        for record in caplog.records
        if record.name == "looklook.users" and record.levelno == logging.ERROR
    ]
    assert len(misconfigured) == 1
    assert "WECHAT_MINI_SECRET" in misconfigured[0].getMessage()
    assert "40125" in misconfigured[0].getMessage()


async def test_a_wrong_appid_is_not_blamed_on_the_user(users_db: Database) -> None:
    def wechat(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errcode": 40013, "errmsg": "invalid appid"})

    with pytest.raises(DomainError) as refused:
        await _login_against(users_db, wechat)

    assert refused.value.code is ErrorCode.SERVICE_UNAVAILABLE


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503, text="busy"),
        httpx.Response(200, json={"errcode": -1, "errmsg": "system error"}),
    ],
    ids=["http-503", "system-busy"],
)
async def test_wechat_unavailable_is_service_unavailable(
    users_db: Database, answer: httpx.Response
) -> None:
    with pytest.raises(DomainError) as refused:
        await _login_against(users_db, lambda _: answer)

    assert refused.value.code is ErrorCode.SERVICE_UNAVAILABLE
    assert refused.value.message == service.WECHAT_LOGIN_UNAVAILABLE


async def test_unreachable_wechat_is_service_unavailable(users_db: Database) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(DomainError) as refused:
        await _login_against(users_db, unreachable)

    assert refused.value.code is ErrorCode.SERVICE_UNAVAILABLE


async def test_an_account_wechat_refuses_is_told_so(users_db: Database) -> None:
    def wechat(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errcode": 40226, "errmsg": "high risk user"})

    with pytest.raises(service.WeChatLoginFailed) as refused:
        await _login_against(users_db, wechat)

    assert refused.value.code is ErrorCode.WECHAT_LOGIN_FAILED
    assert refused.value.message == "WeChat refused to log this account in."


async def test_unreadable_user_info_stays_the_users_input_error(
    users_db: Database, wechat_sandbox: httpx.AsyncClient
) -> None:
    wechat = MiniProgramClient(_wechat_settings(), http=wechat_sandbox)
    login = await _phone_login(wechat_sandbox)
    login["encryptedData"] = login["encryptedData"][:-8] + "AAAAAAA="

    with pytest.raises(BadUserInput) as refused:
        await _wechat_login(users_db, wechat, login)

    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "field": "encryptedData"}
