"""The travel subgraph's Redis caches of homestays and businesses by id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from common.cache import EntityCache
from common.resources import Resources
from subgraphs.travel import service
from subgraphs.travel.records import BusinessRecord, HomestayRecord

TTL_SECONDS = 300


class TravelCache:
    def __init__(self, resources: Resources) -> None:
        db = resources.db

        async def load_homestays(ids: Sequence[int]) -> Mapping[int, HomestayRecord]:
            return await service.homestays_by_ids(db, ids)

        async def load_businesses(ids: Sequence[int]) -> Mapping[int, BusinessRecord]:
            return await service.businesses_by_ids(db, ids)

        self.homestays = EntityCache(
            resources.redis, "homestay", HomestayRecord, load_homestays, ttl_seconds=TTL_SECONDS
        )
        self.businesses = EntityCache(
            resources.redis, "business", BusinessRecord, load_businesses, ttl_seconds=TTL_SECONDS
        )

    async def aclose(self) -> None:
        """Nothing to release: the caches use the process's Redis client."""
