"""Landlords run their catalogue through the router (API.md, "Hosts: catalogue").

A change is seen by every reader as soon as the mutation returns: each list and the
detail are read (and so cached) before a change, and read again right after it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from common.db import Database
from subgraphs.travel.models import HomestayBusiness
from tests.support import hosts
from tests.support.graphql import GraphQLClient
from tests.support.hosts import (
    CREATE_HOMESTAY,
    HOMESTAY,
    MY_BUSINESS,
    MY_HOMESTAYS,
    OPEN_BUSINESS,
    SET_ON_SALE,
    UPDATE_BUSINESS,
    UPDATE_HOMESTAY,
    book,
    homestay_input,
)
from tests.support.users import Account, register

pytestmark = pytest.mark.e2e

LISTS = """query Lists($keyword: String!, $business: ID!) {
  searchHomestays(keyword: $keyword, first: 10) { edges { node { id homestayPrice } } }
  guessHomestays(first: 10) { id homestayPrice }
  homestayBusiness(id: $business) { homestays(first: 10) { edges { node { id homestayPrice } } } }
}"""
PAST_ORDERS = """{ me { homestayOrders { edges { node { sn homestayTotalPrice
  homestay { id title onSale } } } } } }"""


async def _listed(router: GraphQLClient, keyword: str, business_id: str) -> dict[str, Any]:
    """Where the catalogue shows each homestay: {list name: {id: price}}."""
    data = (await router.execute(LISTS, {"keyword": keyword, "business": business_id})).ok()
    return {
        "search": {e["node"]["id"]: e["node"]["homestayPrice"]
                   for e in data["searchHomestays"]["edges"]},
        "guess": {h["id"]: h["homestayPrice"] for h in data["guessHomestays"]},
        "business": {e["node"]["id"]: e["node"]["homestayPrice"]
                     for e in data["homestayBusiness"]["homestays"]["edges"]},
    }  # fmt: skip


def _shown_in(listed: Mapping[str, Mapping[str, int]], homestay_id: str) -> dict[str, int | None]:
    return {name: found.get(homestay_id) for name, found in listed.items()}


async def _detail(router: GraphQLClient, homestay_id: str) -> dict[str, Any]:
    detail: dict[str, Any] = (await router.execute(HOMESTAY, {"id": homestay_id})).ok()["homestay"]
    return detail


async def _my_homestays(router: GraphQLClient, token: str) -> dict[str, bool]:
    data = (await router.execute(MY_HOMESTAYS, token=token)).ok()["myHomestays"]
    return {e["node"]["id"]: e["node"]["onSale"] for e in data["edges"]}


async def test_a_landlord_runs_their_catalogue(router: GraphQLClient) -> None:
    landlord = await register(router, nickname="开店房东")
    guest = await register(router, nickname="住客")
    token = landlord.access_token
    assert (await router.execute(MY_BUSINESS, token=token)).ok() == {"myHomestayBusiness": None}

    business = await hosts.open_business(
        router,
        token,
        title="  洱海边的家  ",
        info="安静的院子",
        tags=["近洱海", "可做饭", "近洱海"],
        cancellationPolicy="MODERATE",
    )
    assert business["title"] == "洱海边的家"  # trimmed
    assert business["tags"] == ["近洱海", "可做饭"]
    assert business["cancellationPolicy"] == "MODERATE"
    assert business["boss"] == {"id": landlord.user_id}
    mine = (await router.execute(MY_BUSINESS, token=token)).ok()["myHomestayBusiness"]
    assert mine == business

    keyword = f"K{secrets.token_hex(4)}"
    homestay = await hosts.create_homestay(router, token, title=f"{keyword} 苍山小院")
    homestay_id = homestay["id"]
    assert homestay["onSale"] is False
    assert homestay["business"] == {"id": business["id"]}
    assert homestay["landlord"] == {"id": landlord.user_id}
    assert await _my_homestays(router, token) == {homestay_id: False}

    # Off sale: in no list, not bookable, but its landlord sees it (and so does its page).
    hidden = {"search": None, "guess": None, "business": None}
    assert _shown_in(await _listed(router, keyword, business["id"]), homestay_id) == hidden
    refused = await book(router, guest.access_token, homestay_id, start_in=40)
    assert refused.codes == ["HOMESTAY_UNAVAILABLE"]
    assert (await _detail(router, homestay_id))["onSale"] is False

    on_sale = await hosts.set_on_sale(router, token, homestay_id)
    assert on_sale == {**homestay, "onSale": True}
    listed = {"search": 30000, "guess": 30000, "business": 30000}
    assert _shown_in(await _listed(router, keyword, business["id"]), homestay_id) == listed
    assert (await _detail(router, homestay_id))["onSale"] is True
    first = await book(router, guest.access_token, homestay_id, start_in=40)
    assert first.ok()["createHomestayOrder"]["homestayTotalPrice"] == 30000

    # A new price: every reader and the very next booking see it.
    changed = await router.execute(
        UPDATE_HOMESTAY, {"id": homestay_id, "input": {"homestayPrice": 25000}}, token=token
    )
    updated = changed.ok()["updateHomestay"]
    assert updated == {**on_sale, "homestayPrice": 25000}
    assert await _detail(router, homestay_id) == updated
    listed = {"search": 25000, "guess": 25000, "business": 25000}
    assert _shown_in(await _listed(router, keyword, business["id"]), homestay_id) == listed
    second = await book(router, guest.access_token, homestay_id, start_in=41)
    assert second.ok()["createHomestayOrder"]["homestayTotalPrice"] == 25000

    # Only the fields given change; null clears an optional text.
    renamed = await router.execute(
        UPDATE_HOMESTAY,
        {"id": homestay_id, "input": {"title": f"{keyword} 新名字", "subTitle": None}},
        token=token,
    )
    expected = {**updated, "title": f"{keyword} 新名字", "subTitle": None}
    assert renamed.ok()["updateHomestay"] == expected
    assert await _detail(router, homestay_id) == expected
    nothing = await router.execute(UPDATE_HOMESTAY, {"id": homestay_id, "input": {}}, token=token)
    assert nothing.ok()["updateHomestay"] == expected

    # Off sale again: it leaves the lists and cannot be booked; past orders still show it.
    await hosts.set_on_sale(router, token, homestay_id, on_sale=False)
    assert _shown_in(await _listed(router, keyword, business["id"]), homestay_id) == hidden
    refused = await book(router, guest.access_token, homestay_id, start_in=42)
    assert refused.codes == ["HOMESTAY_UNAVAILABLE"]
    orders = (await router.execute(PAST_ORDERS, token=guest.access_token)).ok()["me"]
    shown = [e["node"] for e in orders["homestayOrders"]["edges"]]
    assert {o["homestayTotalPrice"] for o in shown} == {30000, 25000}
    assert {o["homestay"]["id"] for o in shown} == {homestay_id}
    assert all(o["homestay"]["onSale"] is False for o in shown)
    assert await _my_homestays(router, token) == {homestay_id: False}


async def test_a_business_changes_only_the_fields_given(router: GraphQLClient) -> None:
    landlord = await register(router, nickname="改店房东")
    token = landlord.access_token
    business = await hosts.open_business(router, token, info="旧介绍", tags=["安静"])
    assert business["cancellationPolicy"] == "FLEXIBLE"  # the default

    async def update(changes: dict[str, Any]) -> dict[str, Any]:
        result = await router.execute(UPDATE_BUSINESS, {"input": changes}, token=token)
        updated: dict[str, Any] = result.ok()["updateHomestayBusiness"]
        return updated

    assert await update({"title": "新店名"}) == {**business, "title": "新店名"}
    business = {**business, "title": "新店名", "cancellationPolicy": "STRICT"}
    assert await update({"cancellationPolicy": "STRICT"}) == business
    assert await update({"info": None, "tags": None}) == {**business, "info": None, "tags": []}
    shown = await router.execute(
        "query($id: ID!) { homestayBusiness(id: $id) { title cancellationPolicy tags } }",
        {"id": business["id"]},
    )
    assert shown.ok()["homestayBusiness"] == {
        "title": "新店名",
        "cancellationPolicy": "STRICT",
        "tags": [],
    }


# ------------------------------------------------------------------- who may


@dataclass
class Cast:
    owner: Account
    other_landlord: Account
    guest: Account
    business_id: str
    homestay: dict[str, Any]


@pytest.fixture(scope="module")
async def cast(router: GraphQLClient) -> Cast:
    owner = await register(router, nickname="房东甲")
    other = await register(router, nickname="房东乙")
    guest = await register(router, nickname="只是住客")
    business = await hosts.open_business(router, owner.access_token, title="甲的店")
    await hosts.open_business(router, other.access_token, title="乙的店")
    homestay = await hosts.create_homestay(router, owner.access_token)
    homestay = await hosts.set_on_sale(router, owner.access_token, homestay["id"])
    return Cast(owner, other, guest, business["id"], homestay)


def _homestay_mutations(homestay_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (UPDATE_HOMESTAY, {"id": homestay_id, "input": {"homestayPrice": 1}}),
        (UPDATE_HOMESTAY, {"id": homestay_id, "input": {"title": "被改了"}}),
        (SET_ON_SALE, {"id": homestay_id, "onSale": False}),
    ]


async def test_another_landlord_or_a_guest_cannot_touch_a_homestay(
    router: GraphQLClient, cast: Cast
) -> None:
    for intruder in (cast.other_landlord, cast.guest):
        for document, variables in _homestay_mutations(cast.homestay["id"]):
            refused = await router.execute(document, variables, token=intruder.access_token)
            assert refused.codes == ["FORBIDDEN"], (document, refused.errors)
            assert refused.data is None
    assert await _detail(router, cast.homestay["id"]) == cast.homestay


async def test_a_guest_without_a_business_has_nothing_to_change(
    router: GraphQLClient, cast: Cast
) -> None:
    token = cast.guest.access_token
    for document, variables in [
        (UPDATE_BUSINESS, {"input": {"title": "抢来的店"}}),
        (CREATE_HOMESTAY, {"input": homestay_input()}),
    ]:
        refused = await router.execute(document, variables, token=token)
        assert refused.codes == ["FORBIDDEN"], refused.errors
    assert (await router.execute(MY_BUSINESS, token=token)).ok() == {"myHomestayBusiness": None}
    assert await _my_homestays(router, token) == {}
    # Another landlord's update changes their own business, never the owner's.
    changed = await router.execute(
        UPDATE_BUSINESS, {"input": {"title": "乙的新店"}}, token=cast.other_landlord.access_token
    )
    assert changed.ok()["updateHomestayBusiness"]["boss"] == {"id": cast.other_landlord.user_id}
    owners = await router.execute(MY_BUSINESS, token=cast.owner.access_token)
    assert owners.ok()["myHomestayBusiness"]["title"] == "甲的店"


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"])
async def test_anonymous_callers_are_asked_to_log_in(
    router: GraphQLClient, cast: Cast, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else None
    for document, variables in [
        *_homestay_mutations(cast.homestay["id"]),
        (OPEN_BUSINESS, {"input": {"title": "匿名的店"}}),
        (UPDATE_BUSINESS, {"input": {"title": "匿名改名"}}),
        (CREATE_HOMESTAY, {"input": homestay_input()}),
        (MY_HOMESTAYS, {}),
    ]:
        refused = await router.execute(document, variables, headers=headers)
        assert refused.codes == ["UNAUTHENTICATED"], (document, refused.errors)
    if authorization is None:  # like `me`: nothing to show, not an error
        assert (await router.execute(MY_BUSINESS)).ok() == {"myHomestayBusiness": None}
    assert await _detail(router, cast.homestay["id"]) == cast.homestay


@pytest.mark.parametrize("unknown", ["999999999999", "abc", "-1"])
async def test_an_unknown_homestay_is_not_found(
    router: GraphQLClient, cast: Cast, unknown: str
) -> None:
    for document, variables in _homestay_mutations(unknown):
        refused = await router.execute(document, variables, token=cast.owner.access_token)
        assert refused.codes == ["NOT_FOUND"], refused.errors


# ------------------------------------------------------------------- one business each


async def _businesses_of(travel_db: Database, user_id: str) -> int:
    async with travel_db.session() as session:
        count = await session.scalar(
            select(func.count()).where(HomestayBusiness.user_id == int(user_id))
        )
    return int(count or 0)


async def test_a_second_business_is_a_conflict(router: GraphQLClient, travel_db: Database) -> None:
    landlord = await register(router, nickname="只开一家")
    await hosts.open_business(router, landlord.access_token, title="第一家")
    again = await router.execute(
        OPEN_BUSINESS, {"input": {"title": "第二家"}}, token=landlord.access_token
    )
    assert again.codes == ["CONFLICT"] and again.data is None
    mine = await router.execute(MY_BUSINESS, token=landlord.access_token)
    assert mine.ok()["myHomestayBusiness"]["title"] == "第一家"
    assert await _businesses_of(travel_db, landlord.user_id) == 1


async def test_concurrent_openings_exactly_one_wins(
    router: GraphQLClient, travel_db: Database
) -> None:
    landlord = await register(router, nickname="同时开店")
    results = await router.execute_concurrently(
        OPEN_BUSINESS,
        {"input": {"title": "抢先开店"}},
        times=6,
        headers={"Authorization": f"Bearer {landlord.access_token}"},
    )
    assert sorted(r.codes[0] if r.errors else "OK" for r in results) == ["CONFLICT"] * 5 + ["OK"]
    assert await _businesses_of(travel_db, landlord.user_id) == 1


# ------------------------------------------------------------------- validation


@pytest.fixture(scope="module")
async def landlord(router: GraphQLClient) -> Account:
    """A landlord with a business."""
    account = await register(router, nickname="校验房东")
    await hosts.open_business(router, account.access_token, title="校验的店")
    return account


@pytest.fixture(scope="module")
async def homestay_id(router: GraphQLClient, landlord: Account) -> str:
    """The landlord's homestay at 30000 fen a night, market price 40000."""
    homestay = await hosts.create_homestay(router, landlord.access_token)
    return str(homestay["id"])


TOO_LONG = "长" * 65
CREATE_CASES: list[tuple[dict[str, Any], str]] = [
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": TOO_LONG}, "title"),
    ({"title": "a\u0000b"}, "title"),
    ({"title": "两行\n标题"}, "title"),
    ({"title": "\u202e房东的店"}, "title"),
    ({"subTitle": "长" * 129}, "subTitle"),
    ({"info": "长" * 2001}, "info"),
    ({"info": "响铃\u0007"}, "info"),
    ({"foodInfo": "长" * 256}, "foodInfo"),
    ({"peopleNum": 0}, "peopleNum"),
    ({"peopleNum": 51}, "peopleNum"),
    ({"homestayPrice": 0}, "homestayPrice"),
    ({"homestayPrice": -100}, "homestayPrice"),
    ({"homestayPrice": 10_000_001, "marketHomestayPrice": 10_000_001}, "homestayPrice"),
    ({"marketHomestayPrice": 0}, "marketHomestayPrice"),
    ({"marketHomestayPrice": 29999}, "marketHomestayPrice"),
    ({"foodPrice": -1}, "foodPrice"),
    ({"foodPrice": 10_000_001}, "foodPrice"),
    ({"rowType": "PER_HOUR"}, "rowType"),
    ({"homestayPrice": 2**31}, "homestayPrice"),  # past GraphQL's Int
]


@pytest.mark.parametrize(("overrides", "field"), CREATE_CASES)
async def test_a_bad_new_homestay_is_refused_by_field(
    router: GraphQLClient, landlord: Account, overrides: dict[str, Any], field: str
) -> None:
    before = await _my_homestays(router, landlord.access_token)
    refused = await router.execute(
        CREATE_HOMESTAY, {"input": homestay_input(**overrides)}, token=landlord.access_token
    )
    assert refused.codes == ["BAD_USER_INPUT"], refused.errors
    assert refused.errors[0]["extensions"]["field"] == field
    assert await _my_homestays(router, landlord.access_token) == before  # nothing written


async def test_the_bounds_themselves_are_accepted(router: GraphQLClient, landlord: Account) -> None:
    created = await hosts.create_homestay(
        router,
        landlord.access_token,
        title="长" * 64,
        subTitle=None,
        info="多行\n\t说明",
        peopleNum=50,
        rowType="PER_PERSON",
        foodPrice=0,
        homestayPrice=10_000_000,
        marketHomestayPrice=10_000_000,
    )
    assert created["peopleNum"] == 50 and created["rowType"] == "PER_PERSON"
    assert created["subTitle"] is None and created["info"] == "多行\n\t说明"


UPDATE_CASES: list[tuple[dict[str, Any], str]] = [
    ({"title": None}, "title"),
    ({"title": ""}, "title"),
    ({"peopleNum": None}, "peopleNum"),
    ({"rowType": None}, "rowType"),
    ({"foodPrice": None}, "foodPrice"),
    ({"homestayPrice": None}, "homestayPrice"),
    ({"marketHomestayPrice": None}, "marketHomestayPrice"),
    ({"subTitle": "长" * 129}, "subTitle"),
    # One price alone is compared with the other one as stored (30000 / 40000).
    ({"homestayPrice": 40001}, "homestayPrice"),
    ({"marketHomestayPrice": 29999}, "marketHomestayPrice"),
    ({"homestayPrice": 50000, "marketHomestayPrice": 45000}, "marketHomestayPrice"),
    # A valid field next to a bad one is not written either.
    ({"title": "好名字", "peopleNum": 0}, "peopleNum"),
    ({"homestayPrice": 20000, "foodPrice": -5}, "foodPrice"),
]


@pytest.mark.parametrize(("changes", "field"), UPDATE_CASES)
async def test_a_bad_change_is_refused_by_field_and_changes_nothing(
    router: GraphQLClient, landlord: Account, homestay_id: str, changes: dict[str, Any], field: str
) -> None:
    before = await _detail(router, homestay_id)
    assert (before["homestayPrice"], before["marketHomestayPrice"]) == (30000, 40000)
    refused = await router.execute(
        UPDATE_HOMESTAY, {"id": homestay_id, "input": changes}, token=landlord.access_token
    )
    assert refused.codes == ["BAD_USER_INPUT"], refused.errors
    assert refused.errors[0]["extensions"]["field"] == field
    assert await _detail(router, homestay_id) == before


BUSINESS_CASES: list[tuple[dict[str, Any], str]] = [
    ({"title": ""}, "title"),
    ({"title": TOO_LONG}, "title"),
    ({"title": "店\r名"}, "title"),
    ({"info": "长" * 256}, "info"),
    ({"tags": ["海景,可做饭"]}, "tags"),
    ({"tags": [""]}, "tags"),
    ({"tags": ["长" * 17]}, "tags"),
    ({"tags": [f"标签{n}" for n in range(11)]}, "tags"),
    ({"cancellationPolicy": "NEVER"}, "cancellationPolicy"),
]


@pytest.mark.parametrize(("fields", "field"), BUSINESS_CASES)
async def test_a_bad_business_is_refused_by_field(
    router: GraphQLClient, cast: Cast, fields: dict[str, Any], field: str
) -> None:
    guest = cast.guest.access_token
    opened = await router.execute(OPEN_BUSINESS, {"input": {"title": "店", **fields}}, token=guest)
    assert opened.codes == ["BAD_USER_INPUT"], opened.errors
    assert opened.errors[0]["extensions"]["field"] == field
    assert (await router.execute(MY_BUSINESS, token=guest)).ok() == {"myHomestayBusiness": None}

    owner = cast.owner.access_token
    before = (await router.execute(MY_BUSINESS, token=owner)).ok()
    changed = await router.execute(UPDATE_BUSINESS, {"input": fields}, token=owner)
    assert changed.codes == ["BAD_USER_INPUT"], changed.errors
    assert changed.errors[0]["extensions"]["field"] == field
    assert (await router.execute(MY_BUSINESS, token=owner)).ok() == before


@pytest.mark.parametrize("field", ["title", "cancellationPolicy"])
async def test_a_required_business_field_cannot_be_nulled(
    router: GraphQLClient, cast: Cast, field: str
) -> None:
    owner = cast.owner.access_token
    before = (await router.execute(MY_BUSINESS, token=owner)).ok()
    changed = await router.execute(UPDATE_BUSINESS, {"input": {field: None}}, token=owner)
    assert changed.codes == ["BAD_USER_INPUT"], changed.errors
    assert changed.errors[0]["extensions"]["field"] == field
    assert (await router.execute(MY_BUSINESS, token=owner)).ok() == before
