"""Account helpers for tests: fresh mobiles, registration, WeChat sandbox logins."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.graphql import GraphQLClient

AUTH_FIELDS = "accessToken accessExpire refreshAfter refreshToken user { id nickname mobile }"
REGISTER = f"""mutation($input: RegisterInput!) {{ register(input: $input) {{ {AUTH_FIELDS} }} }}"""
LOGIN = f"""mutation($input: LoginInput!) {{ login(input: $input) {{ {AUTH_FIELDS} }} }}"""
WX_MINI_AUTH = (
    f"""mutation($input: WxMiniAuthInput!) {{ wxMiniAuth(input: $input) {{ {AUTH_FIELDS} }} }}"""
)
REFRESH = (
    f"""mutation($token: String!) {{ refreshToken(refreshToken: $token) {{ {AUTH_FIELDS} }} }}"""
)
ME = "{ me { id nickname mobile sex } }"
PASSWORD = "correct-horse-battery"


def new_mobile() -> str:
    """A random, valid mainland mobile (tests share one database, so never reuse one)."""
    return f"1{random.choice('3456789')}{random.randrange(10**9):09d}"


@dataclass
class Account:
    user_id: str
    mobile: str | None
    access_token: str
    refresh_token: str
    openid: str | None = None  # set for accounts made by a WeChat login


def account_from(payload: dict[str, Any], mobile: str | None = None) -> Account:
    return Account(
        user_id=payload["user"]["id"],
        mobile=mobile,
        access_token=payload["accessToken"],
        refresh_token=payload["refreshToken"],
    )


async def register(client: GraphQLClient, nickname: str = "旅行者") -> Account:
    mobile = new_mobile()
    result = await client.execute(
        REGISTER, {"input": {"mobile": mobile, "password": PASSWORD, "nickname": nickname}}
    )
    return account_from(result.ok()["register"], mobile)


async def sandbox_login(
    sandbox_url: str, nickname: str, openid: str | None = None
) -> dict[str, str]:
    """What wx.login + wx.getUserProfile hand the mini-program, from the WeChat sandbox."""
    body: dict[str, Any] = {"nickname": nickname}
    if openid:
        body["openid"] = openid
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{sandbox_url}/sandbox/login", json=body)
    response.raise_for_status()
    data: dict[str, str] = response.json()
    return data


async def wechat_account(client: GraphQLClient, sandbox_url: str, nickname: str) -> Account:
    """A user who logged in from the mini-program (so WeChat Pay knows them as a payer)."""
    openid = f"o{secrets.token_hex(13)}"
    login = await sandbox_login(sandbox_url, nickname, openid=openid)
    payload = (await client.execute(WX_MINI_AUTH, {"input": login})).ok()["wxMiniAuth"]
    account = account_from(payload)
    account.openid = openid
    return account
