"""Scenario (f), the floor: the home page executed in-process by the travel schema over
in-memory records — `python -m bench.floor [pages]` (run by bench/run.py as its own process).

The travel subgraph's own schema, types and resolvers run unchanged; only
`TravelCache` is replaced by one whose values are all already in memory (loaded once
from the bench's travel database before measuring). No HTTP, no JSON, no SQL, no Redis:
what is left is the cost of Strawberry and graphql-core completing the page, the
smallest CPU a page can cost with this schema. The travel process's CPU per page in
(b) is compared against it (`cpu b/f`).

Output: one JSON object on stdout with the CPU milliseconds per page.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

from starlette.requests import Request

from bench.run import HOME_QUERY_TRAVEL
from common.auth.tokens import TokenService
from common.auth.versions import UsersServiceVersions
from common.cache import VersionedCache
from common.context import Context
from common.db import Database
from common.redis import create_redis
from common.resources import Resources
from common.settings import Domain, get_settings
from subgraphs.travel import service
from subgraphs.travel.cache import CommentPage, PreferredPage, TravelCache
from subgraphs.travel.schema import schema

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

WARMUP_PAGES = 50


class InMemory(VersionedCache[K, V]):
    """A `VersionedCache` that already holds every value: no load, no Redis, no expiry."""

    def __init__(self, values: Mapping[K, V]) -> None:  # no super(): nothing to load from
        self._values = dict(values)
        self.namespace = "in-memory"

    def cached(self, key: K) -> tuple[bool, V | None]:
        return key in self._values, self._values.get(key)

    async def get_many(self, keys: Sequence[K]) -> list[V | None]:
        return [self._values.get(k) for k in keys]


class InMemoryTravel(TravelCache):
    """`TravelCache` over dictionaries, for the home page's three lookups."""

    def __init__(self, preferred: Any, businesses: Any, comment_pages: Any) -> None:
        self.preferred = InMemory(preferred)
        self.businesses = InMemory(businesses)
        self.comment_pages = InMemory(comment_pages)

    async def aclose(self) -> None:
        """Nothing to close."""


async def load_home_page(db: Database) -> InMemoryTravel:
    """The records the home page shows, read once from the bench's database."""
    page = PreferredPage(limit=21, after=None)
    ranked = await service.preferred_homestays(db, limit=page.limit, after=None)
    homestay_ids = [row.record.id for row in ranked]
    businesses = await service.businesses_by_ids(db, [r.record.business_id for r in ranked])
    comments = await service.latest_comments_per_homestay(db, homestay_ids, limit=4, before_id=None)
    return InMemoryTravel(
        {page: ranked},
        businesses,
        {CommentPage(hid, 4, None): rows for hid, rows in comments.items()},
    )


def _request() -> Request:
    return Request({"type": "http", "method": "POST", "path": "/graphql", "headers": []})


async def measure(pages: int) -> dict[str, Any]:
    settings = get_settings()
    db = Database(settings.database_url(Domain.TRAVEL))
    redis = create_redis(settings.redis_url)  # never used: Resources wants one
    versions = UsersServiceVersions(settings)  # never used either
    tokens = TokenService(redis, versions, secret=settings.jwt_secret, issuer="bench",
                          access_ttl=1, refresh_ttl=1)  # fmt: skip
    resources = Resources(settings=settings, db=db, redis=redis, tokens=tokens)
    try:
        resources.components[TravelCache] = await load_home_page(db)
    finally:
        await db.dispose()

    async def page() -> dict[str, Any]:
        context = Context(request=_request(), response=None, resources=resources)
        result = await schema.execute(HOME_QUERY_TRAVEL, context_value=context)
        if result.errors:
            raise RuntimeError(f"floor page failed: {result.errors}")
        assert result.data is not None
        return result.data

    data = await page()
    edges = data["preferredHomestays"]["edges"]
    assert len(edges) == 20 and all(e["node"]["business"]["title"] for e in edges), data
    for _ in range(WARMUP_PAGES):
        await page()
    started, wall = time.process_time(), time.perf_counter()
    for _ in range(pages):
        await page()
    cpu = time.process_time() - started
    await redis.aclose()
    per_page = cpu * 1000 / pages
    return {
        "pages": pages,
        "cpu_ms_per_request": {"travel": round(per_page, 3)},
        "wall_ms_per_page": round((time.perf_counter() - wall) * 1000 / pages, 3),
    }


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    print(json.dumps(asyncio.run(measure(pages))))


if __name__ == "__main__":
    main()
