"""Per-request DataLoaders: every by-id lookup in one request becomes one batched query."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

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
