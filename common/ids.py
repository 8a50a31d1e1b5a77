"""Business identifiers: order/payment serial numbers and check-in codes (REFERENCE.md rules)."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
from enum import StrEnum

_CODE_ALPHABET = string.ascii_uppercase + string.digits


class SnPrefix(StrEnum):
    HOMESTAY_ORDER = "HSO"
    PAYMENT = "PMT"
    REFUND = "RFD"


def make_sn(prefix: SnPrefix, now: datetime | None = None) -> str:
    """prefix + yyyyMMddHHmmss (UTC) + 8 random digits: 25 characters, sortable by time."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    digits = "".join(secrets.choice(string.digits) for _ in range(8))
    return f"{prefix.value}{moment:%Y%m%d%H%M%S}{digits}"


def make_check_in_code(length: int = 8) -> str:
    """An unguessable code the guest shows the landlord on arrival."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))
