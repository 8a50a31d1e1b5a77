"""Revocation lives in the users database: losing Redis revokes nothing and revives nothing.

Through the real router, on the users subgraph (which reads its database on a
cache miss) and on the orders subgraph (which asks the users subgraph).
"""

from __future__ import annotations

import time

import jwt
import pytest
import redis.asyncio as redis

from tests.conftest import TEST_JWT_SECRET
from tests.support.graphql import GraphQLClient, Result
from tests.support.stack import Stack
from tests.support.users import LOGIN, ME, PASSWORD, REFRESH, register

pytestmark = pytest.mark.e2e

LOGOUT = "mutation { logout }"
# Answered by the orders subgraph alone, which checks the token itself.
ORDER = 'query { homestayOrder(sn: "HSO20260101000000nosuch") { sn } }'


async def _flush(stack: Stack) -> None:
    """What a Redis restart without persistence (or a FLUSHDB) does to every cache."""
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    try:
        await client.flushdb()
    finally:
        await client.aclose()


def _refused(result: Result) -> bool:
    return result.codes == ["UNAUTHENTICATED"]


async def test_logged_out_tokens_stay_dead_after_redis_loses_everything(
    router: GraphQLClient, stack: Stack
) -> None:
    account = await register(router)
    assert (await router.execute(LOGOUT, token=account.access_token)).ok()
    await _flush(stack)

    assert _refused(await router.execute(ME, token=account.access_token))
    assert _refused(await router.execute(ORDER, token=account.access_token))
    assert _refused(await router.execute(REFRESH, {"token": account.refresh_token}))
    # The user logs in again and is let in; the flush logged nobody else out.
    login = await router.execute(LOGIN, {"input": {"mobile": account.mobile, "password": PASSWORD}})
    fresh = login.ok()["login"]["accessToken"]
    await _flush(stack)
    assert (await router.execute(ME, token=fresh)).ok()["me"]["id"] == account.user_id
    assert (await router.execute(ORDER, token=fresh)).ok() == {"homestayOrder": None}


async def test_a_used_refresh_token_stays_used_after_redis_loses_everything(
    router: GraphQLClient, stack: Stack
) -> None:
    account = await register(router)
    renewed = (await router.execute(REFRESH, {"token": account.refresh_token})).ok()
    await _flush(stack)

    assert _refused(await router.execute(REFRESH, {"token": account.refresh_token}))
    # Reuse means theft: the tokens the first use gave are revoked too.
    assert _refused(await router.execute(ME, token=renewed["refreshToken"]["accessToken"]))


async def test_a_valid_token_survives_a_flush_on_every_subgraph(
    router: GraphQLClient, stack: Stack
) -> None:
    account = await register(router)
    await _flush(stack)
    assert (await router.execute(ORDER, token=account.access_token)).ok() == {"homestayOrder": None}
    assert (await router.execute(ME, token=account.access_token)).ok()["me"]["id"] == (
        account.user_id
    )


async def test_a_token_for_an_unknown_user_is_unauthenticated(router: GraphQLClient) -> None:
    now = int(time.time())
    claims = {
        "sub": "987654321", "iss": "looklook", "iat": now, "exp": now + 600,
        "typ": "access", "ver": 0, "jti": "nobody",
    }  # fmt: skip
    token = jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")
    assert _refused(await router.execute(ME, token=token))
    assert _refused(await router.execute(ORDER, token=token))
    assert _refused(await router.execute(LOGOUT, token=token))
