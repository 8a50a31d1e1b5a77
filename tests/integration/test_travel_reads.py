"""Travel's read path on the real database and Redis: transaction-free reads, prefetched lists."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, text
from starlette.requests import Request

from common import loaders
from common.auth.tokens import TokenService
from common.context import Context
from common.db import Database, is_sqlite
from common.redis import create_redis
from common.resources import Resources
from common.settings import Settings
from subgraphs.travel import schema as travel_schema
from subgraphs.travel.cache import TravelCache
from tests.support.travel import make_catalog


@pytest.fixture
async def resources(settings: Settings, travel_db: Database) -> AsyncIterator[Resources]:
    redis = create_redis(settings.redis_url)
    tokens = TokenService(
        redis, secret=settings.jwt_secret, issuer="t", access_ttl=1, refresh_ttl=1
    )
    resources = Resources(settings=settings, db=travel_db, redis=redis, tokens=tokens)
    resources.components[TravelCache] = TravelCache(resources)
    yield resources
    await redis.aclose()


@pytest.fixture
def statements(travel_db: Database) -> Iterator[list[str]]:
    """Every statement sent to the travel database during the test, BEGIN included."""
    seen: list[str] = []

    def record(_c: object, _cur: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(travel_db.engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(travel_db.engine.sync_engine, "before_cursor_execute", record)


async def test_reads_run_without_a_transaction(travel_db: Database, statements: list[str]) -> None:
    async with travel_db.read() as connection:
        assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    assert statements == ["SELECT 1"]

    statements.clear()
    async with travel_db.write_session() as session:
        await session.execute(text("SELECT 1"))
    expected = ["BEGIN IMMEDIATE", "SELECT 1"] if is_sqlite(travel_db.url) else ["SELECT 1"]
    assert statements == expected


async def _execute(resources: Resources, query: str, variables: dict[str, Any]) -> Any:
    context = Context(
        request=Request({"type": "http", "headers": []}), response=None, resources=resources
    )
    result = await travel_schema.schema.execute(
        query, variable_values=variables, context_value=context
    )
    assert result.errors is None, result.errors
    return result.data


@pytest.fixture
def field_results(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each `business`/`comments` resolved: whether it had to wait for its load."""
    waited: list[bool] = []
    original = loaders.when_loaded

    def recording(loading: Any, convert: Callable[[Any], Any]) -> Any:
        result = original(loading, convert)
        waited.append(inspect.isawaitable(result))
        return result

    monkeypatch.setattr(travel_schema, "when_loaded", recording)
    return waited


LANDLORD_PAGE = """query($id: ID!, $skip: Boolean!) { homestayBusiness(id: $id) {
  homestays(first: 3) { edges { node { id business @skip(if: $skip) { title }
    comments(first: 2) { edges { node { content } } } } } } } }"""


async def test_a_list_prefetches_what_its_items_select(
    resources: Resources, travel_db: Database, field_results: list[bool], statements: list[str]
) -> None:
    catalog = await make_catalog(travel_db, [9101], homestays_per_business=4, title_prefix="读")
    statements.clear()
    variables = {"id": str(catalog.business_ids[0]), "skip": False}
    data = await _execute(resources, LANDLORD_PAGE, variables)

    nodes = [edge["node"] for edge in data["homestayBusiness"]["homestays"]["edges"]]
    assert [int(n["id"]) for n in nodes] == sorted(catalog.homestay_ids, reverse=True)[:3]
    for node in nodes:
        assert node["business"]["title"] == "读·洱海边的家0"
        assert [e["node"]["content"] for e in node["comments"]["edges"]] == [
            "第3条评论：很干净",
            "第2条评论：很干净",
        ]
    # Loaded before the list completed: none of the six fields waited.
    assert field_results == [False] * 6
    assert sum("FROM homestay_comment" in s for s in statements) == 1


async def test_a_skipped_field_is_not_prefetched(
    resources: Resources, travel_db: Database, field_results: list[bool], statements: list[str]
) -> None:
    catalog = await make_catalog(travel_db, [9102], title_prefix="略")
    business_id = catalog.business_ids[0]
    await resources.component(TravelCache).businesses.invalidate(business_id)
    statements.clear()
    data = await _execute(resources, LANDLORD_PAGE, {"id": str(business_id), "skip": True})

    nodes = [edge["node"] for edge in data["homestayBusiness"]["homestays"]["edges"]]
    assert len(nodes) == 3 and all("business" not in node for node in nodes)
    assert field_results == [False] * 3  # the comments, prefetched
    # The business itself (by id, for the top-level field), and no second load for the items.
    business_loads = [s for s in statements if "FROM homestay_business" in s]
    assert len(business_loads) == 1
