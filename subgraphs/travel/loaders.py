"""Batch functions behind the travel subgraph's DataLoaders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import NamedTuple

from common.resources import Resources
from subgraphs.travel import service
from subgraphs.travel.cache import TravelCache
from subgraphs.travel.records import BusinessRecord, CommentRecord, HomestayRecord


async def homestays_by_id(
    resources: Resources, ids: Sequence[int]
) -> Sequence[HomestayRecord | None]:
    return await resources.component(TravelCache).homestays.get_many(ids)


async def businesses_by_id(
    resources: Resources, ids: Sequence[int]
) -> Sequence[BusinessRecord | None]:
    return await resources.component(TravelCache).businesses.get_many(ids)


class CommentPage(NamedTuple):
    """One homestay's comment page request: `limit` rows (one extra to detect a next page).

    A tuple: every homestay on a list page makes one, as a loader key.
    """

    homestay_id: int
    limit: int
    before_id: int | None


async def comment_pages(
    resources: Resources, pages: Sequence[CommentPage]
) -> Sequence[list[CommentRecord]]:
    """One statement per distinct (limit, cursor) — in practice one for a whole list page."""
    groups: dict[tuple[int, int | None], list[int]] = defaultdict(list)
    for page in pages:
        groups[(page.limit, page.before_id)].append(page.homestay_id)
    found: dict[CommentPage, list[CommentRecord]] = {}
    for (limit, before_id), homestay_ids in groups.items():
        comments = await service.latest_comments_per_homestay(
            resources.db, homestay_ids, limit=limit, before_id=before_id
        )
        for homestay_id, rows in comments.items():
            found[CommentPage(homestay_id, limit, before_id)] = rows
    return [found[page] for page in pages]
