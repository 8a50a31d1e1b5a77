"""The travel cache on the real database and Redis: invalidation, expiry, outages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence

import pytest
from sqlalchemy import event

from common.auth.tokens import TokenService
from common.auth.versions import UsersServiceVersions
from common.cache import EntityCache
from common.db import Database
from common.redis import create_redis
from common.resources import Resources
from common.settings import Settings
from subgraphs.travel import service
from subgraphs.travel.cache import TravelCache
from subgraphs.travel.management import update_homestay
from subgraphs.travel.records import HomestayRecord
from tests.support.backends import free_port
from tests.support.travel import make_catalog


@pytest.fixture
async def resources(settings: Settings, travel_db: Database) -> AsyncIterator[Resources]:
    redis = create_redis(settings.redis_url)
    versions = UsersServiceVersions(settings)
    tokens = TokenService(
        redis, versions, secret=settings.jwt_secret, issuer="t", access_ttl=1, refresh_ttl=1
    )
    yield Resources(settings=settings, db=travel_db, redis=redis, tokens=tokens)
    await versions.aclose()
    await redis.aclose()


def _count_statements(db: Database) -> list[str]:
    seen: list[str] = []

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _record(_c: object, _cur: object, statement: str, *_: object) -> None:
        if not statement.startswith("BEGIN"):
            seen.append(statement)

    return seen


async def test_changed_rows_are_seen_at_once(resources: Resources, travel_db: Database) -> None:
    catalog = await make_catalog(travel_db, [9001])
    cache = TravelCache(resources)
    homestay_id = catalog.homestay_ids[0]
    before = await cache.homestays.get(homestay_id)
    assert before is not None and before.homestay_price == 29900
    await update_homestay(travel_db, cache, homestay_id, homestay_price=35900, on_sale=False)
    after = await cache.homestays.get(homestay_id)
    assert after is not None and after.homestay_price == 35900 and after.on_sale is False


async def test_single_flight_in_process(resources: Resources, travel_db: Database) -> None:
    catalog = await make_catalog(travel_db, [9002])
    cache = TravelCache(resources)
    seen = _count_statements(travel_db)
    results = await asyncio.gather(
        *(cache.homestays.get(catalog.homestay_ids[0]) for _ in range(200))
    )
    assert {r.id for r in results if r} == {catalog.homestay_ids[0]}
    assert len(seen) == 1


async def test_entries_expire(resources: Resources, travel_db: Database) -> None:
    catalog = await make_catalog(travel_db, [9003])
    homestay_id = catalog.homestay_ids[0]

    async def load(ids: Sequence[int]) -> Mapping[int, HomestayRecord]:
        return await service.homestays_by_ids(travel_db, ids)

    cache = EntityCache(
        resources.redis, "expiry-test", HomestayRecord, load, ttl_seconds=1, settle_seconds=0
    )
    await cache.get(homestay_id)
    assert await resources.redis.ttl(f"cache:expiry-test:{homestay_id}") in (0, 1)


async def test_unknown_ids_are_cached_as_missing(resources: Resources, travel_db: Database) -> None:
    cache = TravelCache(resources)
    seen = _count_statements(travel_db)
    assert await cache.homestays.get(987_654_321) is None
    await asyncio.sleep(0.6)
    assert await cache.homestays.get(987_654_321) is None
    assert len(seen) == 1


async def test_redis_outage_degrades_to_the_database(
    resources: Resources, travel_db: Database
) -> None:
    catalog = await make_catalog(travel_db, [9004])
    dead = create_redis(f"redis://127.0.0.1:{free_port()}/0")
    broken = Resources(
        settings=resources.settings, db=travel_db, redis=dead, tokens=resources.tokens
    )
    cache = TravelCache(broken)
    record = await cache.homestays.get(catalog.homestay_ids[0])
    assert record is not None and record.id == catalog.homestay_ids[0]
    await update_homestay(travel_db, cache, catalog.homestay_ids[0], homestay_price=1000)
    await dead.aclose()
