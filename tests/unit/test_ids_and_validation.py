"""Serial numbers, check-in codes and user input rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.errors import BadUserInput
from common.ids import SnPrefix, make_check_in_code, make_sn
from subgraphs.users.validation import check_password, normalize_mobile


def test_sn_has_prefix_utc_timestamp_and_random_digits() -> None:
    sn = make_sn(SnPrefix.HOMESTAY_ORDER, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert len(sn) == 25
    assert sn.startswith("HSO20260102030405")
    assert sn[-8:].isdigit()
    assert len({make_sn(SnPrefix.PAYMENT) for _ in range(200)}) == 200


def test_check_in_code_is_8_uppercase_letters_or_digits() -> None:
    code = make_check_in_code()
    assert len(code) == 8 and code.isalnum() and code.upper() == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("13800138000", "13800138000"), (" 138 0013 8000 ", "13800138000"),
     ("+8613800138000", "13800138000"), ("+86 199-0000-1111", "19900001111")],
)  # fmt: skip
def test_mobile_normalisation(raw: str, expected: str) -> None:
    assert normalize_mobile(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "1380013800", "138001380001", "12800138000", "abc", "+1 2025550100"]
)
def test_malformed_mobiles_are_refused(raw: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        normalize_mobile(raw)
    assert caught.value.extensions == {"code": "BAD_USER_INPUT", "field": "mobile"}


@pytest.mark.parametrize("password", ["", "       ", "short", "x" * 129])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(BadUserInput):
        check_password(password)
