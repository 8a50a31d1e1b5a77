"""Batch functions behind the users subgraph's DataLoaders."""

from __future__ import annotations

from collections.abc import Sequence

from common.resources import Resources
from subgraphs.users import service
from subgraphs.users.cache import UserRecord, UsersCache
from subgraphs.users.models import User


async def users_by_id(resources: Resources, ids: Sequence[int]) -> Sequence[User | None]:
    """From the database: the viewer's own account (`me`)."""
    return await service.users_by_ids(resources.db, ids)


async def cached_users_by_id(
    resources: Resources, ids: Sequence[int]
) -> Sequence[UserRecord | None]:
    """Through the cache: other subgraphs' references (`_entities`), many per page."""
    return await resources.component(UsersCache).users.get_many(ids)
