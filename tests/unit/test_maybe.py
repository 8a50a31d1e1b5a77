"""A value at hand is used at once; only a value still to come is awaited (common.maybe)."""

from __future__ import annotations

import asyncio
import inspect

import strawberry

from common.maybe import MaybeAwaitable, then


def test_a_value_at_hand_is_stepped_at_once() -> None:
    assert then(20, lambda n: n + 1) == 21


async def test_a_value_to_come_is_stepped_once_awaited() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    pending: MaybeAwaitable[int] = future
    later = then(pending, lambda n: n + 1)
    assert inspect.isawaitable(later)
    future.set_result(20)
    assert await later == 21


@strawberry.type
class Item:
    id: int

    @strawberry.field(graphql_type=str)
    def label(self) -> MaybeAwaitable[str]:
        return then(self.id if self.id % 2 else _later(self.id), lambda n: f"#{n}")


async def _later(n: int) -> int:
    await asyncio.sleep(0)
    return n


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(id=n) for n in range(4)]


async def test_a_schema_completes_values_at_hand_and_awaits_the_rest() -> None:
    schema = strawberry.Schema(query=Query)
    result = await schema.execute("{ items { label } }")
    assert result.errors is None
    assert result.data == {"items": [{"label": f"#{n}"} for n in range(4)]}
    synchronous = schema.execute_sync("{ items { id } }")  # nothing to await at all
    assert synchronous.data == {"items": [{"id": n} for n in range(4)]}
