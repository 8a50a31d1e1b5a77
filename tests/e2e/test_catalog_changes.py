"""Catalog changes seen through the router: deletions never break a list or an order
history, and a booking is priced from the database, never from a cache."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from common.auth.tokens import TokenService
from common.auth.versions import UsersServiceVersions
from common.clock import china_today
from common.db import Database
from common.redis import create_redis
from common.resources import Resources
from common.settings import Settings
from subgraphs.travel.cache import TravelCache
from subgraphs.travel.management import delete_business, delete_homestay, update_homestay
from subgraphs.travel.models import ActivityType, Homestay, HomestayActivity, RowState
from tests.support.graphql import GraphQLClient
from tests.support.travel import make_catalog
from tests.support.users import register

pytestmark = pytest.mark.e2e

PREFERRED = """{ preferredHomestays(first: 50) { edges { node { id business { id title }
  comments(first: 1) { edges { node { content } } } } } } }"""


@pytest.fixture
async def cache(settings: Settings, travel_db: Database) -> AsyncIterator[TravelCache]:
    """What an operator tool in another process uses: the same Redis as the subgraphs."""
    redis = create_redis(settings.redis_url)
    versions = UsersServiceVersions(settings)
    tokens = TokenService(
        redis, versions, secret=settings.jwt_secret, issuer="t", access_ttl=1, refresh_ttl=1
    )
    cache = TravelCache(Resources(settings=settings, db=travel_db, redis=redis, tokens=tokens))
    yield cache
    await cache.aclose()
    await versions.aclose()
    await redis.aclose()


async def test_a_deleted_business_leaves_the_home_page_working(
    router: GraphQLClient, travel_db: Database, cache: TravelCache
) -> None:
    landlords = [await register(router, nickname=f"删店房东{n}") for n in range(2)]
    catalog = await make_catalog(
        travel_db, [int(a.user_id) for a in landlords], homestays_per_business=1
    )
    gone, kept = catalog.homestay_ids  # one per business
    async with travel_db.write_session() as session:
        # At the very end of the curated list, so other tests' pages are untouched.
        for position, homestay_id in enumerate((gone, kept)):
            session.add(
                HomestayActivity(
                    row_type=ActivityType.PREFERRED_HOMESTAY.value,
                    data_id=homestay_id,
                    sort=2_000_000 + position,
                )
            )
    before = {e["node"]["id"] for e in (await router.execute(PREFERRED)).ok()[
        "preferredHomestays"]["edges"]}  # fmt: skip
    assert {str(gone), str(kept)} <= before  # and now cached

    await delete_business(travel_db, cache, catalog.business_ids[0])
    after = (await router.execute(PREFERRED)).ok()["preferredHomestays"]["edges"]
    ids = {e["node"]["id"] for e in after}
    assert str(kept) in ids and str(gone) not in ids
    gone_business = await router.execute(
        "query($id: ID!) { homestayBusiness(id: $id) { id } }", {"id": str(catalog.business_ids[0])}
    )
    assert gone_business.ok() == {"homestayBusiness": None}
    guest = await register(router)
    refused = await router.execute(CREATE, _stay(gone), token=guest.access_token)
    assert refused.codes == ["HOMESTAY_UNAVAILABLE"]
    await delete_business(travel_db, cache, catalog.business_ids[1])  # leave the list as it was


ORDERS = """{ me { homestayOrders { edges { node { sn title homestay { id title
  business { id } } } } } } }"""


def _stay(homestay_id: int, start_in: int = 70) -> dict[str, object]:
    start = china_today() + timedelta(days=start_in)
    return {
        "input": {
            "homestayId": str(homestay_id),
            "liveStartDate": start.isoformat(),
            "liveEndDate": (start + timedelta(days=1)).isoformat(),
            "livePeopleNum": 2,
        }
    }


CREATE = """mutation($input: CreateHomestayOrderInput!) { createHomestayOrder(input: $input) {
  sn homestayTotalPrice } }"""


async def test_order_history_survives_its_homestay_being_deleted(
    router: GraphQLClient, travel_db: Database, cache: TravelCache
) -> None:
    landlord, guest = await register(router, nickname="房东"), await register(router)
    catalog = await make_catalog(travel_db, [int(landlord.user_id)], homestays_per_business=1)
    homestay_id = catalog.homestay_ids[0]
    booked = await router.execute(CREATE, _stay(homestay_id), token=guest.access_token)
    sn = booked.ok()["createHomestayOrder"]["sn"]

    await delete_homestay(travel_db, cache, homestay_id)
    await delete_business(travel_db, cache, catalog.business_ids[0])
    orders = (await router.execute(ORDERS, token=guest.access_token)).ok()["me"]
    [node] = [e["node"] for e in orders["homestayOrders"]["edges"]]
    assert node["sn"] == sn
    assert node["homestay"]["id"] == str(homestay_id) and node["homestay"]["title"]
    assert node["homestay"]["business"]["id"] == str(catalog.business_ids[0])
    # The catalog itself no longer shows it.
    query = "query($id: ID!) { homestay(id: $id) { id } }"
    assert (await router.execute(query, {"id": str(homestay_id)})).ok() == {"homestay": None}


async def test_a_booking_is_charged_the_price_of_the_moment(
    router: GraphQLClient, travel_db: Database, cache: TravelCache
) -> None:
    landlord, guest = await register(router, nickname="调价房东"), await register(router)
    catalog = await make_catalog(travel_db, [int(landlord.user_id)], homestays_per_business=1)
    homestay_id = catalog.homestay_ids[0]
    query = "query($id: ID!) { homestay(id: $id) { homestayPrice } }"
    shown = await router.execute(query, {"id": str(homestay_id)})
    assert shown.ok()["homestay"]["homestayPrice"] == 29900  # now cached

    # A change whose invalidation never arrived (a crash between commit and invalidation):
    # caches may show the old price for a while, a booking must not charge it.
    async with travel_db.write_session() as session:
        await session.execute(
            update(Homestay).where(Homestay.id == homestay_id).values(homestay_price=45900)
        )
    booked = await router.execute(CREATE, _stay(homestay_id), token=guest.access_token)
    assert booked.ok()["createHomestayOrder"]["homestayTotalPrice"] == 45900

    # The ordinary path: the change is invalidated, pages show it at once.
    await update_homestay(travel_db, cache, homestay_id, homestay_price=15900)
    shown = await router.execute(query, {"id": str(homestay_id)})
    assert shown.ok()["homestay"]["homestayPrice"] == 15900

    # Off sale, again without invalidation: the cached page still says on sale.
    async with travel_db.write_session() as session:
        await session.execute(
            update(Homestay).where(Homestay.id == homestay_id).values(row_state=RowState.OFF_SALE)
        )
    refused = await router.execute(CREATE, _stay(homestay_id, 80), token=guest.access_token)
    assert refused.codes == ["HOMESTAY_UNAVAILABLE"]


async def test_a_landlord_renamed_is_shown_renamed_at_once(
    router: GraphQLClient, travel_db: Database
) -> None:
    """`_entities` answers from the users cache; a profile change invalidates it."""
    landlord = await register(router, nickname="旧名字")
    catalog = await make_catalog(travel_db, [int(landlord.user_id)], homestays_per_business=1)
    query = "query($id: ID!) { homestay(id: $id) { landlord { nickname } } }"
    variables = {"id": str(catalog.homestay_ids[0])}
    shown = (await router.execute(query, variables)).ok()["homestay"]["landlord"]
    assert shown == {"nickname": "旧名字"}  # now cached
    rename = 'mutation { updateProfile(input: {nickname: "新名字"}) { nickname } }'
    assert (await router.execute(rename, token=landlord.access_token)).ok()
    shown = (await router.execute(query, variables)).ok()["homestay"]["landlord"]
    assert shown == {"nickname": "新名字"}
