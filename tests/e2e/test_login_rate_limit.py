"""Password guessing is throttled per mobile and per client address."""

from __future__ import annotations

import pytest

from tests.support.graphql import GraphQLClient
from tests.support.users import LOGIN, PASSWORD, register

pytestmark = pytest.mark.e2e


async def test_repeated_wrong_passwords_lock_the_mobile(router: GraphQLClient) -> None:
    account = await register(router)
    wrong = {"input": {"mobile": account.mobile, "password": "guess-guess-guess"}}
    for _ in range(5):  # LOGIN_ATTEMPTS_PER_MOBILE defaults to 5
        assert (await router.execute(LOGIN, wrong)).codes == ["UNAUTHENTICATED"]
    locked = await router.execute(LOGIN, wrong)
    assert locked.codes == ["TOO_MANY_REQUESTS"]
    assert locked.errors[0]["extensions"]["retryAfter"] > 0
    # Even the right password waits until the window ends.
    right = await router.execute(LOGIN, {"input": {"mobile": account.mobile, "password": PASSWORD}})
    assert right.codes == ["TOO_MANY_REQUESTS"]
    # Another account is not affected.
    other = await register(router)
    ok = await router.execute(LOGIN, {"input": {"mobile": other.mobile, "password": PASSWORD}})
    assert ok.ok()["login"]["user"]["id"] == other.user_id
