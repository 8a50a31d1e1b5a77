"""China time: stays, check-in days and refund windows are counted in the guests' calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

# China has one time zone and no daylight saving: a fixed offset needs no tz database.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def china_today(now: datetime | None = None) -> date:
    """Today's date in China (at `now`, default the current moment)."""
    return (now or datetime.now(UTC)).astimezone(CHINA).date()
