"""WeChat mini-program login through the router against the WeChat sandbox."""

from __future__ import annotations

import secrets

import pytest

from tests.support.graphql import GraphQLClient
from tests.support.stack import Stack
from tests.support.users import ME, WX_MINI_AUTH, sandbox_login

pytestmark = pytest.mark.e2e


async def test_first_and_second_login_map_to_the_same_user(
    router: GraphQLClient, stack: Stack
) -> None:
    openid = f"o{secrets.token_hex(13)}"
    first_login = await sandbox_login(stack.sandbox_url, "山间小屋", openid=openid)
    first = (await router.execute(WX_MINI_AUTH, {"input": first_login})).ok()["wxMiniAuth"]
    assert first["user"]["nickname"] == "山间小屋"
    assert first["user"]["mobile"] is None

    me = (await router.execute(ME, token=first["accessToken"])).ok()["me"]
    assert me["id"] == first["user"]["id"]

    second_login = await sandbox_login(stack.sandbox_url, "改了昵称", openid=openid)
    second = (await router.execute(WX_MINI_AUTH, {"input": second_login})).ok()["wxMiniAuth"]
    assert second["user"]["id"] == first["user"]["id"]

    stranger = await sandbox_login(stack.sandbox_url, "路人")
    third = (await router.execute(WX_MINI_AUTH, {"input": stranger})).ok()["wxMiniAuth"]
    assert third["user"]["id"] != first["user"]["id"]


async def test_a_code_works_only_once(router: GraphQLClient, stack: Stack) -> None:
    login = await sandbox_login(stack.sandbox_url, "一次性")
    assert (await router.execute(WX_MINI_AUTH, {"input": login})).ok()
    replay = await router.execute(WX_MINI_AUTH, {"input": login})
    assert replay.codes == ["WECHAT_LOGIN_FAILED"]


async def test_tampered_user_info_is_refused(router: GraphQLClient, stack: Stack) -> None:
    login = await sandbox_login(stack.sandbox_url, "篡改")
    login["encryptedData"] = login["encryptedData"][:-8] + "AAAAAAA="
    result = await router.execute(WX_MINI_AUTH, {"input": login})
    assert result.codes == ["BAD_USER_INPUT"]
