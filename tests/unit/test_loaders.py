"""Row ids behind GraphQL IDs: what `load_by_id` treats as an id at all."""

from __future__ import annotations

import pytest

from common.loaders import parse_row_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), ("42", 42), (str(2**63 - 1), 2**63 - 1), ("0", None), ("-1", None),
     ("", None), ("abc", None), ("²", None), ("１２", None), (str(2**63), None), ("9" * 30, None)],
)  # fmt: skip
def test_parse_row_id(text: str, expected: int | None) -> None:
    assert parse_row_id(text) == expected
