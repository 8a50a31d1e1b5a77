"""Accounts through the router: register, login, me, refresh, logout, profile."""

from __future__ import annotations

import pytest

from tests.support.graphql import GraphQLClient
from tests.support.users import LOGIN, ME, PASSWORD, REFRESH, REGISTER, new_mobile, register

pytestmark = pytest.mark.e2e


async def test_register_login_me_refresh_logout(router: GraphQLClient) -> None:
    mobile = new_mobile()
    registered = await router.execute(
        REGISTER, {"input": {"mobile": f"+86 {mobile}", "password": PASSWORD, "nickname": "小林"}}
    )
    payload = registered.ok()["register"]
    assert payload["user"]["nickname"] == "小林"
    assert payload["user"]["mobile"] == mobile
    assert payload["accessExpire"] > payload["refreshAfter"]

    logged_in = (
        await router.execute(LOGIN, {"input": {"mobile": mobile, "password": PASSWORD}})
    ).ok()["login"]
    assert logged_in["user"]["id"] == payload["user"]["id"]
    token = logged_in["accessToken"]

    me = (await router.execute(ME, token=token)).ok()["me"]
    assert me == {
        "id": payload["user"]["id"],
        "nickname": "小林",
        "mobile": mobile,
        "sex": "UNKNOWN",
    }

    refreshed = (await router.execute(REFRESH, {"token": logged_in["refreshToken"]})).ok()
    new_token = refreshed["refreshToken"]["accessToken"]
    assert (await router.execute(ME, token=new_token)).ok()["me"]["id"] == me["id"]

    assert (await router.execute("mutation { logout }", token=new_token)).ok() == {"logout": True}
    for old in (token, new_token):
        refused = await router.execute(ME, token=old)
        assert refused.codes == ["UNAUTHENTICATED"]
    stale_refresh = await router.execute(
        REFRESH, {"token": refreshed["refreshToken"]["refreshToken"]}
    )
    assert stale_refresh.codes == ["UNAUTHENTICATED"]

    again = (await router.execute(LOGIN, {"input": {"mobile": mobile, "password": PASSWORD}})).ok()
    assert (await router.execute(ME, token=again["login"]["accessToken"])).ok()["me"]["id"] == me[
        "id"
    ]


async def test_anonymous_me_is_null(router: GraphQLClient) -> None:
    assert (await router.execute(ME)).ok() == {"me": None}


async def test_refresh_token_is_single_use_and_reuse_revokes_everything(
    router: GraphQLClient,
) -> None:
    account = await register(router)
    first = await router.execute(REFRESH, {"token": account.refresh_token})
    new_access = first.ok()["refreshToken"]["accessToken"]

    reused = await router.execute(REFRESH, {"token": account.refresh_token})
    assert reused.codes == ["UNAUTHENTICATED"]
    # Reuse looks like theft: the tokens issued by the first refresh die too.
    assert (await router.execute(ME, token=new_access)).codes == ["UNAUTHENTICATED"]


async def test_duplicate_mobile_is_a_conflict(router: GraphQLClient) -> None:
    account = await register(router)
    again = await router.execute(
        REGISTER, {"input": {"mobile": account.mobile, "password": PASSWORD}}
    )
    assert again.codes == ["CONFLICT"]
    assert again.errors[0]["extensions"]["field"] == "mobile"
    assert again.data is None


@pytest.mark.parametrize(
    ("mobile", "password", "field"),
    [
        ("12345", PASSWORD, "mobile"),
        ("23800138000", PASSWORD, "mobile"),
        ("1380013800a", PASSWORD, "mobile"),
        (None, "", "password"),
        (None, "   ", "password"),
        (None, "short", "password"),
    ],
)
async def test_bad_registration_input_is_refused_with_the_field(
    router: GraphQLClient, mobile: str | None, password: str, field: str
) -> None:
    result = await router.execute(
        REGISTER, {"input": {"mobile": mobile or new_mobile(), "password": password}}
    )
    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == field
    assert "Traceback" not in result.errors[0]["message"]


async def test_wrong_password_and_unknown_mobile_look_the_same(router: GraphQLClient) -> None:
    account = await register(router)
    wrong = await router.execute(
        LOGIN, {"input": {"mobile": account.mobile, "password": "nope-nope-nope"}}
    )
    unknown = await router.execute(LOGIN, {"input": {"mobile": new_mobile(), "password": PASSWORD}})
    assert wrong.codes == unknown.codes == ["UNAUTHENTICATED"]
    assert wrong.errors[0]["message"] == unknown.errors[0]["message"]


async def test_missing_input_field_is_a_bad_user_input(router: GraphQLClient) -> None:
    result = await router.execute(
        "mutation($input: LoginInput!) { login(input: $input) { accessToken } }",
        {"input": {"mobile": new_mobile()}},
    )
    assert result.codes == ["BAD_USER_INPUT"]


async def test_update_profile(router: GraphQLClient) -> None:
    account = await register(router)
    mutation = """mutation($input: UpdateProfileInput!) {
        updateProfile(input: $input) { nickname sex info avatar } }"""
    changed = await router.execute(
        mutation,
        {
            "input": {
                "nickname": " 阿青 ",
                "sex": "FEMALE",
                "info": "爱爬山",
                "avatar": "https://img.example/a.png",
            }
        },
        token=account.access_token,
    )
    assert changed.ok()["updateProfile"] == {
        "nickname": "阿青",
        "sex": "FEMALE",
        "info": "爱爬山",
        "avatar": "https://img.example/a.png",
    }
    too_long = await router.execute(
        mutation, {"input": {"nickname": "长" * 33}}, token=account.access_token
    )
    assert too_long.codes == ["BAD_USER_INPUT"]
    anonymous = await router.execute(mutation, {"input": {"nickname": "x"}})
    assert anonymous.codes == ["UNAUTHENTICATED"]
