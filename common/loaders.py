"""Per-request DataLoaders: every by-id lookup in one request becomes one batched query."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from strawberry import Info
from strawberry.dataloader import DataLoader
from strawberry.types.nodes import SelectedField, Selection

from common.resources import Resources

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")

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


_MAX_ROW_ID = 2**63 - 1


def parse_row_id(id: str) -> int | None:
    """The integer a row id's GraphQL ID stands for, or None if it cannot be one."""
    if not (id.isascii() and id.isdigit()) or len(id) > 19:
        return None
    row_id = int(id)
    return row_id if 0 < row_id <= _MAX_ROW_ID else None


def when_loaded(loading: Awaitable[V], convert: Callable[[V], R]) -> R | Awaitable[R]:
    """`convert` of a load's value: now if the loader already has it, else once it arrives.

    A resolver that returns a plain value lets graphql-core complete its field, and a
    list of such fields, synchronously; an awaitable costs a coroutine, and a task
    per list item. Values a list resolver prefetched into the request's loaders are
    finished futures, so the fields below it take the synchronous path. A failed
    load raises here as it would have on await.
    """
    if isinstance(loading, asyncio.Future) and loading.done():
        return convert(loading.result())
    return _convert_when_loaded(loading, convert)


async def _convert_when_loaded(loading: Awaitable[V], convert: Callable[[V], R]) -> R:
    return convert(await loading)


def item_fields(info: Info[Any, Any], *path: str) -> Iterator[SelectedField]:
    """The fields the query selects on each item of the list being resolved.

    `path` leads from the list field to its items (`"edges", "node"` for a
    connection). Fragments are looked through and fields left out by `@skip` or
    `@include` are not returned. Argument values are as Strawberry reports them:
    variables resolved, literals as written (`first: 3` gives the string "3").
    For prefetching only: a field it misses still resolves, just not batched ahead.
    """
    selections: list[Selection] = list(info.selected_fields)
    for name in ("", *path):
        # The first step enters the list field itself, whatever its name or alias.
        selections = [
            child
            for field in _fields(selections)
            if not name or field.name == name
            for child in field.selections
        ]
    yield from _fields(selections)


def _fields(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    for selection in selections:
        if not _included(selection.directives):
            continue
        if isinstance(selection, SelectedField):
            yield selection
        else:
            yield from _fields(selection.selections)


def _included(directives: dict[str, dict[str, Any]]) -> bool:
    skip, include = directives.get("skip"), directives.get("include")
    return not (skip is not None and skip.get("if") is True) and (
        include is None or include.get("if") is not False
    )
