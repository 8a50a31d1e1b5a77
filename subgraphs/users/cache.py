"""The users subgraph's read cache of users by id: what the router's `_entities` asks for
on every page that shows a landlord or a commenter (in process, then Redis; see
common/cache.py).

Write paths call `users_changed(*ids)` after their commit: today `updateProfile`.
New accounts need nothing: unknown ids are not cached, so a new id is never a stale miss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson

from common.cache import CacheHub, VersionedCache
from common.resources import Resources
from subgraphs.users import service
from subgraphs.users.models import User as UserRow

TTL_SECONDS = 300


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user's profile as cached (the mobile too: only its owner is ever shown it)."""

    id: int
    nickname: str
    avatar: str | None
    sex: int
    info: str | None
    mobile: str | None

    @classmethod
    def of(cls, row: UserRow) -> UserRecord:
        return cls(row.id, row.nickname, row.avatar, row.sex, row.info, row.mobile)


class UsersCache:
    def __init__(self, resources: Resources) -> None:
        db = resources.db
        self.hub = CacheHub(
            resources.redis, local_ttl_seconds=resources.settings.cache_local_ttl_seconds
        )

        async def load(ids: Sequence[int]) -> Mapping[int, UserRecord]:
            rows = await service.users_by_ids(db, ids)
            return {row.id: UserRecord.of(row) for row in rows if row is not None}

        self.users = VersionedCache(
            self.hub, "users:user", load, encode=lambda r: orjson.dumps(r).decode(),
            decode=lambda raw: UserRecord(**orjson.loads(raw)), ttl_seconds=TTL_SECONDS,
            missing_ttl_seconds=0,
        )  # fmt: skip

    async def users_changed(self, *user_ids: int) -> None:
        """After a user's row changed (profile, deletion)."""
        await self.users.invalidate(*user_ids)

    async def aclose(self) -> None:
        await self.hub.aclose()
