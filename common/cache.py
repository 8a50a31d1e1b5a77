"""Read caches of a subgraph process: in-process entries in front of Redis, versioned.

Two layers, one API (`VersionedCache.get_many`):

- **in process**: a dict of decoded values with a short lifetime (`CACHE_LOCAL_TTL_SECONDS`).
  A hit costs no I/O and no decoding — what lets a hot list page be served at the
  framework's cost. Concurrent misses of one key share one load (single-flight).
- **Redis**: encoded values with a longer lifetime, shared by every replica.

Every entry belongs to a *scope* (a row id, or a whole list family) whose version is a
counter in Redis. `CacheHub.invalidate` bumps the counters after a write, then
broadcasts the new versions on Redis pub/sub so every replica drops its in-process
entries at once. Versions make a slow reader harmless: a loader records the version
before reading the database and writes back only if it is unchanged (one Lua script,
atomic in Redis), and the in-process layer refuses values older than the newest
version it has heard of. A read that started before a change can return the old row
to its own caller, but can never put it back into a cache.

Redis is an optimisation: when it fails, reads go to the database and nothing is
cached (an in-process entry is only kept while this process is subscribed to the
invalidations, or it could outlive a change made by another replica).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.maybe import MaybeAwaitable

logger = logging.getLogger("looklook.cache")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

CHANNEL: Final = "cache:invalidations"
# A version counter outlives every entry written under it (entries live minutes).
VERSION_TTL_SECONDS: Final = 7 * 24 * 3600
_MISSING: Final = "\x00"  # encoded "no such row"
_EVERYTHING: Final = "*"  # the namespace of a flush
_RECONNECT_SECONDS: Final = 1.0

# Write each value only if its scope's version is still the one read before loading.
# KEYS: value key, version key (pairs); ARGV: version, payload, ttl (triples).
_WRITE_IF_CURRENT: Final = """
local written = {}
for i = 1, #KEYS / 2 do
  local current = redis.call('GET', KEYS[2 * i]) or '0'
  if current == ARGV[3 * i - 2] then
    redis.call('SET', KEYS[2 * i - 1], ARGV[3 * i - 2] .. '|' .. ARGV[3 * i - 1],
               'EX', ARGV[3 * i])
    written[i] = 1
  else
    written[i] = 0
  end
end
return written
"""


def _itself(key: object) -> object:
    return key


@dataclass(slots=True)
class _Entry:
    value: Any
    version: int
    expires: float
    scope: str


class CacheHub:
    """One per process: the Redis client, the known versions and the invalidation listener.

    `invalidate(namespace, scopes)` is what every write path calls after its commit.
    """

    def __init__(self, redis: Redis, *, local_ttl_seconds: float) -> None:
        self.redis = redis
        self.local_ttl = local_ttl_seconds
        self._caches: dict[str, VersionedCache[Any, Any]] = {}
        # Newest version heard of per (namespace, scope): older values are never kept.
        self._known: dict[tuple[str, str], int] = {}
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._on_invalidation: list[Callable[[str, Mapping[str, int]], None]] = []
        self._write_script = redis.register_script(_WRITE_IF_CURRENT)

    # ----------------------------------------------------------------- versions

    def version_key(self, namespace: str, scope: str) -> str:
        return f"cachever:{namespace}:{scope}"

    def known_version(self, namespace: str, scope: str) -> int:
        return self._known.get((namespace, scope), 0)

    @property
    def local_enabled(self) -> bool:
        """In-process entries are safe only while invalidations reach this process."""
        self._ensure_listening()
        return self._subscribed.is_set() and self.local_ttl > 0

    async def invalidate(self, namespace: str, scopes: Iterable[object]) -> None:
        """After a write: bump the scopes' versions, drop their entries here and everywhere."""
        names = [str(scope) for scope in dict.fromkeys(scopes)]
        if not names:
            return
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for scope in names:
                    pipe.incr(self.version_key(namespace, scope))
                    pipe.expire(self.version_key(namespace, scope), VERSION_TTL_SECONDS)
                replies = await pipe.execute()
            versions = {scope: int(replies[2 * i]) for i, scope in enumerate(names)}
            self.apply(namespace, versions)
            await self.redis.publish(CHANNEL, orjson.dumps({"ns": namespace, "v": versions}))
        except RedisError as error:
            # Nothing can be cached without Redis either; drop what this process holds.
            logger.warning("cache invalidation failed: %s", error)
            self.apply(namespace, {scope: self.known_version(namespace, scope) for scope in names})

    async def flush(self) -> None:
        """Forget every cached value, in Redis and in every replica (after a manual fix-up
        in the database, and in tests that need cold caches)."""
        keys = [key async for key in self.redis.scan_iter("cache:*")]
        if keys:
            await self.redis.delete(*keys)
        self.clear_local()
        await self.redis.publish(CHANNEL, orjson.dumps({"ns": _EVERYTHING, "v": {}}))

    def apply(self, namespace: str, versions: Mapping[str, int]) -> None:
        """Record newer versions and forget this process's entries of those scopes."""
        if namespace == _EVERYTHING:
            self.clear_local()
        for scope, version in versions.items():
            key = (namespace, scope)
            self._known[key] = max(self._known.get(key, 0), version)
        cache = self._caches.get(namespace)
        if cache is not None:
            cache.forget_scopes(versions.keys())
        for listener in self._on_invalidation:
            listener(namespace, versions)

    def on_invalidation(self, listener: Callable[[str, Mapping[str, int]], None]) -> None:
        """Call `listener(namespace, versions)` after each invalidation applied here."""
        self._on_invalidation.append(listener)

    def register(self, cache: VersionedCache[Any, Any]) -> None:
        self._caches[cache.namespace] = cache

    def clear_local(self) -> None:
        for cache in self._caches.values():
            cache.forget_all()

    # ----------------------------------------------------------------- listener

    def _ensure_listening(self) -> None:
        if self._listener is None or self._listener.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._listener = loop.create_task(self._listen(), name="cache-invalidations")

    async def wait_listening(self) -> None:
        """Until this process receives invalidations (tests and warm-ups)."""
        self._ensure_listening()
        await self._subscribed.wait()

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                self._subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    payload = orjson.loads(message["data"])
                    self.apply(payload["ns"], payload["v"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, ValueError) as error:
                logger.warning("cache invalidations unavailable, in-process cache off: %s", error)
            finally:
                # Messages may have been missed: nothing held here can be trusted any more.
                self._subscribed.clear()
                self.clear_local()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(_RECONNECT_SECONDS)

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await self._listener
            self._listener = None

    async def write_if_current(self, items: Sequence[tuple[str, str, str, str, int]]) -> list[bool]:
        """(value key, version key, version, payload, ttl) each; True where written."""
        keys = [k for key, version_key, *_ in items for k in (key, version_key)]
        args = [a for _, _, version, payload, ttl in items for a in (version, payload, ttl)]
        written = await self._write_script(keys=keys, args=args)
        return [bool(flag) for flag in written]


class VersionedCache(Generic[K, V]):
    """Values by key, loaded in batches, in process and in Redis, never older than a change.

    `scope_of(key)` names the version a key's value depends on: the key itself for a
    row by id (the default), a constant for a list family that any change empties.
    """

    def __init__(
        self,
        hub: CacheHub,
        namespace: str,
        load: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]],
        *,
        encode: Callable[[V], str],
        decode: Callable[[str], V],
        ttl_seconds: int = 300,
        missing_ttl_seconds: int = 30,
        scope_of: Callable[[K], object] | None = None,
        key_of: Callable[[K], str] = str,
    ) -> None:
        self.hub = hub
        self.namespace = namespace
        self._load = load
        self._encode = encode
        self._decode = decode
        self._ttl = ttl_seconds
        self._missing_ttl = missing_ttl_seconds
        self._scope_of: Callable[[K], object] = scope_of or _itself
        self._key_of = key_of
        self._local: dict[K, _Entry] = {}
        self._by_scope: dict[str, set[K]] = {}
        self._inflight: dict[K, asyncio.Future[V | None]] = {}
        self._loading: set[asyncio.Task[None]] = set()
        hub.register(self)

    # ----------------------------------------------------------------- in process

    def forget_scopes(self, scopes: Iterable[str]) -> None:
        for scope in scopes:
            for key in self._by_scope.pop(scope, ()):
                self._local.pop(key, None)
                self._inflight.pop(key, None)  # later readers must not join an older load

    def forget_all(self) -> None:
        self._local.clear()
        self._by_scope.clear()
        self._inflight.clear()

    def _keep(self, key: K, value: V | None, version: int, scope: str) -> None:
        if not self.hub.local_enabled or version < self.hub.known_version(self.namespace, scope):
            return
        self._local[key] = _Entry(value, version, time.monotonic() + self.hub.local_ttl, scope)
        self._by_scope.setdefault(scope, set()).add(key)

    def cached(self, key: K) -> tuple[bool, V | None]:
        """(True, value) when this process holds a fresh value for `key`; no I/O."""
        entry = self._local.get(key)
        if entry is None:
            return False, None
        if entry.expires < time.monotonic():
            del self._local[key]
            return False, None
        value: V | None = entry.value
        return True, value

    # ----------------------------------------------------------------- reads

    async def get(self, key: K) -> V | None:
        return (await self.get_many([key]))[0]

    def at_hand(self, key: K) -> MaybeAwaitable[V | None]:
        """The value now when this process holds it (no await: common.maybe), else `get`."""
        hit, value = self.cached(key)
        return value if hit else self.get(key)

    async def get_many(self, keys: Sequence[K]) -> list[V | None]:
        """Values in the order of `keys`; None where no row exists."""
        found: dict[K, V | None] = {}
        pending: list[K] = []
        for key in keys:
            if key in found:
                continue
            hit, value = self.cached(key)
            if hit:
                found[key] = value
            else:
                pending.append(key)
        if pending:
            waiting = {k: self._inflight[k] for k in pending if k in self._inflight}
            to_load = [k for k in dict.fromkeys(pending) if k not in waiting]
            if to_load:
                waiting.update(self._start_load(to_load))
            for key, future in waiting.items():
                found[key] = await asyncio.shield(future)
        return [found[k] for k in keys]

    def _start_load(self, keys: list[K]) -> dict[K, asyncio.Future[V | None]]:
        """Load `keys` in a task of its own: a reader going away does not cancel the load
        that other readers share."""
        loop = asyncio.get_running_loop()
        futures: dict[K, asyncio.Future[V | None]] = {k: loop.create_future() for k in keys}
        self._inflight.update(futures)
        task = loop.create_task(self._fill(keys, futures))
        self._loading.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._loading.discard)
        return futures

    async def _fill(self, keys: list[K], futures: Mapping[K, asyncio.Future[V | None]]) -> None:
        try:
            values = await self._read_through(keys)
            for key, future in futures.items():
                if not future.done():
                    future.set_result(values[key])
        except asyncio.CancelledError:
            for future in futures.values():
                future.cancel()
            raise
        except Exception as error:
            for future in futures.values():
                if not future.done():
                    future.set_exception(error)
                    future.exception()  # retrieved: every reader may have gone away
        finally:
            for key, future in futures.items():
                if self._inflight.get(key) is future:
                    del self._inflight[key]

    async def _read_through(self, keys: list[K]) -> dict[K, V | None]:
        scopes = [str(self._scope_of(k)) for k in keys]
        redis_keys = [f"cache:{self.namespace}:{self._key_of(k)}" for k in keys]
        version_keys = [self.hub.version_key(self.namespace, s) for s in scopes]
        try:
            raw = await self.hub.redis.mget([*redis_keys, *version_keys])
        except RedisError as error:
            logger.warning("cache read failed, using the database: %s", error)
            rows = await self._load(keys)
            return {k: rows.get(k) for k in keys}
        texts = [v.decode() if isinstance(v, bytes) else v for v in raw]
        stored, versions = texts[: len(keys)], [v or "0" for v in texts[len(keys) :]]
        result: dict[K, V | None] = {}
        missing: list[int] = []
        for i, key in enumerate(keys):
            text: str | None = stored[i]
            prefix = versions[i] + "|"
            if text is not None and text.startswith(prefix):
                payload = text[len(prefix) :]
                decoded = None if payload == _MISSING else self._decode(payload)
                result[key] = decoded
                self._keep(key, decoded, int(versions[i]), scopes[i])
            else:
                missing.append(i)
        if missing:
            rows = await self._load([keys[i] for i in missing])
            items: list[tuple[str, str, str, str, int]] = []
            kept: list[int] = []
            for i in missing:
                loaded = rows.get(keys[i])
                result[keys[i]] = loaded
                ttl = self._ttl if loaded is not None else self._missing_ttl
                if ttl > 0:
                    payload = _MISSING if loaded is None else self._encode(loaded)
                    items.append((redis_keys[i], version_keys[i], versions[i], payload, ttl))
                    kept.append(i)
            try:
                written = await self.hub.write_if_current(items) if items else []
            except RedisError as error:
                logger.warning("cache write failed: %s", error)
                written = [False] * len(items)
            for i, ok in zip(kept, written, strict=True):
                if ok:
                    self._keep(keys[i], result[keys[i]], int(versions[i]), scopes[i])
        return result

    async def invalidate(self, *keys: K) -> None:
        """Forget the values of `keys` (and of everything sharing their scopes) everywhere."""
        await self.hub.invalidate(self.namespace, (self._scope_of(k) for k in keys))
