"""Values a resolver has at once, or only later: a warm page completes without awaiting.

Why: graphql-core awaits whatever awaitable a resolver returns, and the items of a
list whose fields are awaitable become tasks it gathers. On a page whose values all
sit in this process's cache, those coroutines, tasks and event-loop round trips cost
more than the fields themselves, and with many requests in flight the loop
interleaves them step by step, which costs more again. A resolver that returns the
value itself when it has it, and an awaitable only when it must load, completes a
warm page in one step; graphql-core handles either (its `is_awaitable` check).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# A resolver's result: the value now, or an awaitable of it.
MaybeAwaitable: TypeAlias = T | Awaitable[T]


def then(value: MaybeAwaitable[T], step: Callable[[T], R]) -> MaybeAwaitable[R]:
    """`step(value)`, now if `value` is at hand, else once it has been awaited."""
    if isinstance(value, Awaitable):
        return _after(value, step)
    return step(value)


async def _after(value: Awaitable[T], step: Callable[[T], R]) -> R:
    return step(await value)
