"""The travel subgraph's GraphQL surface (API.md, travel section)."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated, Self

import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet
from strawberry.types.unset import UnsetType

from common.auth.permissions import IsAuthenticated
from common.context import Info
from common.errors import NotFound
from common.loaders import parse_row_id
from common.maybe import MaybeAwaitable, then
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
from common.patch import KEEP, Patch, given
from common.schema import build_schema
from common.storage.client import ObjectStorage
from common.storage.images import claim_given
from common.storage.keys import ImagePurpose
from subgraphs.travel import management, models, reviews, search, service
from subgraphs.travel.cache import PreferredPage, TopPage, TravelCache
from subgraphs.travel.loaders import (
    BusinessHomestayPage,
    CommentPage,
    business_homestay_pages,
    businesses_by_id,
    comment_pages,
    homestays_by_id,
)
from subgraphs.travel.models import RowType
from subgraphs.travel.peers import OrdersClient
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
    rating: float | None = strawberry.field(
        description="The mean star of its reviews (two decimals); null without reviews."
    )
    comment_count: int = strawberry.field(description="How many reviews it has.")
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
            rating=reviews.rating(record.star_total, record.comment_count),
            comment_count=record.comment_count,
            _business_id=record.business_id,
        )

    # The fields below answer at once from this process's cache (common.maybe).
    @strawberry.field(graphql_type=Annotated["HomestayBusiness", strawberry.lazy(__name__)])
    def business(self, info: Info) -> MaybeAwaitable[HomestayBusiness]:
        cache = _cache(info).businesses
        found = info.context.loaders.cached_or_load(cache, businesses_by_id, self._business_id)
        return then(found, self._business_of)

    def _business_of(self, record: BusinessRecord | None) -> HomestayBusiness:
        if record is None:
            raise LookupError(f"homestay {self.id} points to missing business {self._business_id}")
        return HomestayBusiness.of(record)

    @strawberry.field(
        description="Newest first.",
        directives=[CONNECTION_SIZE],
        graphql_type=Connection[HomestayComment],
    )
    def comments(
        self, info: Info, first: int | None = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> MaybeAwaitable[Connection[HomestayComment]]:
        size = page_size(first)
        page = CommentPage(int(self.id), size + 1, decode_id_cursor(after))
        found = info.context.loaders.cached_or_load(_cache(info).comment_pages, comment_pages, page)
        return then(
            found, lambda rows: build_connection(rows or [], size, _id_key, HomestayComment.of)
        )

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> MaybeAwaitable[Self | None]:
        """Also a deleted homestay: a past order's reference still resolves (from its row)."""
        row_id = parse_row_id(id)
        if row_id is None:
            return None
        found = info.context.loaders.cached_or_load(_cache(info).homestays, homestays_by_id, row_id)
        return then(found, lambda record: cls.of(record) if record else None)


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
        description="The landlord's homestays on sale, newest first.",
        directives=[CONNECTION_SIZE],
        graphql_type=Connection[Homestay],
    )
    def homestays(
        self, info: Info, first: int | None = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> MaybeAwaitable[Connection[Homestay]]:
        size = page_size(first)
        page = BusinessHomestayPage(int(self.id), size + 1, decode_id_cursor(after))
        cache = _cache(info).business_homestays
        found = info.context.loaders.cached_or_load(cache, business_homestay_pages, page)
        return then(found, lambda rows: build_connection(rows or [], size, _id_key, Homestay.of))

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> MaybeAwaitable[Self | None]:
        """Also a deleted business, like `Homestay.resolve_reference`."""
        row_id = parse_row_id(id)
        if row_id is None:
            return None
        cache = _cache(info).businesses
        found = info.context.loaders.cached_or_load(cache, businesses_by_id, row_id)
        return then(found, lambda record: cls.of(record) if record else None)


def _cache(info: Info) -> TravelCache:
    return info.context.resources.component(TravelCache)


def _id_key(record: CommentRecord | HomestayRecord) -> tuple[int]:
    return (record.id,)


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
        graphql_type=Connection[Homestay],
    )
    def preferred_homestays(
        self, info: Info, first: int | None = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> MaybeAwaitable[Connection[Homestay]]:
        size = page_size(first)
        found = _cache(info).preferred.at_hand(PreferredPage(size + 1, _preferred_cursor(after)))
        return then(
            found,
            lambda rows: build_connection(
                rows or [], size, lambda r: r.key, lambda r: Homestay.of(r.record)
            ),
        )

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

    @strawberry.field(description="The viewer's own business; null if none (or anonymous).")
    async def my_homestay_business(self, info: Info) -> HomestayBusiness | None:
        landlord_id = await info.context.viewer.user_id()
        if landlord_id is None:
            return None
        record = await service.business_of_landlord(info.context.resources.db, landlord_id)
        return HomestayBusiness.of(record) if record else None

    @strawberry.field(
        description="The viewer's homestays, on sale or not, newest first; empty without "
        "a business.",
        directives=[CONNECTION_SIZE],
        permission_classes=[IsAuthenticated],
    )
    async def my_homestays(
        self, info: Info, first: int | None = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> Connection[Homestay]:
        landlord_id = await info.context.viewer.require_user_id()
        db = info.context.resources.db
        business = await service.business_of_landlord(db, landlord_id)
        size = page_size(first)
        rows = (
            await service.all_homestays_of_business(
                db, business.id, limit=size + 1, before_id=decode_id_cursor(after)
            )
            if business
            else []
        )
        return build_connection(rows, size, lambda r: (r.id,), Homestay.of)

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


_COVER_KEY = "An uploaded image's key (createImageUpload with BUSINESS_COVER): the cover."
_BANNER_KEY = "An uploaded image's key (createImageUpload with HOMESTAY_BANNER): the banner."


async def _image(
    info: Info, key: str | UnsetType | None, owner_id: int, purpose: ImagePurpose, field: str
) -> Patch[str | None]:
    """An image field of an input: left out, removed (null), or an upload checked now."""
    return await claim_given(
        info.context.resources.component(ObjectStorage),
        given(key),
        owner_id=owner_id,
        purpose=purpose,
        field=field,
    )


@strawberry.input(description="A new homestay business; one per landlord.")
class HomestayBusinessInput:
    title: str = strawberry.field(description="1 to 64 characters.")
    info: str | None = None
    tags: list[str] | None = strawberry.field(
        default=None, description="At most 10, each 1 to 16 characters without a comma."
    )
    cancellation_policy: models.CancellationPolicy | None = strawberry.field(
        default=None, description="FLEXIBLE when not given."
    )
    cover_key: str | None = strawberry.field(default=None, description=_COVER_KEY)


@strawberry.input(
    description="Only the fields given change; null clears info or tags (title and "
    "cancellationPolicy cannot be null)."
)
class UpdateHomestayBusinessInput:
    title: str | None = strawberry.UNSET
    info: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    cancellation_policy: models.CancellationPolicy | None = strawberry.UNSET
    cover_key: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"{_COVER_KEY} null removes the cover."
    )


@strawberry.input(description="A new homestay; prices in fen, per night.")
class HomestayInput:
    title: str = strawberry.field(description="1 to 64 characters.")
    sub_title: str | None = strawberry.field(default=None, description="At most 128 characters.")
    info: str | None = strawberry.field(default=None, description="At most 2000 characters.")
    people_num: int = strawberry.field(description="1 to 50.")
    row_type: HomestayRowType
    food_info: str | None = None
    food_price: int = strawberry.field(description="Per person per night; 0 or more.")
    homestay_price: int = strawberry.field(description="More than 0, at most 10,000,000.")
    market_homestay_price: int = strawberry.field(description="At least homestayPrice.")
    banner_key: str | None = strawberry.field(default=None, description=_BANNER_KEY)


@strawberry.input(
    description="Only the fields given change; null clears subTitle, info or foodInfo "
    "(the other fields cannot be null)."
)
class UpdateHomestayInput:
    title: str | None = strawberry.UNSET
    sub_title: str | None = strawberry.UNSET
    info: str | None = strawberry.UNSET
    people_num: int | None = strawberry.UNSET
    row_type: HomestayRowType | None = strawberry.UNSET
    food_info: str | None = strawberry.UNSET
    food_price: int | None = strawberry.UNSET
    homestay_price: int | None = strawberry.UNSET
    market_homestay_price: int | None = strawberry.UNSET
    banner_key: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"{_BANNER_KEY} null removes the banner."
    )


def _row_type(value: HomestayRowType | None) -> RowType | None:
    return None if value is None else RowType[value.name]


def _homestay_id(id: strawberry.ID) -> int:
    row_id = parse_row_id(id)
    if row_id is None:
        raise NotFound("No such homestay.")
    return row_id


@strawberry.input
class ReviewInput:
    star: int = strawberry.field(description="1 to 5.")
    content: str = strawberry.field(description="1 to 500 characters (trimmed).")


@strawberry.type
class Mutation:
    """The landlord's catalogue, and guests' reviews. Who may change what is decided in the
    service (`management`, `reviews`), in the transaction of the change: only a business's
    own landlord changes it or its homestays; only an order's guest reviews the stay."""

    @strawberry.mutation(
        description="Open the viewer's homestay business: one per user (CONFLICT on a second).",
        permission_classes=[IsAuthenticated],
    )
    async def open_homestay_business(
        self, info: Info, input: HomestayBusinessInput
    ) -> HomestayBusiness:
        landlord_id = await info.context.viewer.require_user_id()
        cover = await _image(
            info, input.cover_key, landlord_id, ImagePurpose.BUSINESS_COVER, "coverKey"
        )
        fields = management.BusinessFields(
            title=input.title,
            info=input.info,
            tags=input.tags,
            cancellation_policy=input.cancellation_policy,
            cover=None if cover is KEEP else cover,
        )
        record = await management.open_business(
            info.context.resources.db, _cache(info), landlord_id, fields
        )
        return HomestayBusiness.of(record)

    @strawberry.mutation(
        description="Change the viewer's own business.", permission_classes=[IsAuthenticated]
    )
    async def update_homestay_business(
        self, info: Info, input: UpdateHomestayBusinessInput
    ) -> HomestayBusiness:
        landlord_id = await info.context.viewer.require_user_id()
        changes = management.BusinessChanges(
            title=given(input.title),
            info=given(input.info),
            tags=given(input.tags),
            cancellation_policy=given(input.cancellation_policy),
            cover=await _image(
                info, input.cover_key, landlord_id, ImagePurpose.BUSINESS_COVER, "coverKey"
            ),
        )
        record = await management.update_business(
            info.context.resources.db, _cache(info), landlord_id, changes
        )
        return HomestayBusiness.of(record)

    @strawberry.mutation(
        description="A new homestay in the viewer's business; off sale until put on sale.",
        permission_classes=[IsAuthenticated],
    )
    async def create_homestay(self, info: Info, input: HomestayInput) -> Homestay:
        landlord_id = await info.context.viewer.require_user_id()
        banner = await _image(
            info, input.banner_key, landlord_id, ImagePurpose.HOMESTAY_BANNER, "bannerKey"
        )
        fields = management.HomestayFields(
            title=input.title,
            sub_title=input.sub_title,
            info=input.info,
            people_num=input.people_num,
            row_type=RowType[input.row_type.name],
            food_info=input.food_info,
            food_price=input.food_price,
            homestay_price=input.homestay_price,
            market_homestay_price=input.market_homestay_price,
            banner=None if banner is KEEP else banner,
        )
        record = await management.create_homestay(
            info.context.resources.db, _cache(info), landlord_id, fields
        )
        return Homestay.of(record)

    @strawberry.mutation(
        description="Change one of the viewer's homestays: only the fields given.",
        permission_classes=[IsAuthenticated],
    )
    async def update_homestay(
        self, info: Info, id: strawberry.ID, input: UpdateHomestayInput
    ) -> Homestay:
        landlord_id = await info.context.viewer.require_user_id()
        row_type = given(input.row_type)
        changes = management.HomestayChanges(
            title=given(input.title),
            sub_title=given(input.sub_title),
            info=given(input.info),
            people_num=given(input.people_num),
            row_type=row_type if row_type is KEEP else _row_type(row_type),
            food_info=given(input.food_info),
            food_price=given(input.food_price),
            homestay_price=given(input.homestay_price),
            market_homestay_price=given(input.market_homestay_price),
            banner=await _image(
                info, input.banner_key, landlord_id, ImagePurpose.HOMESTAY_BANNER, "bannerKey"
            ),
        )
        record = await management.change_homestay(
            info.context.resources.db,
            _cache(info),
            _homestay_id(id),
            changes,
            landlord_id=landlord_id,
        )
        return Homestay.of(record)

    @strawberry.mutation(
        description="Put one of the viewer's homestays on sale (listed, bookable) or off sale.",
        permission_classes=[IsAuthenticated],
    )
    async def set_homestay_on_sale(self, info: Info, id: strawberry.ID, on_sale: bool) -> Homestay:
        landlord_id = await info.context.viewer.require_user_id()
        record = await management.change_homestay(
            info.context.resources.db,
            _cache(info),
            _homestay_id(id),
            management.HomestayChanges(on_sale=on_sale),
            landlord_id=landlord_id,
        )
        return Homestay.of(record)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="The guest of a USED order reviews the stay, once per order; it is at "
        "once the newest of the homestay's comments and counted in its rating.",
    )
    async def review_homestay_order(
        self, info: Info, sn: strawberry.ID, input: ReviewInput
    ) -> HomestayComment:
        resources = info.context.resources
        viewer = info.context.viewer
        user_id = await viewer.require_user_id()
        authorization = viewer.authorization
        assert authorization is not None  # an authenticated viewer came with a credential
        record = await reviews.review_order(
            resources.db,
            _cache(info),
            resources.component(OrdersClient),
            user_id=user_id,
            authorization=authorization,
            sn=str(sn),
            star=input.star,
            content=input.content,
        )
        return HomestayComment.of(record)


schema = build_schema(
    "travel", query=Query, mutation=Mutation, types=[Homestay, HomestayBusiness, User]
)
