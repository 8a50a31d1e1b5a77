"""Service-level tests: domain functions on the real database and Redis, no GraphQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from common.db import Database
from common.redis import create_redis
from common.settings import Domain, Settings


@pytest.fixture
async def users_db(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url(Domain.USERS))
    yield db
    await db.dispose()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = create_redis(settings.redis_url)
    yield client
    await client.aclose()
