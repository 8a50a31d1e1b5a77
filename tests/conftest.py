"""Suite-wide fixtures: fresh backends, then (for end-to-end tests) the running stack."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from common.db import Database
from common.settings import Domain, Settings, get_settings
from tests.support.backends import ObjectStore, RedisServer, database_urls
from tests.support.graphql import GraphQLClient
from tests.support.stack import Stack


def pytest_collection_finish(session: pytest.Session) -> None:
    """Importing `workers.actors` configures this process's broker from the environment of
    that moment: a test module importing it at collection, before the suite's backends are
    in the environment, leaves every in-process relay pointing at the default Redis."""
    if "workers.actors" in sys.modules:
        raise pytest.UsageError("a test module imports workers.actors at import time")


TEST_JWT_SECRET = "test-secret-for-the-looklook-suite-" + "0123456789abcdef" * 2


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="looklook-test-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session")
def backend_env(tmp_root: Path) -> Iterator[dict[str, str]]:
    """Environment of every process under test; also applied to this process."""
    redis_server = RedisServer(tmp_root)
    object_store = ObjectStore(tmp_root)
    env = {
        **object_store.env,
        "ENV": "test",
        "DATA_DIR": str(tmp_root),
        "REDIS_URL": redis_server.url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "WARNING",
        # Generous per-address limit: the whole suite logs in from one address.
        "LOGIN_ATTEMPTS_PER_ADDRESS": "10000",
        # Subgraphs keep no values in memory: a test writing then reading sees the change
        # without waiting for the broadcast (tests/integration/test_travel_cache.py covers it).
        "CACHE_LOCAL_TTL_SECONDS": "0",
        "REGISTER_ATTEMPTS_PER_ADDRESS": "10000",
        "WX_MINI_AUTH_ATTEMPTS_PER_ADDRESS": "10000",
        "REFRESH_ATTEMPTS_PER_ADDRESS": "10000",
    }
    saved = dict(os.environ)
    try:
        for domain, url in database_urls(tmp_root).items():
            env[f"{domain.value.upper()}_DATABASE_URL"] = url
        os.environ.update(env)
        get_settings.cache_clear()
        from common import migrations
        from common.subgraphs import available_domains

        for domain in available_domains():
            migrations.upgrade(domain)
        object_store.wait()
        yield env
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        redis_server.stop()
        object_store.stop()  # a SeaweedFS of its own must not outlive the suite


@pytest.fixture(scope="session")
def settings(backend_env: dict[str, str]) -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def stack(backend_env: dict[str, str]) -> Iterator[Stack]:
    running = Stack(env={**os.environ, **backend_env})
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def router(stack: Stack) -> GraphQLClient:
    """A GraphQL client of the router: what the mini-program talks to."""
    return GraphQLClient(stack.router_url)


@pytest.fixture(scope="session")
def users_subgraph(stack: Stack) -> GraphQLClient:
    return GraphQLClient(stack.subgraph_urls[Domain.USERS])


@pytest.fixture(scope="session")
async def travel_db(settings: Settings) -> AsyncIterator[Database]:
    """The travel database, for tests that arrange catalog rows directly."""
    db = Database(settings.database_url(Domain.TRAVEL))
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
def travel_subgraph(stack: Stack) -> GraphQLClient:
    return GraphQLClient(stack.subgraph_urls[Domain.TRAVEL])
