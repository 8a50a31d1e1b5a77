"""Batch functions behind the travel subgraph's DataLoaders: each reads through `TravelCache`."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

from common.cache import VersionedCache
from common.context import Info
from common.loaders import BatchFn
from common.resources import Resources
from subgraphs.travel.cache import BusinessHomestayPage, CommentPage, TravelCache
from subgraphs.travel.records import BusinessRecord, CommentRecord, HomestayRecord

__all__ = ["BusinessHomestayPage", "CommentPage"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


async def homestays_by_id(
    resources: Resources, ids: Sequence[int]
) -> Sequence[HomestayRecord | None]:
    return await resources.component(TravelCache).homestays.get_many(ids)


async def businesses_by_id(
    resources: Resources, ids: Sequence[int]
) -> Sequence[BusinessRecord | None]:
    return await resources.component(TravelCache).businesses.get_many(ids)


async def comment_pages(
    resources: Resources, pages: Sequence[CommentPage]
) -> Sequence[list[CommentRecord] | None]:
    """One statement per distinct (limit, cursor) on a miss — one for a whole list page."""
    return await resources.component(TravelCache).comment_pages.get_many(pages)


async def business_homestay_pages(
    resources: Resources, pages: Sequence[BusinessHomestayPage]
) -> Sequence[list[HomestayRecord] | None]:
    """Like `comment_pages`: every business on a page in one windowed statement."""
    return await resources.component(TravelCache).business_homestays.get_many(pages)


async def load_through(
    info: Info, cache: VersionedCache[K, V], batch: BatchFn[K, V | None], key: K
) -> V | None:
    """The value this process holds for `key`, else the request's DataLoader (batched).

    A hit skips the DataLoader's future and scheduling: on a cached page, most fields'
    values are already in memory.
    """
    hit, value = cache.cached(key)
    if hit:
        return value
    return await info.context.loaders.get(batch).load(key)
