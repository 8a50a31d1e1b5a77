"""The travel subgraph's GraphQL surface (API.md, travel section)."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Self

import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet

from common.context import Info
from common.loaders import parse_row_id
from common.pagination import (
    CONNECTION_SIZE,
    DEFAULT_PAGE_SIZE,
    LIST_SIZE,
    Connection,
    build_connection,
    decode_id_cursor,
    decode_int_cursor,
    page_size,
)
from common.schema import build_schema
from subgraphs.travel import models, search, service
from subgraphs.travel.cache import PreferredPage, TopPage, TravelCache
from subgraphs.travel.loaders import (
    BusinessHomestayPage,
    CommentPage,
    business_homestay_pages,
    businesses_by_id,
    comment_pages,
    homestays_by_id,
    load_through,
)
from subgraphs.travel.models import RowType
from subgraphs.travel.records import BusinessRecord, CommentRecord, HomestayRecord


@strawberry.federation.type(keys=[Key(fields=FieldSet("id"), resolvable=False)])
class User:
    """A user of the users subgraph; the router resolves the rest of its fields."""

    id: strawberry.ID

    @classmethod
    def ref(cls, user_id: int) -> User:
        return cls(id=strawberry.ID(str(user_id)))


@strawberry.enum
class HomestayRowType(Enum):
    PER_ROOM = "PER_ROOM"
    PER_PERSON = "PER_PERSON"


# The model's enum is the GraphQL enum (registering returns the same class).
strawberry.enum(
    models.CancellationPolicy,
    description="How much of a paid stay comes back on cancellation (by days before check-in).",
)


@strawberry.type
class HomestayComment:
    id: strawberry.ID
    content: str
    star: float
    created_at: datetime
    user: User

    @classmethod
    def of(cls, record: CommentRecord) -> Self:
        return cls(
            id=strawberry.ID(str(record.id)),
            content=record.content,
            star=record.star,
            created_at=record.created_at,
            user=User.ref(record.user_id),
        )


@strawberry.federation.type(keys=["id"])
class Homestay:
    id: strawberry.ID
    title: str
    sub_title: str | None
    banner: str | None
    info: str | None
    people_num: int
    row_type: HomestayRowType
    food_info: str | None
    food_price: int = strawberry.field(description="Per person per night, in fen.")
    homestay_price: int = strawberry.field(description="Per night (per person if PER_PERSON), fen.")
    market_homestay_price: int
    on_sale: bool
    landlord: User
    _business_id: strawberry.Private[int]

    @classmethod
    def of(cls, record: HomestayRecord) -> Self:
        return cls(
            id=strawberry.ID(str(record.id)),
            title=record.title,
            sub_title=record.sub_title or None,
            banner=record.banner or None,
            info=record.info or None,
            people_num=record.people_num,
            row_type=HomestayRowType[RowType(record.row_type).name],
            food_info=record.food_info or None,
            food_price=record.food_price,
            homestay_price=record.homestay_price,
            market_homestay_price=record.market_homestay_price,
            on_sale=record.on_sale,
            landlord=User.ref(record.landlord_id),
            _business_id=record.business_id,
        )

    @strawberry.field
    async def business(self, info: Info) -> HomestayBusiness:
        cache = _cache(info).businesses
        record = await load_through(info, cache, businesses_by_id, self._business_id)
        if record is None:
            raise LookupError(f"homestay {self.id} points to missing business {self._business_id}")
        return HomestayBusiness.of(record)

    @strawberry.field(description="Newest first.", directives=[CONNECTION_SIZE])
    async def comments(
        self, info: Info, first: int | None = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> Connection[HomestayComment]:
        size = page_size(first)
        page = CommentPage(int(self.id), size + 1, decode_id_cursor(after))
        rows = await load_through(info, _cache(info).comment_pages, comment_pages, page)
        return build_connection(rows or [], size, lambda r: (r.id,), HomestayComment.of)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Self | None:
        """Also a deleted homestay: a past order's reference still resolves (from its row)."""
        row_id = parse_row_id(id)
        if row_id is None:
            return None
        record = await load_through(info, _cache(info).homestays, homestays_by_id, row_id)
        return cls.of(record) if record else None


@strawberry.federation.type(keys=["id"])
class HomestayBusiness:
    id: strawberry.ID
    title: str
    info: str | None
    cover: str | None
    star: float | None
    tags: list[str]
    boss: User
    cancellation_policy: models.CancellationPolicy

    @classmethod
    def of(cls, record: BusinessRecord) -> Self:
        return cls(
            id=strawberry.ID(str(record.id)),
            title=record.title,
            info=record.info or None,
            cover=record.cover or None,
            star=record.star,
            tags=[tag for tag in record.tags.split(",") if tag],
            boss=User.ref(record.boss_id),
            cancellation_policy=models.CancellationPolicy(record.cancellation_policy),
        )

    @strawberry.field(
        description="The landlord's homestays on sale, newest first.", directives=[CONNECTION_SIZE]
    )
    async def homestays(
        self, info: Info, first: int | None = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> Connection[Homestay]:
        size = page_size(first)
        page = BusinessHomestayPage(int(self.id), size + 1, decode_id_cursor(after))
        cache = _cache(info).business_homestays
        rows = await load_through(info, cache, business_homestay_pages, page)
        return build_connection(rows or [], size, lambda r: (r.id,), Homestay.of)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Self | None:
        """Also a deleted business, like `Homestay.resolve_reference`."""
        row_id = parse_row_id(id)
        if row_id is None:
            return None
        record = await load_through(info, _cache(info).businesses, businesses_by_id, row_id)
        return cls.of(record) if record else None


def _cache(info: Info) -> TravelCache:
    return info.context.resources.component(TravelCache)


def _preferred_cursor(after: str | None) -> tuple[int, int] | None:
    key = decode_int_cursor(after, 2)
    return (key[0], key[1]) if key else None


@strawberry.type
class Query:
    @strawberry.field(description="A homestay by id; null if there is none.")
    async def homestay(self, info: Info, id: strawberry.ID) -> Homestay | None:
        record = await info.context.loaders.load_by_id(homestays_by_id, id)
        return Homestay.of(record) if record and not record.deleted else None

    @strawberry.federation.field(
        inaccessible=True,
        description="A homestay as the database has it now, bypassing every cache: "
        "what orders price a booking with. Hidden from the public API.",
    )
    async def homestay_for_booking(self, info: Info, id: strawberry.ID) -> Homestay | None:
        row_id = parse_row_id(id)
        if row_id is None:
            return None
        record = await service.homestay_now(info.context.resources.db, row_id)
        return Homestay.of(record) if record and not record.deleted else None

    @strawberry.field(
        description="为你优选: the curated list, in its configured order.",
        directives=[CONNECTION_SIZE],
    )
    async def preferred_homestays(
        self, info: Info, first: int | None = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> Connection[Homestay]:
        size = page_size(first)
        rows = await _cache(info).preferred.get(PreferredPage(size + 1, _preferred_cursor(after)))
        return build_connection(rows or [], size, lambda r: r.key, lambda r: Homestay.of(r.record))

    @strawberry.field(description="猜你喜欢: homestays the guest may like.", directives=[LIST_SIZE])
    async def guess_homestays(
        self, info: Info, first: int | None = DEFAULT_PAGE_SIZE
    ) -> list[Homestay]:
        rows = await _cache(info).latest.get(TopPage(page_size(first)))
        return [Homestay.of(row) for row in rows or []]

    @strawberry.field(directives=[CONNECTION_SIZE])
    async def homestay_businesses(
        self, info: Info, first: int | None = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> Connection[HomestayBusiness]:
        size = page_size(first)
        rows = await service.businesses(
            info.context.resources.db, limit=size + 1, before_id=decode_id_cursor(after)
        )
        return build_connection(rows, size, lambda r: (r.id,), HomestayBusiness.of)

    @strawberry.field(description="A landlord's business by id; null if there is none.")
    async def homestay_business(self, info: Info, id: strawberry.ID) -> HomestayBusiness | None:
        record = await info.context.loaders.load_by_id(businesses_by_id, id)
        return HomestayBusiness.of(record) if record and not record.deleted else None

    @strawberry.field(description="最佳房东: the best-rated landlords.", directives=[LIST_SIZE])
    async def good_bosses(
        self, info: Info, first: int | None = DEFAULT_PAGE_SIZE
    ) -> list[HomestayBusiness]:
        rows = await _cache(info).best_businesses.get(TopPage(page_size(first)))
        return [HomestayBusiness.of(row) for row in rows or []]

    @strawberry.field(
        description="On-sale homestays matching every filter given. With a keyword (full "
        "text, Chinese included) best match first — title matches before subtitle or info "
        "matches — else newest first. checkIn/checkOut (together): only homestays free on "
        "every night of the stay; guests: at most peopleNum; minPrice/maxPrice: "
        "homestayPrice in fen.",
        directives=[CONNECTION_SIZE],
    )
    async def search_homestays(
        self,
        info: Info,
        keyword: str | None = None,
        check_in: date | None = None,
        check_out: date | None = None,
        guests: int | None = None,
        min_price: int | None = None,
        max_price: int | None = None,
        first: int | None = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> Connection[Homestay]:
        size = page_size(first)
        filters = search.search_filters(
            keyword=keyword,
            check_in=check_in,
            check_out=check_out,
            guests=guests,
            min_price=min_price,
            max_price=max_price,
        )
        key = decode_int_cursor(after, 2)
        rows = await search.search_homestays(
            info.context.resources.db,
            filters,
            limit=size + 1,
            after=(key[0], key[1]) if key else None,
        )
        return build_connection(rows, size, lambda r: r.key, lambda r: Homestay.of(r.record))


schema = build_schema("travel", query=Query, types=[Homestay, HomestayBusiness, User])
