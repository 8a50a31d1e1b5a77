"""The mini-program's travel pages through the router, on a small catalog."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from sqlalchemy import delete

from common.cache import CacheHub
from common.db import Database
from common.redis import create_redis
from common.settings import Domain, Settings
from subgraphs.travel.models import ActivityType, HomestayActivity
from tests.support.graphql import GraphQLClient
from tests.support.metrics import statements
from tests.support.stack import Stack
from tests.support.travel import Catalog, make_catalog
from tests.support.users import Account, register

pytestmark = pytest.mark.e2e

HOME = """query Home($first: Int) { preferredHomestays(first: $first) {
  edges { cursor node { id title homestayPrice rowType business { title }
    landlord { id nickname } comments(first: 3) { edges { node { content star } } } } }
  pageInfo { hasNextPage endCursor } } }"""


@pytest.fixture(scope="module")
async def landlords(router: GraphQLClient) -> list[Account]:
    return [await register(router, nickname=f"房东{n}") for n in range(8)]


@pytest.fixture(scope="module")
async def catalog(travel_db: Database, landlords: list[Account], settings: Settings) -> Catalog:
    """This module's catalog owns the curated list: earlier modules' picks are removed."""
    async with travel_db.write_session() as session:
        await session.execute(
            delete(HomestayActivity).where(
                HomestayActivity.row_type == ActivityType.PREFERRED_HOMESTAY.value
            )
        )
    await _forget_cache(settings)
    return await make_catalog(
        travel_db, [int(a.user_id) for a in landlords], preferred=22, title_prefix="苍山"
    )


async def _forget_cache(settings: Settings) -> None:
    """Make the next reads cold (the test stack's subgraphs keep nothing in memory)."""
    redis: Redis = create_redis(settings.redis_url)
    await CacheHub(redis, local_ttl_seconds=0).flush()
    await redis.aclose()


async def test_home_page_lists_curated_homestays_with_business_and_landlord(
    router: GraphQLClient, catalog: Catalog, landlords: list[Account]
) -> None:
    page = (await router.execute(HOME, {"first": 5})).ok()["preferredHomestays"]
    nodes = [edge["node"] for edge in page["edges"]]
    assert [int(n["id"]) for n in nodes] == catalog.preferred_ids[:5]
    nicknames = {a.user_id: f"房东{n}" for n, a in enumerate(landlords)}
    for node in nodes:
        assert node["business"]["title"].startswith("苍山·")
        assert node["landlord"]["nickname"] == nicknames[node["landlord"]["id"]]
        assert len(node["comments"]["edges"]) == 3
    assert page["pageInfo"]["hasNextPage"] is True

    rest = (
        await router.execute(
            HOME.replace("$first: Int", "$first: Int, $after: String").replace(
                "(first: $first)", "(first: $first, after: $after)", 1
            ),
            {"first": 50, "after": page["pageInfo"]["endCursor"]},
        )
    ).ok()["preferredHomestays"]
    ids = [int(e["node"]["id"]) for e in rest["edges"]]
    assert ids == catalog.preferred_ids[5:]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_home_page_costs_constant_statements_whatever_the_page_size(
    router: GraphQLClient, stack: Stack, settings: Settings, catalog: Catalog
) -> None:
    travel_url, users_url = stack.subgraph_urls[Domain.TRAVEL], stack.subgraph_urls[Domain.USERS]
    costs = {}
    for size in (2, 20):
        await _forget_cache(settings)
        travel_before = await statements(travel_url, "travel")
        users_before = await statements(users_url, "users")
        page = (await router.execute(HOME, {"first": size})).ok()["preferredHomestays"]
        assert len(page["edges"]) == size
        costs[size] = (
            await statements(travel_url, "travel") - travel_before,
            await statements(users_url, "users") - users_before,
        )
    # travel: the list, one batch of businesses, one batch of comments; users: one batch.
    assert costs[2] == costs[20] == (3, 1), costs


async def test_homestay_detail_with_paginated_comments(
    router: GraphQLClient, catalog: Catalog
) -> None:
    query = """query($id: ID!, $after: String) { homestay(id: $id) { title peopleNum rowType
        foodPrice homestayPrice marketHomestayPrice onSale
        comments(first: 3, after: $after) { edges { node { content user { id } } }
        pageInfo { hasNextPage endCursor } } } }"""
    homestay_id = str(catalog.homestay_ids[1])
    first = (await router.execute(query, {"id": homestay_id})).ok()["homestay"]
    assert first["rowType"] == "PER_PERSON" and first["onSale"] is True
    assert [e["node"]["content"] for e in first["comments"]["edges"]] == [
        "第3条评论：很干净", "第2条评论：很干净", "第1条评论：很干净"
    ]  # fmt: skip
    second = (
        await router.execute(
            query, {"id": homestay_id, "after": first["comments"]["pageInfo"]["endCursor"]}
        )
    ).ok()["homestay"]["comments"]
    assert [e["node"]["content"] for e in second["edges"]] == ["第0条评论：很干净"]
    assert second["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("unknown", ["987654321", "nope", "²", "0", "-3", "9" * 30])
async def test_unknown_ids_are_null(router: GraphQLClient, unknown: str) -> None:
    result = await router.execute(
        "query($id: ID!) { homestay(id: $id) { id } homestayBusiness(id: $id) { id } }",
        {"id": unknown},
    )
    assert result.ok() == {"homestay": None, "homestayBusiness": None}


async def test_landlord_page_lists_only_homestays_on_sale(
    router: GraphQLClient, catalog: Catalog, landlords: list[Account]
) -> None:
    query = """query($id: ID!) { homestayBusiness(id: $id) { title star tags boss { nickname }
        cancellationPolicy
        homestays(first: 2) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }"""
    business = (await router.execute(query, {"id": str(catalog.business_ids[0])})).ok()[
        "homestayBusiness"
    ]
    assert business["tags"] == ["近洱海", "可做饭"]
    assert business["boss"]["nickname"] == "房东0"
    assert business["cancellationPolicy"] == "FLEXIBLE"  # a business that never chose one
    on_sale = set(catalog.homestay_ids[:3])
    assert {int(e["node"]["id"]) for e in business["homestays"]["edges"]} <= on_sale
    assert business["homestays"]["pageInfo"]["hasNextPage"] is True


async def test_good_bosses_are_the_best_rated(router: GraphQLClient, catalog: Catalog) -> None:
    bosses = (await router.execute("{ goodBosses(first: 3) { id star } }")).ok()["goodBosses"]
    stars = [b["star"] for b in bosses]
    assert stars == sorted(stars, reverse=True)


async def test_search_matches_title_subtitle_and_info_on_sale_only(
    router: GraphQLClient, catalog: Catalog
) -> None:
    query = """query($k: String!, $after: String) { searchHomestays(keyword: $k, first: 50,
        after: $after) { edges { node { id onSale } } pageInfo { hasNextPage } } }"""
    by_title = (await router.execute(query, {"k": "苍山 海景"})).ok()["searchHomestays"]
    found = {int(e["node"]["id"]) for e in by_title["edges"]}
    assert found == set(catalog.homestay_ids)
    assert not found & set(catalog.off_sale_ids)
    by_info = (await router.execute(query, {"k": "苍山 可看日出"})).ok()["searchHomestays"]
    assert {int(e["node"]["id"]) for e in by_info["edges"]} == set(catalog.homestay_ids)
    wildcard = (await router.execute(query, {"k": "%"})).ok()["searchHomestays"]
    assert wildcard["edges"] == []
    blank = await router.execute(query, {"k": "   "})
    assert blank.codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [("first: 0", "first"), ('after: "not-a-cursor"', "after"), ('after: "djE"', "after")],
)
async def test_bad_paging_is_refused(router: GraphQLClient, arguments: str, field: str) -> None:
    result = await router.execute(f"{{ preferredHomestays({arguments}) {{ edges {{ cursor }} }} }}")
    assert result.codes == ["BAD_USER_INPUT"]
    assert result.errors[0]["extensions"]["field"] == field


async def test_page_size_is_capped(router: GraphQLClient, catalog: Catalog) -> None:
    result = await router.execute(
        '{ searchHomestays(keyword: "海景", first: 500) { edges { cursor } } }'
    )
    assert len(result.ok()["searchHomestays"]["edges"]) <= 50


async def test_concurrent_cold_reads_of_one_homestay_cost_one_query(
    travel_subgraph: GraphQLClient, stack: Stack, settings: Settings, catalog: Catalog
) -> None:
    await _forget_cache(settings)
    url = stack.subgraph_urls[Domain.TRAVEL]
    before = await statements(url, "travel")
    query = f'{{ homestay(id: "{catalog.homestay_ids[0]}") {{ title }} }}'
    results = await travel_subgraph.execute_concurrently(query, times=200)
    assert all(r.ok()["homestay"]["title"] for r in results)
    assert await statements(url, "travel") - before == 1


async def test_guess_and_business_lists(router: GraphQLClient, catalog: Catalog) -> None:
    guessed = (await router.execute("{ guessHomestays(first: 4) { id onSale } }")).ok()
    assert len(guessed["guessHomestays"]) == 4
    assert all(h["onSale"] for h in guessed["guessHomestays"])
    query = """query($after: String) { homestayBusinesses(first: 3, after: $after) {
        edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    first = (await router.execute(query)).ok()["homestayBusinesses"]
    second = (await router.execute(query, {"after": first["pageInfo"]["endCursor"]})).ok()[
        "homestayBusinesses"
    ]
    first_ids = [int(e["node"]["id"]) for e in first["edges"]]
    second_ids = [int(e["node"]["id"]) for e in second["edges"]]
    assert first_ids == sorted(first_ids, reverse=True)
    assert max(second_ids) < min(first_ids)


_NESTED = "id business { id title } comments(first: 2) { edges { node { content } } }"
LISTS = {
    # query with $first, statements in travel when cold: the list, then one per nested batch
    "goodBosses": (
        "query($first: Int) { goodBosses(first: $first) { id homestays(first: 2) { edges {"
        f" node {{ {_NESTED} }} }} }} }} }}",
        4,
    ),
    "homestayBusinesses": (
        "query($first: Int) { homestayBusinesses(first: $first) { edges { node { id"
        f" homestays(first: 2) {{ edges {{ node {{ {_NESTED} }} }} }} }} }} }} }}",
        4,
    ),
    "searchHomestays": (
        'query($first: Int) { searchHomestays(keyword: "苍山", first: $first) { edges {'
        f" node {{ {_NESTED} }} }} }} }}",
        3,
    ),
    "guessHomestays": (
        f"query($first: Int) {{ guessHomestays(first: $first) {{ {_NESTED} }} }}",
        3,
    ),
}


@pytest.mark.parametrize("name", list(LISTS))
async def test_every_list_costs_constant_statements_whatever_the_page_size(
    name: str, router: GraphQLClient, stack: Stack, settings: Settings, catalog: Catalog
) -> None:
    """Business pages included: each business's homestays come from one windowed query."""
    query, expected = LISTS[name]
    travel_url = stack.subgraph_urls[Domain.TRAVEL]
    costs = {}
    for size in (2, 8):
        await _forget_cache(settings)
        before = await statements(travel_url, "travel")
        result = (await router.execute(query, {"first": size})).ok()[name]
        items = result["edges"] if isinstance(result, dict) else result
        assert len(items) == size
        costs[size] = await statements(travel_url, "travel") - before
    assert costs[2] == costs[8] == expected, costs
