"""Service-level tests: domain functions on the real database and Redis, no GraphQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from common.db import Database
from common.redis import create_redis
from common.settings import Domain, Settings
from subgraphs.orders.payments import PaymentsClient
from tests.support.stack import Stack


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


@pytest.fixture(scope="session")
def payments_url(stack: Stack) -> str:
    """The real payments subgraph (with the WeChat sandbox behind it), for orders' close job."""
    return stack.subgraph_urls[Domain.PAYMENTS]


@pytest.fixture
async def payments_gate(settings: Settings, payments_url: str) -> AsyncIterator[PaymentsClient]:
    client = PaymentsClient(settings.model_copy(update={"payments_internal_url": payments_url}))
    yield client
    await client.aclose()
