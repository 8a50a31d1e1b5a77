"""Partial updates: "leave this field as it is" as a value services understand.

An update input distinguishes a field the client left out (keep the stored value)
from one it set to null (clear it, or refuse it where null makes no sense). GraphQL
marks the first with `strawberry.UNSET`; services get `KEEP` instead, so they need
no GraphQL types and read the same from a resolver, a script or a test.
"""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal, TypeAlias, TypeVar

from strawberry.types.unset import UnsetType

T = TypeVar("T")


class Keep(Enum):
    """The one value meaning "not given: keep what is stored"."""

    KEEP = "KEEP"

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = Keep.KEEP

# A field of a partial update: a new value (None included, where the field allows it) or KEEP.
Patch: TypeAlias = T | Literal[Keep.KEEP]


def given(value: T | UnsetType) -> Patch[T]:
    """An input field as a service's patch value: UNSET (left out) becomes KEEP."""
    return KEEP if isinstance(value, UnsetType) else value
