"""Account throttles hold through the real router against address spoofing and bursts.

A users subgraph with small limits sits behind a router of its own; accounts
are made through the suite's router (generous limits), then the counters are
cleared and the strict one is attacked.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable

import pytest
import redis.asyncio as redis

from common.settings import Domain
from tests.support.graphql import GraphQLClient, Result
from tests.support.stack import Stack
from tests.support.users import (
    LOGIN,
    PASSWORD,
    REFRESH,
    REGISTER,
    WX_MINI_AUTH,
    new_mobile,
    register,
    sandbox_login,
)

pytestmark = pytest.mark.e2e

PER_MOBILE = 5
PER_ADDRESS = 60
ACCOUNT_MUTATIONS = 3  # register, wxMiniAuth and refreshToken each, per address


@pytest.fixture(scope="module")
def strict(stack: Stack) -> GraphQLClient:
    users = stack.start_subgraph(
        Domain.USERS,
        LOGIN_ATTEMPTS_PER_MOBILE=str(PER_MOBILE),
        LOGIN_ATTEMPTS_PER_ADDRESS=str(PER_ADDRESS),
        REGISTER_ATTEMPTS_PER_ADDRESS=str(ACCOUNT_MUTATIONS),
        WX_MINI_AUTH_ATTEMPTS_PER_ADDRESS=str(ACCOUNT_MUTATIONS),
        REFRESH_ATTEMPTS_PER_ADDRESS=str(ACCOUNT_MUTATIONS),
    )
    # Every request of a burst must reach the subgraph (no sharing of identical ones).
    return GraphQLClient(
        stack.start_router(SUBGRAPH_USERS_URL=users, ROUTER_DEDUPLICATE_INFLIGHT="false")
    )


async def _rate_limit_keys(stack: Stack) -> list[str]:
    client = redis.Redis.from_url(stack.env["REDIS_URL"], decode_responses=True)
    try:
        return sorted([key async for key in client.scan_iter("ratelimit:*")])
    finally:
        await client.aclose()


async def _reset_counters(stack: Stack) -> None:
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    try:
        for key in await _rate_limit_keys(stack):
            await client.delete(key)
    finally:
        await client.aclose()


def _spoofed(n: int) -> dict[str, str]:
    """A client-chosen X-Forwarded-For, a new address each time."""
    return {"X-Forwarded-For": f"203.0.113.{n % 250}, 198.51.100.{n // 250}"}


def _codes(results: list[Result]) -> Counter[str]:
    return Counter(code for result in results for code in result.codes or ["OK"])


async def test_rotating_x_forwarded_for_does_not_escape_the_address_limit(
    stack: Stack, strict: GraphQLClient
) -> None:
    await _reset_counters(stack)
    results = []
    for n in range(PER_ADDRESS + 5):
        login = {"input": {"mobile": new_mobile(), "password": "guess-guess-guess"}}
        results.append(await strict.execute(LOGIN, login, headers=_spoofed(n)))
    assert [r.codes for r in results[:PER_ADDRESS]] == [["UNAUTHENTICATED"]] * PER_ADDRESS
    assert [r.codes for r in results[PER_ADDRESS:]] == [["TOO_MANY_REQUESTS"]] * 5
    # Counted against the address the router saw, never one the client wrote (so
    # nobody can spend a victim's allowance by writing the victim's address either).
    assert [k for k in await _rate_limit_keys(stack) if "login-address" in k] == [
        "ratelimit:login-address:127.0.0.1"
    ]


async def test_a_concurrent_burst_gets_no_more_guesses_than_the_limit(
    router: GraphQLClient, stack: Stack, strict: GraphQLClient
) -> None:
    account = await register(router)
    await _reset_counters(stack)
    wrong = {"input": {"mobile": account.mobile, "password": "guess-guess-guess"}}
    burst = await strict.execute_concurrently(LOGIN, wrong, times=50)
    assert _codes(burst) == {"UNAUTHENTICATED": PER_MOBILE, "TOO_MANY_REQUESTS": 50 - PER_MOBILE}
    # Locked: the right password is refused too until the window ends.
    right = {"input": {"mobile": account.mobile, "password": PASSWORD}}
    assert (await strict.execute(LOGIN, right)).codes == ["TOO_MANY_REQUESTS"]
    # A burst with the right password among the wrong ones: still only the limit is
    # verified, so the right one gets in only if it was among the first few, as it would
    # sequentially.
    other = await register(router)
    await _reset_counters(stack)
    passwords = [f"guess-{n:04d}" for n in range(29)] + [PASSWORD]
    guesses: list[Awaitable[Result]] = [
        strict.execute(LOGIN, {"input": {"mobile": other.mobile, "password": password}})
        for password in passwords
    ]
    codes = _codes(await _gather(guesses))
    assert codes["UNAUTHENTICATED"] + codes["OK"] == PER_MOBILE
    assert codes["TOO_MANY_REQUESTS"] == len(passwords) - PER_MOBILE


async def _gather(requests: list[Awaitable[Result]]) -> list[Result]:
    return list(await asyncio.gather(*requests))


async def test_register_is_throttled_per_address(stack: Stack, strict: GraphQLClient) -> None:
    await _reset_counters(stack)
    results = [
        await strict.execute(
            REGISTER, {"input": {"mobile": new_mobile(), "password": PASSWORD}}, headers=_spoofed(n)
        )
        for n in range(ACCOUNT_MUTATIONS + 2)
    ]
    assert [r.codes for r in results] == [[]] * ACCOUNT_MUTATIONS + [["TOO_MANY_REQUESTS"]] * 2
    assert results[-1].errors[0]["extensions"]["retryAfter"] > 0


async def test_wechat_login_is_throttled_per_address(stack: Stack, strict: GraphQLClient) -> None:
    logins = [await sandbox_login(stack.sandbox_url, f"批量{n}") for n in range(4)]
    await _reset_counters(stack)
    results = [
        await strict.execute(WX_MINI_AUTH, {"input": login}, headers=_spoofed(n))
        for n, login in enumerate(logins)
    ]
    assert [r.codes for r in results] == [[]] * ACCOUNT_MUTATIONS + [["TOO_MANY_REQUESTS"]]


async def test_refresh_is_throttled_per_address(
    router: GraphQLClient, stack: Stack, strict: GraphQLClient
) -> None:
    accounts = [await register(router) for _ in range(ACCOUNT_MUTATIONS + 1)]
    await _reset_counters(stack)
    results = [
        await strict.execute(REFRESH, {"token": account.refresh_token}, headers=_spoofed(n))
        for n, account in enumerate(accounts)
    ]
    assert [r.codes for r in results] == [[]] * ACCOUNT_MUTATIONS + [["TOO_MANY_REQUESTS"]]
