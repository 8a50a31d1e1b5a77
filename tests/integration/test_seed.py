"""`looklook seed` on databases of its own: the demo catalog, complete, consistent, written once."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import String, create_engine, func, select

from common import migrations
from common.db import Database
from common.devrunner import free_port
from common.settings import Domain, Settings
from common.storage.client import public_base_url
from common.storage.sniff import sniff_image_type
from demo.accounts import DEMO_PASSWORD, upsert_people
from demo.catalog import build_catalog
from demo.images import upload_pictures
from demo.seed import SeedReport, catalog_is_empty, seed
from subgraphs.travel import service
from subgraphs.travel.models import (
    ActivityType,
    Base,
    Homestay,
    HomestayActivity,
    HomestayBusiness,
    HomestayComment,
    RowState,
    RowType,
)
from subgraphs.users import validation
from subgraphs.users.models import User, UserAuth
from subgraphs.users.passwords import verify_password

CJK = re.compile(r"[\u4e00-\u9fff]")
MODELS = (Homestay, HomestayActivity, HomestayBusiness, HomestayComment)


@dataclass(frozen=True)
class Seeded:
    settings: Settings
    report: SeedReport


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, backend_env: dict[str, str]) -> Seeded:
    """Fresh users and travel databases (the shared ones hold other tests' rows), seeded once;
    the pictures go to the suite's object store (`backend_env`)."""
    data_dir: Path = tmp_path_factory.mktemp("seed")
    settings = Settings(
        env="test", data_dir=data_dir, users_database_url="", travel_database_url=""
    )
    for domain in (Domain.USERS, Domain.TRAVEL):
        migrations.upgrade(domain, settings.database_url(domain))
    assert catalog_is_empty(settings)
    return Seeded(settings, seed(settings, progress=False))


@pytest.fixture
async def travel(seeded: Seeded) -> AsyncIterator[Database]:
    db = Database(seeded.settings.database_url(Domain.TRAVEL))
    yield db
    await db.dispose()


@pytest.fixture
async def users(seeded: Seeded) -> AsyncIterator[Database]:
    db = Database(seeded.settings.database_url(Domain.USERS))
    yield db
    await db.dispose()


def _counts(settings: Settings) -> dict[str, int]:
    """Rows per table, read synchronously: the seed runs its own event loop next to them."""
    tables = {Domain.TRAVEL: (*MODELS,), Domain.USERS: (User, UserAuth)}
    counts = {}
    for domain, models in tables.items():
        engine = create_engine(migrations.sync_url(settings.database_url(domain)))
        with engine.connect() as connection:
            for model in models:
                query = select(func.count()).select_from(model)
                counts[model.__tablename__] = connection.scalar(query) or 0
        engine.dispose()
    return counts


def test_the_catalog_is_fixed_and_fits_the_columns() -> None:
    catalog = build_catalog()
    assert catalog == build_catalog()
    tables: list[tuple[type[Base], Sequence[object]]] = [
        (HomestayBusiness, catalog.businesses),
        (Homestay, catalog.homestays),
        (HomestayComment, catalog.comments),
    ]
    for model, specs in tables:
        limits = {
            column.name: column.type.length
            for column in model.__table__.columns
            if isinstance(column.type, String) and column.type.length
        }
        for spec in specs:
            for name, limit in limits.items():
                value = getattr(spec, name, None)
                assert value is None or len(value) <= limit, (model, name, value)
    for person in (*catalog.landlords, *catalog.guests):
        assert validation.normalize_mobile(person.mobile) == person.mobile
        assert validation.clean_nickname(person.nickname) == person.nickname
    assert len({h.title for h in catalog.homestays}) == len(catalog.homestays)


def test_the_report_counts_the_demo_data_set(seeded: Seeded) -> None:
    report = seeded.report
    assert not report.skipped
    assert report.landlords >= 30 and report.businesses == report.landlords
    assert (report.homestays, report.comments, report.preferred) == (300, 3000, 40)
    assert report.accounts_created == report.landlords + report.guests


async def test_every_landlord_has_a_business_and_every_homestay_its_landlord(
    travel: Database, users: Database, seeded: Seeded
) -> None:
    public_base = public_base_url(seeded.settings)
    async with travel.session() as session:
        businesses = {b.id: b for b in await session.scalars(select(HomestayBusiness))}
        homestays = list(await session.scalars(select(Homestay)))
    async with users.session() as session:
        user_ids = set(await session.scalars(select(User.id)))
    assert len(businesses) >= 30
    assert len({b.user_id for b in businesses.values()}) == len(businesses)
    assert {b.user_id for b in businesses.values()} <= user_ids
    assert all(CJK.search(b.title) and 1 <= b.star <= 5 for b in businesses.values())
    assert len(homestays) == 300
    for homestay in homestays:
        business = businesses[homestay.homestay_business_id]
        assert homestay.user_id == business.user_id
        assert homestay.row_state == RowState.ON_SALE
        assert CJK.search(homestay.title) and CJK.search(homestay.info), homestay.title
        assert 19_800 <= homestay.homestay_price <= 128_800
        assert homestay.market_homestay_price > homestay.homestay_price
        assert 3_000 <= homestay.food_price <= 8_800
        assert homestay.people_num >= 1
        pictures = homestay.banner.split(",")
        assert len(pictures) == 3 and len(set(pictures)) == 3
        assert all(url.startswith(f"{public_base}/demo/") for url in pictures)
    for business in businesses.values():
        assert business.cover.startswith(f"{public_base}/demo/")
    assert {h.row_type for h in homestays} == {RowType.PER_ROOM, RowType.PER_PERSON}


async def test_homestays_show_real_pictures_from_the_image_bucket(
    seeded: Seeded, travel: Database
) -> None:
    """The demo banners are JPEGs in the bucket, served to anonymous readers."""
    assert seeded.report.pictures == 12
    async with travel.session() as session:
        banner = await session.scalar(select(Homestay.banner).limit(1))
    assert banner is not None
    async with httpx.AsyncClient(timeout=10) as client:
        for url in banner.split(","):
            served = await client.get(url)
            assert served.status_code == 200
            assert served.headers["content-type"] == "image/jpeg"
            assert sniff_image_type(served.content[:16]) == "image/jpeg"


async def test_comments_are_by_real_users_and_newest_last(
    travel: Database, users: Database
) -> None:
    async with travel.session() as session:
        comments = list(await session.scalars(select(HomestayComment).order_by(HomestayComment.id)))
        homestay_ids = set(await session.scalars(select(Homestay.id)))
    async with users.session() as session:
        user_ids = set(await session.scalars(select(User.id)))
    assert len(comments) == 3000
    assert {c.homestay_id for c in comments} == homestay_ids  # every homestay has some
    assert {c.user_id for c in comments} <= user_ids
    assert all(CJK.search(c.content) and 1 <= c.star <= 5 for c in comments)
    times = [c.create_time for c in comments]
    assert times == sorted(times)


async def test_the_preferred_list_has_forty_homestays_in_sort_order(travel: Database) -> None:
    async with travel.session() as session:
        activities = list(
            await session.scalars(select(HomestayActivity).order_by(HomestayActivity.id))
        )
    assert len(activities) == 40
    assert all(a.row_type == ActivityType.PREFERRED_HOMESTAY.value for a in activities)
    sorts = [a.sort for a in activities]
    assert sorts == sorted(sorts) and len(set(sorts)) == 40
    listed = await service.preferred_homestays(travel, limit=100, after=None)
    assert [r.record.id for r in listed] == [a.data_id for a in activities]


def test_a_second_run_creates_nothing(seeded: Seeded) -> None:
    before = _counts(seeded.settings)
    report = seed(seeded.settings, progress=False)
    assert report.skipped and report.homestays == 0 and report.accounts_created == 0
    assert "already there" in str(report)
    assert not catalog_is_empty(seeded.settings)
    assert _counts(seeded.settings) == before


async def test_accounts_are_found_by_mobile_not_created_again(
    seeded: Seeded, users: Database
) -> None:
    """What lets a seed whose travel part failed run again without duplicate accounts."""
    catalog = build_catalog()
    people = catalog.landlords + catalog.guests
    ids, created = await upsert_people(users, people)
    async with users.session() as session:
        rows = await session.execute(select(User.mobile, User.id).where(User.id.in_(ids.values())))
        stored = {mobile: user_id for mobile, user_id in rows}
        password = await session.scalar(select(User.password).where(User.id == min(ids.values())))
    assert created == 0
    assert stored == ids and len(ids) == len(people)
    assert await verify_password(password, DEMO_PASSWORD)  # a developer can log in as them


async def test_without_reachable_storage_the_seed_keeps_placeholders() -> None:
    """Seeding never waits on or fails for a store that is not there."""
    nowhere = Settings(env="test", s3_endpoint_url=f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    assert await upload_pictures(nowhere) is None
    # Refused connections fail at once; a hang would be botocore's 60 s default timeout.
    # The bound is loose: loading the S3 client alone takes seconds on a loaded machine.
    assert time.monotonic() - started < 20
