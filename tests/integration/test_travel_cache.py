"""The travel caches on the real database and Redis: versions, invalidation, expiry, outages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

import orjson
import pytest
from sqlalchemy import event

from common.auth.tokens import TokenService
from common.auth.versions import UsersServiceVersions
from common.cache import VersionedCache
from common.db import Database
from common.devrunner import free_port
from common.redis import create_redis
from common.resources import Resources
from common.settings import Settings
from subgraphs.travel import service
from subgraphs.travel.cache import TravelCache
from subgraphs.travel.management import update_homestay
from subgraphs.travel.records import HomestayRecord
from tests.support.travel import make_catalog

CacheFactory = Callable[..., Awaitable[TravelCache]]


@pytest.fixture
async def caches(settings: Settings, travel_db: Database) -> AsyncIterator[CacheFactory]:
    """Makes TravelCaches as separate processes would have them (each its own Redis client,
    in-process layer and invalidation listener), all closed at the end."""
    opened: list[tuple[TravelCache, Resources]] = []
    opened_versions: list[UsersServiceVersions] = []

    async def make(*, local_ttl: float = 30.0, redis_url: str | None = None) -> TravelCache:
        own = settings.model_copy(update={"cache_local_ttl_seconds": local_ttl})
        redis = create_redis(redis_url or settings.redis_url)
        versions = UsersServiceVersions(own)
        opened_versions.append(versions)
        tokens = TokenService(
            redis, versions, secret=own.jwt_secret, issuer="t", access_ttl=1, refresh_ttl=1
        )
        resources = Resources(settings=own, db=travel_db, redis=redis, tokens=tokens)
        cache = TravelCache(resources)
        if redis_url is None:
            await cache.hub.wait_listening()
        opened.append((cache, resources))
        return cache

    yield make
    for cache, resources in opened:
        await cache.aclose()
        await resources.redis.aclose()
    for versions in opened_versions:
        await versions.aclose()


def _count_statements(db: Database) -> list[str]:
    seen: list[str] = []

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _record(_c: object, _cur: object, statement: str, *_: object) -> None:
        if not statement.startswith("BEGIN"):
            seen.append(statement)

    return seen


async def test_changed_rows_are_seen_at_once(caches: CacheFactory, travel_db: Database) -> None:
    catalog = await make_catalog(travel_db, [9001])
    cache = await caches()
    homestay_id = catalog.homestay_ids[0]
    before = await cache.homestays.get(homestay_id)
    assert before is not None and before.homestay_price == 29900
    assert cache.homestays.cached(homestay_id)[0]  # now held in process
    await update_homestay(travel_db, cache, homestay_id, homestay_price=35900, on_sale=False)
    after = await cache.homestays.get(homestay_id)
    assert after is not None and after.homestay_price == 35900 and after.on_sale is False


async def test_a_slow_read_never_writes_back_an_older_version(
    caches: CacheFactory, travel_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read that loaded the row before a change finishes after the invalidation: the old
    row goes to its own caller only, never into Redis or memory (here or in a replica)."""
    catalog = await make_catalog(travel_db, [9005])
    homestay_id = catalog.homestay_ids[0]
    cache, replica = await caches(), await caches()
    loaded_old_row, release = asyncio.Event(), asyncio.Event()
    original = service.homestays_by_ids

    async def slow_load(db: Database, ids: Sequence[int]) -> dict[int, HomestayRecord]:
        rows = await original(db, ids)
        if not release.is_set():
            loaded_old_row.set()
            await release.wait()
        return rows

    monkeypatch.setattr(service, "homestays_by_ids", slow_load)
    slow_read = asyncio.create_task(cache.homestays.get(homestay_id))
    await loaded_old_row.wait()
    await update_homestay(travel_db, cache, homestay_id, homestay_price=38900)
    release.set()
    stale = await slow_read
    assert stale is not None and stale.homestay_price == 29900  # read before the change

    assert not cache.homestays.cached(homestay_id)[0]
    raw = await cache.hub.redis.get(f"cache:travel:homestay:{homestay_id}")
    assert raw is None or '"homestay_price":38900' in raw
    for reader in (cache, replica):
        fresh = await reader.homestays.get(homestay_id)
        assert fresh is not None and fresh.homestay_price == 38900


async def test_invalidation_reaches_every_replica(
    caches: CacheFactory, travel_db: Database
) -> None:
    catalog = await make_catalog(travel_db, [9006])
    writer, replica = await caches(), await caches()
    homestay_id = catalog.homestay_ids[0]
    assert (await replica.homestays.get(homestay_id)).homestay_price == 29900  # type: ignore[union-attr]
    assert replica.homestays.cached(homestay_id)[0]
    heard = asyncio.Event()
    replica.hub.on_invalidation(
        lambda namespace, _: heard.set() if "homestay" in namespace else None
    )

    await update_homestay(travel_db, writer, homestay_id, homestay_price=19900)
    await heard.wait()
    assert not replica.homestays.cached(homestay_id)[0]
    after = await replica.homestays.get(homestay_id)
    assert after is not None and after.homestay_price == 19900


async def test_single_flight_in_process(caches: CacheFactory, travel_db: Database) -> None:
    catalog = await make_catalog(travel_db, [9002])
    cache = await caches(local_ttl=0)
    seen = _count_statements(travel_db)
    results = await asyncio.gather(
        *(cache.homestays.get(catalog.homestay_ids[0]) for _ in range(200))
    )
    assert {r.id for r in results if r} == {catalog.homestay_ids[0]}
    assert len(seen) == 1


async def test_entries_expire(caches: CacheFactory, travel_db: Database) -> None:
    catalog = await make_catalog(travel_db, [9003])
    homestay_id = catalog.homestay_ids[0]
    hub = (await caches()).hub

    async def load(ids: Sequence[int]) -> Mapping[int, HomestayRecord]:
        return await service.homestays_by_ids(travel_db, ids)

    cache = VersionedCache(
        hub, "expiry-test", load, encode=lambda r: orjson.dumps(r).decode(),
        decode=lambda raw: HomestayRecord(**orjson.loads(raw)), ttl_seconds=1,
    )  # fmt: skip
    await cache.get(homestay_id)
    assert await hub.redis.ttl(f"cache:expiry-test:{homestay_id}") in (0, 1)


async def test_unknown_ids_are_cached_as_missing(caches: CacheFactory, travel_db: Database) -> None:
    cache = await caches(local_ttl=0)
    seen = _count_statements(travel_db)
    assert await cache.homestays.get(987_654_321) is None
    assert await cache.homestays.get(987_654_321) is None
    assert len(seen) == 1


async def test_redis_outage_degrades_to_the_database(
    caches: CacheFactory, travel_db: Database
) -> None:
    catalog = await make_catalog(travel_db, [9004])
    cache = await caches(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    record = await cache.homestays.get(catalog.homestay_ids[0])
    assert record is not None and record.id == catalog.homestay_ids[0]
    assert not cache.homestays.cached(catalog.homestay_ids[0])[0]  # nothing kept blind
    await update_homestay(travel_db, cache, catalog.homestay_ids[0], homestay_price=1000)
    record = await cache.homestays.get(catalog.homestay_ids[0])
    assert record is not None and record.homestay_price == 1000


async def test_a_flush_empties_every_replica(caches: CacheFactory, travel_db: Database) -> None:
    catalog = await make_catalog(travel_db, [9007])
    one, other = await caches(), await caches()
    await other.homestays.get(catalog.homestay_ids[0])
    heard = asyncio.Event()
    other.hub.on_invalidation(lambda namespace, _: heard.set())
    await one.hub.flush()
    await heard.wait()
    assert not other.homestays.cached(catalog.homestay_ids[0])[0]
