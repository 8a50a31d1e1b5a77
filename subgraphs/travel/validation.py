"""Input rules for the landlord's catalogue; each failure names the API field it is about.

Every rule runs before anything is written, so a refused input leaves no row behind.
Text is trimmed; titles are one line; descriptions may have line breaks but no other
control characters (nor the invisible bidirectional overrides that make a title read
differently from what it is). Money is integer fen.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from common.errors import BadUserInput

TITLE_MAX: Final = 64
SUB_TITLE_MAX: Final = 128
HOMESTAY_INFO_MAX: Final = 2000
BUSINESS_INFO_MAX: Final = 255  # homestay_business.info is VARCHAR(255)
FOOD_INFO_MAX: Final = 255
TAGS_MAX: Final = 10
TAG_MAX: Final = 16  # 10 × 16 + 9 commas fits homestay_business.tags (VARCHAR(255))
PEOPLE_MIN, PEOPLE_MAX = 1, 50
# 100,000 yuan a night: far above any real homestay, far below what an INT column holds.
PRICE_MAX: Final = 10_000_000

_LINE_BREAKS: Final = frozenset("\n\t")
# Bidirectional embeddings, overrides and isolates (format characters, category Cf).
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control characters, surrogates (not storable as UTF-8), line and paragraph separators.
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _has_control(text: str, *, multiline: bool) -> bool:
    for char in text:
        if multiline and char in _LINE_BREAKS:
            continue
        if char in _BIDI_CONTROLS or unicodedata.category(char) in _REFUSED_CATEGORIES:
            return True
    return False


def clean_text(
    value: str | None, *, field: str, label: str, max_length: int, multiline: bool = False
) -> str:
    """An optional text: trimmed, "" for none, at most `max_length` characters."""
    if value is None:
        return ""
    cleaned = value.replace("\r\n", "\n").strip()
    if _has_control(cleaned, multiline=multiline):
        raise BadUserInput(f"The {label} contains control characters.", field=field)
    if len(cleaned) > max_length:
        raise BadUserInput(f"The {label} can be at most {max_length} characters.", field=field)
    return cleaned


def clean_title(value: str | None, *, field: str = "title") -> str:
    """A required one-line title of 1 to 64 characters."""
    if value is None:
        raise BadUserInput("The title cannot be null.", field=field)
    cleaned = clean_text(value, field=field, label="title", max_length=TITLE_MAX)
    if not cleaned:
        raise BadUserInput("The title cannot be empty.", field=field)
    return cleaned


def clean_sub_title(value: str | None) -> str:
    return clean_text(value, field="subTitle", label="subtitle", max_length=SUB_TITLE_MAX)


def clean_homestay_info(value: str | None) -> str:
    return clean_text(
        value, field="info", label="description", max_length=HOMESTAY_INFO_MAX, multiline=True
    )


def clean_business_info(value: str | None) -> str:
    return clean_text(
        value, field="info", label="description", max_length=BUSINESS_INFO_MAX, multiline=True
    )


def clean_food_info(value: str | None) -> str:
    return clean_text(
        value, field="foodInfo", label="meal description", max_length=FOOD_INFO_MAX, multiline=True
    )


def clean_tags(tags: list[str] | None) -> str:
    """Tags as stored: comma-separated, so a tag cannot hold a comma. Repeats are dropped."""
    if tags is None:
        return ""
    cleaned: list[str] = []
    for tag in tags:
        text = clean_text(tag, field="tags", label="tag", max_length=TAG_MAX)
        if not text:
            raise BadUserInput("A tag cannot be empty.", field="tags")
        if "," in text:
            raise BadUserInput("A tag cannot contain a comma.", field="tags")
        if text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > TAGS_MAX:
        raise BadUserInput(f"At most {TAGS_MAX} tags.", field="tags")
    return ",".join(cleaned)


def check_people_num(value: int | None) -> int:
    if value is None or not PEOPLE_MIN <= value <= PEOPLE_MAX:
        raise BadUserInput(
            f"A homestay sleeps {PEOPLE_MIN} to {PEOPLE_MAX} people.", field="peopleNum"
        )
    return value


def check_price(value: int | None, *, field: str) -> int:
    """A nightly price in fen: positive, at most PRICE_MAX."""
    if value is None or not 0 < value <= PRICE_MAX:
        raise BadUserInput(f"The price must be between 1 and {PRICE_MAX} fen.", field=field)
    return value


def check_food_price(value: int | None) -> int:
    """A meal's price in fen per person per night: 0 (included) up to PRICE_MAX."""
    if value is None or not 0 <= value <= PRICE_MAX:
        raise BadUserInput(
            f"The meal price must be between 0 and {PRICE_MAX} fen.", field="foodPrice"
        )
    return value


def check_market_price(homestay_price: int, market_price: int, *, field: str) -> None:
    """The "was" price shown crossed out cannot be below the price charged.

    `field` is the one the client changed (either price can break the rule)."""
    if market_price < homestay_price:
        raise BadUserInput("The market price cannot be lower than the homestay price.", field=field)
