"""`looklook seed`: write the demo catalog into an empty travel database, once.

Landlords and guests go to the users database first, looked up by mobile, so
an interrupted seed can simply be run again. The catalog itself (businesses,
homestays, comments, the preferred list) is one transaction in the travel
database: it is there completely or not at all, and a travel database that
already has homestays is left alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.db import Database
from common.models import utcnow
from common.settings import Domain, Settings
from demo.accounts import DEMO_PASSWORD, upsert_people
from demo.catalog import Catalog, CommentSpec, build_catalog
from demo.images import upload_pictures, with_pictures
from demo.progress import Progress
from subgraphs.travel import reviews
from subgraphs.travel.models import (
    ActivityType,
    Homestay,
    HomestayActivity,
    HomestayBusiness,
    HomestayComment,
    RowState,
)

_BATCH = 500  # rows per bulk insert: few round trips, and a progress bar that moves
_SORT_STEP = 10  # gaps in the preferred list's sort order leave room to slot an entry in


class SeedRefused(RuntimeError):
    """Demo accounts share a published password; they must never reach production."""


@dataclass(frozen=True)
class SeedReport:
    """What a seed run did; the catalog counts are zero when it skipped."""

    skipped: bool
    landlords: int = 0
    guests: int = 0
    accounts_created: int = 0
    businesses: int = 0
    homestays: int = 0
    comments: int = 0
    preferred: int = 0
    pictures: int = 0  # demo pictures uploaded to the image bucket (0: placeholders kept)
    seconds: float = 0.0

    def __str__(self) -> str:
        if self.skipped:
            return "demo catalog already there (the travel database has homestays); created nothing"
        return (
            f"demo catalog created in {self.seconds:.1f}s: {self.businesses} businesses of "
            f"{self.landlords} landlords, {self.homestays} homestays, {self.comments} comments "
            f"by {self.guests} guests, {self.preferred} preferred homestays, "
            f"{self.pictures or 'no'} pictures uploaded; "
            f"{self.accounts_created} new accounts (password {DEMO_PASSWORD!r})"
        )


async def _has_homestays(session: AsyncSession, *, lock: bool = False) -> bool:
    """Any homestay row at all, soft-deleted ones included: then the catalog is not ours to fill.

    With `lock`, MySQL also locks the (empty) index range, so a second seed running
    at the same moment waits or deadlocks instead of inserting a second catalog;
    SQLite's write transaction already excludes other writers.
    """
    query = select(Homestay.id).limit(1)
    return await session.scalar(query.with_for_update() if lock else query) is not None


async def _catalog_is_empty(settings: Settings) -> bool:
    db = Database(settings.database_url(Domain.TRAVEL))
    try:
        async with db.session() as session:
            return not await _has_homestays(session)
    finally:
        await db.dispose()


def catalog_is_empty(settings: Settings) -> bool:
    """True when the travel database has no homestays yet: a first start, so seed it."""
    return asyncio.run(_catalog_is_empty(settings))


async def _insert_in_batches(
    session: AsyncSession,
    model: type[HomestayComment | HomestayActivity],
    rows: Sequence[Mapping[str, Any]],
    progress: Progress,
) -> None:
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        await session.execute(insert(model), batch)
        progress.advance(len(batch), model.__tablename__)


def _comment_row(
    spec: CommentSpec, *, homestay_id: int, user_id: int, now: datetime
) -> dict[str, Any]:
    """A comment dated back by its age, so the catalog reads like a year of stays."""
    written = now - timedelta(minutes=spec.age_minutes)
    return {
        "homestay_id": homestay_id,
        "user_id": user_id,
        "content": spec.content,
        "star": spec.star,
        "create_time": written,
        "update_time": written,
    }


async def _write_catalog(
    db: Database, catalog: Catalog, user_ids: Mapping[str, int], progress: Progress
) -> bool:
    """The travel rows in one transaction; False (and nothing written) if homestays exist."""
    now = utcnow()
    async with db.write_session() as session:
        if await _has_homestays(session, lock=True):
            return False
        businesses = [
            HomestayBusiness(
                title=spec.title,
                user_id=user_ids[catalog.landlords[spec.landlord].mobile],
                info=spec.info,
                boss_info=spec.boss_info,
                license_front=spec.license_front,
                license_back=spec.license_back,
                row_state=RowState.ON_SALE,
                star=spec.star,
                tags=spec.tags,
                cover=spec.cover,
                header_img=spec.header_img,
            )
            for spec in catalog.businesses
        ]
        session.add_all(businesses)
        await session.flush()  # ids for the homestays to point at
        progress.advance(len(businesses), HomestayBusiness.__tablename__)
        homestays = [
            Homestay(
                title=spec.title,
                sub_title=spec.sub_title,
                banner=spec.banner,
                info=spec.info,
                people_num=spec.people_num,
                homestay_business_id=businesses[spec.business].id,
                user_id=businesses[spec.business].user_id,
                row_state=RowState.ON_SALE,
                row_type=spec.row_type,
                food_info=spec.food_info,
                food_price=spec.food_price,
                homestay_price=spec.homestay_price,
                market_homestay_price=spec.market_homestay_price,
            )
            for spec in catalog.homestays
        ]
        session.add_all(homestays)
        await session.flush()
        progress.advance(len(homestays), Homestay.__tablename__)
        comments = [
            _comment_row(
                spec,
                homestay_id=homestays[spec.homestay].id,
                user_id=user_ids[catalog.guests[spec.guest].mobile],
                now=now,
            )
            for spec in catalog.comments
        ]
        await _insert_in_batches(session, HomestayComment, comments, progress)
        await reviews.recount(session)  # ratings, comment counts and stars from the comments
        activities = [
            {
                "row_type": ActivityType.PREFERRED_HOMESTAY.value,
                "data_id": homestays[index].id,
                "row_status": 1,
                "sort": position * _SORT_STEP,
            }
            for position, index in enumerate(catalog.preferred, start=1)
        ]
        await _insert_in_batches(session, HomestayActivity, activities, progress)
    return True


async def _seed(settings: Settings, *, progress: bool) -> SeedReport:
    started = time.perf_counter()
    users_db = Database(settings.database_url(Domain.USERS))
    travel_db = Database(settings.database_url(Domain.TRAVEL))
    try:
        async with travel_db.session() as session:
            if await _has_homestays(session):
                return SeedReport(skipped=True)
        catalog = build_catalog()
        pictures = await upload_pictures(settings)
        if pictures:
            catalog = with_pictures(catalog, pictures)
        people = catalog.landlords + catalog.guests
        total = (
            len(people)
            + len(catalog.businesses)
            + len(catalog.homestays)
            + len(catalog.comments)
            + len(catalog.preferred)
        )
        with Progress(total, enabled=progress) as bar:
            user_ids, created = await upsert_people(users_db, people)
            bar.advance(len(people), "user")
            if not await _write_catalog(travel_db, catalog, user_ids, bar):
                return SeedReport(skipped=True, accounts_created=created)
        return SeedReport(
            skipped=False,
            landlords=len(catalog.landlords),
            guests=len(catalog.guests),
            accounts_created=created,
            businesses=len(catalog.businesses),
            homestays=len(catalog.homestays),
            comments=len(catalog.comments),
            preferred=len(catalog.preferred),
            pictures=len(pictures or ()),
            seconds=time.perf_counter() - started,
        )
    finally:
        await users_db.dispose()
        await travel_db.dispose()


def seed(settings: Settings, *, progress: bool = True) -> SeedReport:
    """Fill an empty catalog with the demo data set; a no-op when homestays already exist.

    The users and travel databases must be migrated. Synchronous (it runs its own
    event loop) because its callers are the CLI, `looklook dev` and the benchmark.
    """
    if settings.is_production:
        raise SeedRefused("refusing to seed demo data in production (ENV=production)")
    return asyncio.run(_seed(settings, progress=progress))
