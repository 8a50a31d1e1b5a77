"""Per-request DataLoaders: every by-id lookup in one request becomes one batched query."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from common.cache import VersionedCache
from common.maybe import MaybeAwaitable
from common.resources import Resources

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# A batch function loads values for many keys at once, in the keys' order.
BatchFn = Callable[[Resources, Sequence[K]], Awaitable[Sequence[V]]]


class LoaderRegistry:
    """Creates each loader on first use in a request and reuses it for the rest of it."""

    def __init__(self, resources: Resources) -> None:
        self._resources = resources
        self._loaders: dict[Callable[..., Any], DataLoader[Any, Any]] = {}

    def get(self, batch: BatchFn[K, V]) -> DataLoader[K, V]:
        loader = self._loaders.get(batch)
        if loader is None:
            resources = self._resources

            async def load(keys: list[K]) -> Sequence[V]:
                return await batch(resources, keys)

            loader = DataLoader(load_fn=load)
            self._loaders[batch] = loader
        return loader

    async def load_by_id(self, batch: BatchFn[int, V | None], id: str) -> V | None:
        """The row behind a GraphQL ID, batched; None without a query for an ID no row can have.

        Row ids are positive BIGINTs written in ASCII digits: anything else (`"abc"`,
        `"²"`, a number past the column's range) is simply not found, rather than an
        error from `int()` or the database driver.
        """
        row_id = parse_row_id(id)
        return None if row_id is None else await self.get(batch).load(row_id)

    def cached_or_load(
        self, cache: VersionedCache[K, V], batch: BatchFn[K, V | None], key: K
    ) -> MaybeAwaitable[V | None]:
        """The value this process holds for `key` now (no await, no DataLoader future:
        see common.maybe), else the request's DataLoader's (batched with the rest)."""
        hit, value = cache.cached(key)
        if hit:
            return value
        return self.get(batch).load(key)


_MAX_ROW_ID = 2**63 - 1


def parse_row_id(id: str) -> int | None:
    """The integer a row id's GraphQL ID stands for, or None if it cannot be one."""
    if not (id.isascii() and id.isdigit()) or len(id) > 19:
        return None
    row_id = int(id)
    return row_id if 0 < row_id <= _MAX_ROW_ID else None
