"""Batch functions behind the users subgraph's DataLoaders."""

from __future__ import annotations

from collections.abc import Sequence

from common.db import Database
from subgraphs.users import service
from subgraphs.users.models import User


async def users_by_id(db: Database, ids: Sequence[int]) -> Sequence[User | None]:
    return await service.users_by_ids(db, ids)
