"""Homestay search: keyword (full text, Chinese included), dates, guests and price, in one
statement.

- Keyword: the search terms of `terms.py`, matched by the database's full-text
  index (MySQL/MariaDB FULLTEXT in boolean mode, SQLite FTS5). Ranked by a small
  integer tier — 1 when the title matches, 0 when only the subtitle or info does —
  then newest first. An integer tier, not the engines' float scores: those differ
  between engines and drift as the catalog grows, so a cursor made of them would
  skip or repeat rows between pages; (tier, id) is exact and stable.
- Dates: only homestays with no held night in [checkIn, checkOut), according to
  the availability read model (`night_hold`, fed by orders; `availability.py`).
- Never cached: every search reads the database, so a date search is exactly as
  fresh as the read model (see the README for the measured lag).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    column,
    exists,
    literal,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.dialects.mysql import match

from common.clock import china_today
from common.db import Database, is_sqlite
from common.errors import BadUserInput
from subgraphs.travel.models import FULLTEXT_TABLE, Homestay, NightHold
from subgraphs.travel.records import HOMESTAY_COLUMNS, HomestayRecord
from subgraphs.travel.service import Ranked, on_sale
from subgraphs.travel.terms import Terms, query_terms

KEYWORD_MAX = 50
MAX_NIGHTS = 30  # as a booking (orders refuses longer stays)
HORIZON_DAYS = 365  # as a booking
MAX_GUESTS = 50
# Stays are dated in China time (no daylight saving), as orders dates them.

_FTS = table(FULLTEXT_TABLE, column("rowid"))


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """A validated search; every filter optional (None), combined with AND."""

    terms: Terms | None = None
    check_in: date | None = None
    check_out: date | None = None
    guests: int | None = None
    min_price: int | None = None
    max_price: int | None = None


def _check_dates(check_in: date | None, check_out: date | None, today: date) -> None:
    if check_in is None and check_out is None:
        return
    if check_in is None:
        raise BadUserInput("Give a check-in date with the check-out date.", field="checkIn")
    if check_out is None:
        raise BadUserInput("Give a check-out date with the check-in date.", field="checkOut")
    if check_in < today:
        raise BadUserInput("Check-in cannot be in the past.", field="checkIn")
    if check_in > today + timedelta(days=HORIZON_DAYS):
        raise BadUserInput(f"Check-in can be at most {HORIZON_DAYS} days ahead.", field="checkIn")
    nights = (check_out - check_in).days
    if nights < 1:
        raise BadUserInput("Check-out must be after check-in.", field="checkOut")
    if nights > MAX_NIGHTS:
        raise BadUserInput(f"A stay can be at most {MAX_NIGHTS} nights.", field="checkOut")


def _check_price(value: int | None, field: str) -> None:
    if value is not None and value < 0:
        raise BadUserInput("A price cannot be negative (fen).", field=field)


def search_filters(
    *,
    keyword: str | None = None,
    check_in: date | None = None,
    check_out: date | None = None,
    guests: int | None = None,
    min_price: int | None = None,
    max_price: int | None = None,
    today: date | None = None,
) -> SearchFilters:
    """Validate a search's arguments; a mistake is BAD_USER_INPUT naming its field."""
    terms = None
    if keyword is not None:
        cleaned = keyword.strip()
        if not cleaned:
            raise BadUserInput("Enter something to search for.", field="keyword")
        if len(cleaned) > KEYWORD_MAX:
            raise BadUserInput(f"Search for at most {KEYWORD_MAX} characters.", field="keyword")
        terms = query_terms(cleaned)
    _check_dates(check_in, check_out, today or china_today())
    if guests is not None and not 1 <= guests <= MAX_GUESTS:
        raise BadUserInput(f"Guests must be between 1 and {MAX_GUESTS}.", field="guests")
    _check_price(min_price, "minPrice")
    _check_price(max_price, "maxPrice")
    if min_price is not None and max_price is not None and min_price > max_price:
        raise BadUserInput("The lowest price cannot exceed the highest.", field="maxPrice")
    return SearchFilters(terms, check_in, check_out, guests, min_price, max_price)


def _matches(terms: Terms, *, title_only: bool, sqlite: bool) -> ColumnElement[bool]:
    """The full-text condition: all terms in the title (`title_only`) or anywhere."""
    if sqlite:
        query = terms.fts5("search_title" if title_only else None)
        hits = select(_FTS.c.rowid).where(literal_column(FULLTEXT_TABLE).op("MATCH")(query))
        return Homestay.id.in_(hits)
    target = (Homestay.search_title if title_only else Homestay.search_text).expression
    return match(target, against=terms.boolean_mode()).in_boolean_mode() > 0


async def search_homestays(
    db: Database, filters: SearchFilters, *, limit: int, after: tuple[int, int] | None
) -> list[Ranked]:
    """One page of matches, best first (title tier, then newest), after the cursor `after`.

    One statement, whatever the page size or the number of filters.
    """
    if filters.terms is not None and not filters.terms:
        return []  # a keyword of punctuation only: nothing can match it
    sqlite = is_sqlite(db.url)
    conditions: list[ColumnElement[bool]] = []
    tier: ColumnElement[Any] = literal(0, Integer)
    if filters.terms:
        conditions.append(_matches(filters.terms, title_only=False, sqlite=sqlite))
        tier = case((_matches(filters.terms, title_only=True, sqlite=sqlite), 1), else_=0)
    if filters.check_in is not None and filters.check_out is not None:
        conditions.append(
            ~exists().where(
                NightHold.homestay_id == Homestay.id,
                NightHold.night >= filters.check_in,
                NightHold.night < filters.check_out,
            )
        )
    if filters.guests is not None:
        conditions.append(Homestay.people_num >= filters.guests)
    if filters.min_price is not None:
        conditions.append(Homestay.homestay_price >= filters.min_price)
    if filters.max_price is not None:
        conditions.append(Homestay.homestay_price <= filters.max_price)
    ranked = on_sale(select(*HOMESTAY_COLUMNS, tier.label("tier"))).where(*conditions).subquery()
    query = select(ranked).order_by(ranked.c.tier.desc(), ranked.c.id.desc()).limit(limit)
    if after is not None:
        query = query.where(
            or_(ranked.c.tier < after[0], and_(ranked.c.tier == after[0], ranked.c.id < after[1]))
        )
    async with db.read() as connection:
        rows = await connection.execute(query)
        return [Ranked(HomestayRecord.from_row(row), (row.tier, row.id)) for row in rows]
