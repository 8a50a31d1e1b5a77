"""Batch functions behind the travel subgraph's DataLoaders: each reads through `TravelCache`."""

from __future__ import annotations

from collections.abc import Sequence

from common.resources import Resources
from subgraphs.travel.cache import BusinessHomestayPage, CommentPage, TravelCache
from subgraphs.travel.records import BusinessRecord, CommentRecord, HomestayRecord

__all__ = ["BusinessHomestayPage", "CommentPage"]


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
