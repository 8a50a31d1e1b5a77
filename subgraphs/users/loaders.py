"""Batch functions behind the users subgraph's DataLoaders."""

from __future__ import annotations

from collections.abc import Sequence

from common.resources import Resources
from subgraphs.users import service
from subgraphs.users.models import User


async def users_by_id(resources: Resources, ids: Sequence[int]) -> Sequence[User | None]:
    return await service.users_by_ids(resources.db, ids)
