"""Cache-aside in Redis for rows read by id, with single-flight and graceful degradation.

- Hits come from one MGET; misses are loaded from the database in one batch and
  written back with a TTL. Ids that do not exist are cached briefly as misses,
  so a flood of unknown ids does not reach the database either.
- Single-flight: while a key is being loaded, other readers of that key in this
  process await the same load instead of querying again (200 concurrent cold
  reads of one row cost one query).
- Redis is an optimisation: when it fails, reads go to the database and the
  error is logged, never raised.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger("looklook.cache")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING = "\x00"  # cached marker for "no such row"
SETTLE_SECONDS = 0.5


class EntityCache(Generic[K, V]):
    def __init__(
        self,
        redis: Redis,
        namespace: str,
        record_type: type[V],
        load: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]],
        *,
        ttl_seconds: int = 300,
        missing_ttl_seconds: int = 30,
        settle_seconds: float = SETTLE_SECONDS,
    ) -> None:
        self._redis = redis
        self._namespace = namespace
        self._record_type = record_type
        self._load = load
        self._ttl = ttl_seconds
        self._missing_ttl = missing_ttl_seconds
        # A finished load stays shared for `settle_seconds`: readers whose Redis miss was
        # answered before the write-back still get it instead of querying again.
        self._settle = settle_seconds
        self._inflight: dict[K, asyncio.Future[V | None]] = {}

    def _key(self, key: K) -> str:
        return f"cache:{self._namespace}:{key}"

    def _encode(self, value: V | None) -> str:
        if value is None:
            return _MISSING
        return json.dumps(dataclasses.asdict(value), ensure_ascii=False)  # type: ignore[call-overload]

    def _decode(self, raw: str) -> V | None:
        if raw == _MISSING:
            return None
        fields: dict[str, Any] = json.loads(raw)
        return self._record_type(**fields)

    async def _read(self, keys: Sequence[K]) -> list[str | None]:
        try:
            values = await self._redis.mget([self._key(k) for k in keys])
            return [v.decode() if isinstance(v, bytes) else v for v in values]
        except RedisError as error:
            logger.warning("cache read failed, using the database: %s", error)
            return [None] * len(keys)

    async def _write(self, loaded: Mapping[K, V | None]) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, value in loaded.items():
                    ttl = self._ttl if value is not None else self._missing_ttl
                    pipe.set(self._key(key), self._encode(value), ex=ttl)
                await pipe.execute()
        except RedisError as error:
            logger.warning("cache write failed: %s", error)

    async def get_many(self, keys: Sequence[K]) -> list[V | None]:
        """Values in the order of `keys`; None where no row exists."""
        found: dict[K, V | None] = {}
        for key, raw in zip(keys, await self._read(keys), strict=True):
            if raw is not None:
                found[key] = self._decode(raw)
        waiting = {k: self._inflight[k] for k in keys if k not in found and k in self._inflight}
        to_load = [k for k in dict.fromkeys(keys) if k not in found and k not in waiting]
        if to_load:
            waiting.update(await self._load_and_share(to_load))
        for key, future in waiting.items():
            found[key] = await future
        return [found[k] for k in keys]

    async def _load_and_share(self, keys: list[K]) -> dict[K, asyncio.Future[V | None]]:
        """Load `keys` once, publishing each result to readers that arrive meanwhile."""
        loop = asyncio.get_running_loop()
        futures: dict[K, asyncio.Future[V | None]] = {k: loop.create_future() for k in keys}
        self._inflight.update(futures)
        try:
            rows = await self._load(keys)
            loaded = {k: rows.get(k) for k in keys}
            await self._write(loaded)
            for key, future in futures.items():
                future.set_result(loaded[key])
            return futures
        except BaseException as error:
            for future in futures.values():
                if not future.done():
                    future.set_exception(error)
            raise
        finally:
            loop.call_later(self._settle, self._forget, futures)

    def _forget(self, futures: Mapping[K, asyncio.Future[V | None]]) -> None:
        for key, future in futures.items():
            if self._inflight.get(key) is future:
                del self._inflight[key]

    async def get(self, key: K) -> V | None:
        return (await self.get_many([key]))[0]

    async def invalidate(self, *keys: K) -> None:
        """Forget cached values after their rows changed."""
        for key in keys:
            self._inflight.pop(key, None)
        try:
            await self._redis.delete(*(self._key(k) for k in keys))
        except RedisError as error:
            logger.warning("cache invalidation failed: %s", error)
