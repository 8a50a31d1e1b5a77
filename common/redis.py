"""The shared Redis client: token versions, rate limits, caches and pub/sub."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

from common.settings import DEFAULT_REDIS_MAX_CONNECTIONS, Settings

# How long a command waits for a free connection once all are in use.
DEFAULT_POOL_TIMEOUT_SECONDS = 2.0


def create_redis(
    url: str,
    *,
    max_connections: int = DEFAULT_REDIS_MAX_CONNECTIONS,
    pool_timeout: float = DEFAULT_POOL_TIMEOUT_SECONDS,
) -> Redis:
    """A pooled client with timeouts, so a dead Redis fails a request fast instead of hanging it.

    The pool blocks: a burst of more concurrent commands than `max_connections`
    queues for a free connection (up to `pool_timeout`) instead of failing at
    once, as redis-py's default pool does beyond its 100 connections.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout,
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=30,
        retry_on_timeout=False,
    )
    return Redis.from_pool(pool)


def process_redis(settings: Settings) -> Redis:
    """The process's client for commands (tokens, caches, locks, publishing), sized by
    `REDIS_MAX_CONNECTIONS`."""
    return create_redis(settings.redis_url, max_connections=settings.redis_max_connections)
