"""The travel subgraph's read caches (in process, then Redis) and how writes invalidate them.

Write paths call one of the `*_changed` methods after their commit — today
`management.py`, later the hosts' mutations:

- `homestays_changed(*ids)`: a homestay's row (price, sale state, deletion, text);
- `businesses_changed(*ids)`: a business's row (deletion, sale state, text);
- `comments_changed(*homestay_ids)`: a comment added or removed.

Lists depend on many rows, so any homestay or business change empties every cached
list page (one version for them all): lists are cheap to reload, and a change must
never leave a list showing an old price or an off-sale homestay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

import orjson

from common.cache import CacheHub, VersionedCache
from common.resources import Resources
from subgraphs.travel import service
from subgraphs.travel.records import BusinessRecord, CommentRecord, HomestayRecord
from subgraphs.travel.service import Ranked

TTL_SECONDS = 300
LIST_TTL_SECONDS = 60
# Every list page shares one version: any catalog change empties them all.
ALL_LISTS: Final = "all"


class CommentPage(NamedTuple):
    """One homestay's comment page: `limit` rows (one extra to detect a next page)."""

    homestay_id: int
    limit: int
    before_id: int | None


class BusinessHomestayPage(NamedTuple):
    """One business's page of homestays on sale, newest first."""

    business_id: int
    limit: int
    before_id: int | None


class PreferredPage(NamedTuple):
    limit: int
    after: tuple[int, int] | None


class TopPage(NamedTuple):
    """A list without cursor (猜你喜欢, 最佳房东): just its length."""

    limit: int


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _homestay(fields: dict[str, Any]) -> HomestayRecord:
    return HomestayRecord(**fields)


def _business(fields: dict[str, Any]) -> BusinessRecord:
    return BusinessRecord(**fields)


def _comment(fields: dict[str, Any]) -> CommentRecord:
    fields["created_at"] = datetime.fromisoformat(fields["created_at"])
    return CommentRecord(**fields)


def _ranked_list(raw: str) -> list[Ranked]:
    return [Ranked(_homestay(record), (key[0], key[1])) for record, key in orjson.loads(raw)]


def _encode_ranked(rows: list[Ranked]) -> str:
    return _dumps([(row.record, row.key) for row in rows])


class TravelCache:
    """Homestays and businesses by id, comment pages and list pages; see the module doc."""

    def __init__(self, resources: Resources) -> None:
        db = resources.db
        self.hub = CacheHub(
            resources.redis, local_ttl_seconds=resources.settings.cache_local_ttl_seconds
        )

        async def load_homestays(ids: Sequence[int]) -> Mapping[int, HomestayRecord]:
            return await service.homestays_by_ids(db, ids)

        async def load_businesses(ids: Sequence[int]) -> Mapping[int, BusinessRecord]:
            return await service.businesses_by_ids(db, ids)

        async def load_comments(
            pages: Sequence[CommentPage],
        ) -> Mapping[CommentPage, list[CommentRecord]]:
            found: dict[CommentPage, list[CommentRecord]] = {}
            for (limit, before_id), ids in _group(pages).items():
                rows = await service.latest_comments_per_homestay(
                    db, ids, limit=limit, before_id=before_id
                )
                for homestay_id, comments in rows.items():
                    found[CommentPage(homestay_id, limit, before_id)] = comments
            return found

        async def load_business_homestays(
            pages: Sequence[BusinessHomestayPage],
        ) -> Mapping[BusinessHomestayPage, list[HomestayRecord]]:
            found: dict[BusinessHomestayPage, list[HomestayRecord]] = {}
            for (limit, before_id), ids in _group(pages).items():
                rows = await service.homestays_per_business(
                    db, ids, limit=limit, before_id=before_id
                )
                for business_id, homestays in rows.items():
                    found[BusinessHomestayPage(business_id, limit, before_id)] = homestays
            return found

        async def load_preferred(pages: Sequence[PreferredPage]) -> Mapping[PreferredPage, Any]:
            return {
                page: await service.preferred_homestays(db, limit=page.limit, after=page.after)
                for page in pages
            }

        async def load_latest(pages: Sequence[TopPage]) -> Mapping[TopPage, list[HomestayRecord]]:
            return {page: await service.latest_homestays(db, limit=page.limit) for page in pages}

        async def load_best(pages: Sequence[TopPage]) -> Mapping[TopPage, list[BusinessRecord]]:
            return {
                page: await service.best_rated_businesses(db, limit=page.limit) for page in pages
            }

        def homestay_list(raw: str) -> list[HomestayRecord]:
            return [_homestay(fields) for fields in orjson.loads(raw)]

        def business_list(raw: str) -> list[BusinessRecord]:
            return [_business(fields) for fields in orjson.loads(raw)]

        def comment_list(raw: str) -> list[CommentRecord]:
            return [_comment(fields) for fields in orjson.loads(raw)]

        def every_list(_: object) -> str:
            return ALL_LISTS

        hub = self.hub
        self.homestays = VersionedCache(
            hub, "travel:homestay", load_homestays, encode=_dumps,
            decode=lambda raw: _homestay(orjson.loads(raw)), ttl_seconds=TTL_SECONDS,
        )  # fmt: skip
        self.businesses = VersionedCache(
            hub, "travel:business", load_businesses, encode=_dumps,
            decode=lambda raw: _business(orjson.loads(raw)), ttl_seconds=TTL_SECONDS,
        )  # fmt: skip
        self.comment_pages = VersionedCache(
            hub, "travel:comments", load_comments, encode=_dumps, decode=comment_list,
            ttl_seconds=LIST_TTL_SECONDS, scope_of=lambda page: page.homestay_id,
        )  # fmt: skip
        self.business_homestays = VersionedCache(
            hub, "travel:business-homestays", load_business_homestays, encode=_dumps,
            decode=homestay_list, ttl_seconds=LIST_TTL_SECONDS, scope_of=every_list,
        )  # fmt: skip
        self.preferred = VersionedCache(
            hub, "travel:preferred", load_preferred, encode=_encode_ranked,
            decode=_ranked_list, ttl_seconds=LIST_TTL_SECONDS, scope_of=every_list,
        )  # fmt: skip
        self.latest = VersionedCache(
            hub, "travel:latest", load_latest, encode=_dumps, decode=homestay_list,
            ttl_seconds=LIST_TTL_SECONDS, scope_of=every_list,
        )  # fmt: skip
        self.best_businesses = VersionedCache(
            hub, "travel:best-businesses", load_best, encode=_dumps, decode=business_list,
            ttl_seconds=LIST_TTL_SECONDS, scope_of=every_list,
        )  # fmt: skip
        self._lists = (
            self.business_homestays,
            self.preferred,
            self.latest,
            self.best_businesses,
        )

    # ----------------------------------------------------------------- invalidation

    async def homestays_changed(self, *homestay_ids: int) -> None:
        """After a homestay's row changed (price, sale state, deletion, text)."""
        await self.homestays.invalidate(*homestay_ids)
        await self.lists_changed()

    async def businesses_changed(self, *business_ids: int) -> None:
        """After a business's row changed: its homestays' lists change with it."""
        await self.businesses.invalidate(*business_ids)
        await self.lists_changed()

    async def comments_changed(self, *homestay_ids: int) -> None:
        """After a comment of these homestays was added or removed."""
        await self.hub.invalidate(self.comment_pages.namespace, homestay_ids)

    async def lists_changed(self) -> None:
        """After a change to what lists show (e.g. the preferred list's activities)."""
        for cache in self._lists:
            await self.hub.invalidate(cache.namespace, [ALL_LISTS])

    async def aclose(self) -> None:
        """Stops the invalidation listener; the Redis client is the process's."""
        await self.hub.aclose()


def _group(pages: Sequence[CommentPage | BusinessHomestayPage]) -> dict[Any, list[int]]:
    """Pages by (limit, cursor): one statement per group — in practice one per list page."""
    groups: dict[tuple[int, int | None], list[int]] = {}
    for page in pages:
        groups.setdefault((page.limit, page.before_id), []).append(page[0])
    return groups
