"""Cursor connections (GraphQL Cursor Connections spec) with a capped page size.

Cursors are opaque to clients: base64 of the sort key of the last row seen,
so a page never skips or repeats rows when new rows arrive (unlike offsets).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry
from strawberry.federation.schema_directives import ListSize

from common.errors import BadUserInput

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50
_CURSOR_VERSION = "v1"

# Federation 2.9 @listSize, read by the router's query-cost estimate (demandControl): a
# page holds `first` items (its SDL default is the default page size, so an omitted
# `first` is counted as what it returns). On a connection the page sizes `edges`.
CONNECTION_SIZE = ListSize(
    assumed_size=strawberry.UNSET,  # not printed: the page size comes from `first`
    slicing_arguments=["first"],
    sized_fields=["edges"],
    require_one_slicing_argument=False,
)
LIST_SIZE = ListSize(
    assumed_size=strawberry.UNSET,  # not printed: the page size comes from `first`
    slicing_arguments=["first"],
    sized_fields=strawberry.UNSET,
    require_one_slicing_argument=False,
)


@strawberry.federation.type(shareable=True)  # every subgraph with lists defines it
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    # The row's sort key: the cursor is encoded only if a client selects it (most lists
    # are read without, and encoding one per edge was ≈ 5 % of a home page's CPU).
    _key: strawberry.Private[Sequence[int | str | float]]

    @strawberry.field
    def cursor(self) -> str:
        return encode_cursor(self._key)


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def page_size(first: int | None) -> int:
    """The number of rows to return: default 10, at most 50; zero or less is refused."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 1:
        raise BadUserInput("`first` must be at least 1.", field="first")
    return min(first, MAX_PAGE_SIZE)


def encode_cursor(key: Sequence[int | str | float]) -> str:
    raw = json.dumps([_CURSOR_VERSION, *key], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> tuple[int | str | float, ...] | None:
    """The sort key inside a cursor from `encode_cursor`; BAD_USER_INPUT if it is not one."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != arity + 1
        or values[0] != _CURSOR_VERSION
        or not all(isinstance(v, int | str | float) and not isinstance(v, bool) for v in values)
    ):
        raise BadUserInput("Invalid cursor; pass an endCursor from a previous page.", field="after")
    return tuple(values[1:])


def decode_int_cursor(cursor: str | None, arity: int) -> tuple[int, ...] | None:
    """For lists whose sort key is made of integers."""
    key = decode_cursor(cursor, arity)
    if key is None:
        return None
    if not all(isinstance(value, int) for value in key):
        raise BadUserInput("Invalid cursor; pass an endCursor from a previous page.", field="after")
    return tuple(int(value) for value in key)


def decode_id_cursor(cursor: str | None) -> int | None:
    """For lists ordered by id alone."""
    key = decode_int_cursor(cursor, 1)
    return key[0] if key else None


def build_connection(
    rows: Sequence[R],
    size: int,
    key: Callable[[R], Sequence[int | str | float]],
    node: Callable[[R], T],
) -> Connection[T]:
    """Make a page from up to `size + 1` rows (the extra row only says there is a next page)."""
    page = rows[:size]
    edges = [Edge(node=node(row), _key=key(row)) for row in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > size,
            end_cursor=encode_cursor(edges[-1]._key) if edges else None,
        ),
    )
