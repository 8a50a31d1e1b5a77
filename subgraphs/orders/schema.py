"""The orders subgraph's GraphQL surface (API.md, orders section)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Annotated, Protocol, Self

import strawberry

from common import ratelimit
from common.auth.permissions import IsAuthenticated, internal_field, internal_mutation
from common.clock import china_today
from common.context import Info
from common.db import Database
from common.errors import BadUserInput, Forbidden
from common.loaders import parse_row_id
from common.models import utcnow
from common.pagination import (
    CONNECTION_SIZE,
    DEFAULT_PAGE_SIZE,
    Connection,
    build_connection,
    decode_id_cursor,
    page_size,
)
from common.resources import Resources
from common.schema import build_schema
from subgraphs.orders import calendar, hosts, refunds, service
from subgraphs.orders.models import HomestayOrder as OrderRow
from subgraphs.orders.models import TradeState
from subgraphs.orders.travel import TravelClient

# At most this many stalled refunds per consistency run (the next run takes the rest).
STALLED_REFUNDS_PAGE = 200


@strawberry.enum
class OrderTradeState(Enum):
    WAIT_PAY = "WAIT_PAY"
    CANCELLED = "CANCELLED"
    WAIT_USE = "WAIT_USE"
    USED = "USED"
    REFUNDING = "REFUNDING"
    REFUNDED = "REFUNDED"

    def to_state(self) -> TradeState:
        return TradeState[self.name]


@strawberry.type
class HomestayCalendarDay:
    date: date
    available: bool = strawberry.field(
        description="Bookable: not in the past, not held by an order, not blocked."
    )
    blocked: bool = strawberry.field(description="Closed by the landlord.")

    @classmethod
    def of(cls, day: calendar.CalendarDay) -> Self:
        return cls(date=day.night, available=day.available, blocked=day.blocked)


From = Annotated[date, strawberry.argument(name="from")]


async def _calendars(
    resources: Resources, ranges: Sequence[calendar.NightRange]
) -> list[list[calendar.CalendarDay]]:
    return await calendar.calendars(resources.db, ranges, today=china_today())


@strawberry.federation.type(keys=["id"])
class Homestay:
    id: strawberry.ID

    @strawberry.field(
        description="One entry per night in [from, to), at most 92: the homestay's bookable, "
        "booked and blocked nights (dates of stay are China dates)."
    )
    async def calendar(self, info: Info, from_: From, to: date) -> list[HomestayCalendarDay]:
        calendar.check_range(from_, to)
        homestay_id = parse_row_id(str(self.id))
        if homestay_id is None:
            return []
        key = calendar.NightRange(homestay_id, from_, to)
        days = await info.context.loaders.get(_calendars).load(key)
        return [HomestayCalendarDay.of(day) for day in days]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Self:
        return cls(id=id)


@strawberry.federation.type(keys=["sn"])
class HomestayOrder:
    sn: strawberry.ID
    title: str
    cover: str | None
    live_start_date: date
    live_end_date: date
    live_people_num: int
    need_food: bool
    homestay_total_price: int
    food_total_price: int
    order_total_price: int
    trade_state: OrderTradeState
    remark: str | None
    created_at: datetime
    pay_deadline: datetime
    homestay: Homestay
    user: User
    refund_amount: int | None = strawberry.field(
        description="The refund asked for (fen), once the guest asked for one."
    )
    refund_reason: str | None
    _trade_code: strawberry.Private[str | None]
    _guest_id: strawberry.Private[int]
    _row: strawberry.Private[OrderRow]

    @strawberry.field(
        description="Check-in code, once paid; only for the order's guest (null for the host, "
        "who receives it from the guest at arrival)."
    )
    async def trade_code(self, info: Info) -> str | None:
        if self._trade_code is None or not await info.context.viewer.is_user(self._guest_id):
            return None
        return self._trade_code

    @strawberry.field(
        description="What a refund asked for now gives back (fen), by the cancellation policy "
        "the guest booked under and whole days (China time) to check-in; 0 unless WAIT_USE."
    )
    def refundable_amount(self) -> int:
        return refunds.refundable_amount(self._row, china_today())

    @classmethod
    def of(cls, row: OrderRow) -> Self:
        return cls(
            sn=strawberry.ID(row.sn),
            title=row.title,
            cover=row.cover or None,
            live_start_date=row.live_start_date,
            live_end_date=row.live_end_date,
            live_people_num=row.live_people_num,
            need_food=row.need_food,
            homestay_total_price=row.homestay_total_price,
            food_total_price=row.food_total_price,
            order_total_price=row.order_total_price,
            trade_state=OrderTradeState[TradeState(row.trade_state).name],
            remark=row.remark or None,
            created_at=row.create_time,
            pay_deadline=row.pay_deadline,
            homestay=Homestay(id=strawberry.ID(str(row.homestay_id))),
            user=User(id=strawberry.ID(str(row.user_id))),
            _trade_code=row.trade_code,
            _guest_id=row.user_id,
            refund_amount=row.refund_amount,
            refund_reason=row.refund_reason,
            _row=row,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, sn: strawberry.ID) -> Self | None:
        """Only the owner can see an order, however it is reached."""
        # Load before asking who is asking: every reference of the request then joins
        # one batch, instead of those resuming after the token check forming another.
        row = await info.context.loaders.get(_orders_by_sn).load(str(sn))
        if row is None or not await info.context.viewer.is_user(row.user_id):
            return None
        return cls.of(row)


class OrderLister(Protocol):
    """`service.list_orders` (a guest's orders) or `service.list_host_orders` (a host's)."""

    async def __call__(
        self,
        db: Database,
        owner_id: int,
        /,
        *,
        trade_state: TradeState | None,
        limit: int,
        before_id: int | None,
    ) -> list[OrderRow]: ...


async def _orders_by_sn(resources: Resources, sns: Sequence[str]) -> list[OrderRow | None]:
    return await service.orders_by_sn(resources.db, sns)


async def _orders_page(
    info: Info,
    user_id: int,
    trade_state: OrderTradeState | None,
    first: int | None,
    after: str | None,
    *,
    lister: OrderLister = service.list_orders,
) -> Connection[HomestayOrder]:
    size = page_size(first)
    rows = await lister(
        info.context.resources.db,
        user_id,
        trade_state=trade_state.to_state() if trade_state else None,
        limit=size + 1,
        before_id=decode_id_cursor(after),
    )
    return build_connection(rows, size, lambda r: (r.id,), HomestayOrder.of)


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID

    @strawberry.field(
        description="The user's orders, newest first; only for the user themself.",
        directives=[CONNECTION_SIZE],
    )
    async def homestay_orders(
        self,
        info: Info,
        trade_state: OrderTradeState | None = None,
        first: int | None = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> Connection[HomestayOrder]:
        viewer = await info.context.viewer.require_user_id()
        if str(viewer) != str(self.id):
            raise Forbidden("You can only see your own orders.")
        return await _orders_page(info, viewer, trade_state, first, after)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Self:
        return cls(id=id)


@strawberry.input
class CreateHomestayOrderInput:
    homestay_id: strawberry.ID
    live_start_date: date
    live_end_date: date
    live_people_num: int
    need_food: bool = False
    remark: str = ""


@strawberry.federation.type(
    inaccessible=True,
    description="An order REFUNDING for longer than a refund takes (payments' consistency job).",
)
class StalledOrderRefund:
    order_sn: strawberry.ID
    payment_sn: strawberry.ID
    amount: int = strawberry.field(description="Fen, as the guest was told.")
    reason: str = strawberry.field(description="As WeChat shows it to the payer.")

    @classmethod
    def of(cls, row: OrderRow) -> Self:
        assert row.payment_sn is not None and row.refund_amount is not None
        return cls(
            order_sn=strawberry.ID(row.sn),
            payment_sn=strawberry.ID(row.payment_sn),
            amount=row.refund_amount,
            reason=refunds.wechat_reason(row.refund_reason),
        )


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Newest first.",
        directives=[CONNECTION_SIZE],
    )
    async def my_homestay_orders(
        self,
        info: Info,
        trade_state: OrderTradeState | None = None,
        first: int | None = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> Connection[HomestayOrder]:
        user_id = await info.context.viewer.require_user_id()
        return await _orders_page(info, user_id, trade_state, first, after)

    @strawberry.field(
        permission_classes=[IsAuthenticated], description="Your order; null for any other."
    )
    async def homestay_order(self, info: Info, sn: strawberry.ID) -> HomestayOrder | None:
        return await HomestayOrder.resolve_reference(info, sn)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Orders of the viewer's homestays (as their landlord), newest first. "
        "The host sees the guest and the stay, never the check-in code.",
        directives=[CONNECTION_SIZE],
    )
    async def host_homestay_orders(
        self,
        info: Info,
        trade_state: OrderTradeState | None = None,
        first: int | None = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> Connection[HomestayOrder]:
        landlord_id = await info.context.viewer.require_user_id()
        return await _orders_page(
            info, landlord_id, trade_state, first, after, lister=service.list_host_orders
        )

    @internal_field(
        description="Internal (payments' consistency job): orders REFUNDING since more "
        "than `olderThanSeconds` ago, oldest first.",
    )
    async def stalled_order_refunds(
        self, info: Info, older_than_seconds: int, first: int = STALLED_REFUNDS_PAGE
    ) -> list[StalledOrderRefund]:
        if older_than_seconds < 0 or not 0 < first <= STALLED_REFUNDS_PAGE:
            raise BadUserInput(
                f"olderThanSeconds ≥ 0 and first in 1..{STALLED_REFUNDS_PAGE}, please."
            )
        rows = await refunds.stalled_refunds(
            info.context.resources.db,
            updated_before=utcnow() - timedelta(seconds=older_than_seconds),
            limit=first,
        )
        return [StalledOrderRefund.of(row) for row in rows]


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def create_homestay_order(
        self, info: Info, input: CreateHomestayOrderInput
    ) -> HomestayOrder:
        homestay_id = parse_row_id(str(input.homestay_id))
        if homestay_id is None:
            raise BadUserInput("Unknown homestay id.", field="homestayId")
        resources = info.context.resources
        settings = resources.settings
        user_id = await info.context.viewer.require_user_id()
        await ratelimit.hit(
            resources.redis,
            ratelimit.Limit(
                "order-create-user", settings.order_attempts_per_user, settings.order_window_seconds
            ),
            str(user_id),
        )
        row = await service.create_order(
            resources.db,
            resources.component(TravelClient),
            user_id=user_id,
            request=service.BookingRequest(
                homestay_id=homestay_id,
                live_start_date=input.live_start_date,
                live_end_date=input.live_end_date,
                live_people_num=input.live_people_num,
                need_food=input.need_food,
                remark=input.remark,
            ),
            pay_timeout_seconds=settings.order_pay_timeout,
            rules=service.BookingRules(
                max_unpaid_orders=settings.max_unpaid_orders_per_user,
                horizon_days=settings.booking_horizon_days,
            ),
        )
        return HomestayOrder.of(row)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def cancel_homestay_order(self, info: Info, sn: strawberry.ID) -> HomestayOrder:
        row = await service.cancel_order(
            info.context.resources.db,
            user_id=await info.context.viewer.require_user_id(),
            sn=str(sn),
        )
        return HomestayOrder.of(row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Close the nights [from, to) to bookings (landlord only): all of them, or "
        "none with HOMESTAY_UNAVAILABLE when an order holds any.",
    )
    async def block_homestay_nights(
        self, info: Info, homestay_id: strawberry.ID, from_: From, to: date
    ) -> list[HomestayCalendarDay]:
        nights = await _landlords_nights(info, homestay_id, from_, to)
        await calendar.block_nights(
            info.context.resources.db, nights, landlord_id=await _viewer_id(info)
        )
        return await _calendar_of(info, nights)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Open the landlord's blocked nights in [from, to) again (landlord only); "
        "booked nights stay booked.",
    )
    async def unblock_homestay_nights(
        self, info: Info, homestay_id: strawberry.ID, from_: From, to: date
    ) -> list[HomestayCalendarDay]:
        nights = await _landlords_nights(info, homestay_id, from_, to)
        await calendar.unblock_nights(info.context.resources.db, nights)
        return await _calendar_of(info, nights)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="The landlord enters the guest's check-in code at arrival: WAIT_USE → "
        "USED. From check-in day on (else CHECK_IN_NOT_OPEN); unknown or another "
        "landlord's code: NOT_FOUND; already used: CONFLICT.",
    )
    async def redeem_check_in_code(self, info: Info, code: str) -> HomestayOrder:
        resources = info.context.resources
        settings = resources.settings
        landlord_id = await _viewer_id(info)
        await ratelimit.hit(
            resources.redis,
            ratelimit.Limit(
                "check-in-landlord",
                settings.check_in_attempts_per_landlord,
                settings.check_in_window_seconds,
            ),
            str(landlord_id),
        )
        row = await hosts.redeem_check_in_code(
            resources.db, landlord_id=landlord_id, code=code, today=china_today()
        )
        return HomestayOrder.of(row)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="The guest asks for their money back (a paid, unused order): the order "
        "becomes REFUNDING at once (its nights are free again), then REFUNDED when WeChat Pay "
        "has returned `refundableAmount`. NOT_REFUNDABLE when the policy gives nothing back.",
    )
    async def request_homestay_order_refund(
        self, info: Info, sn: strawberry.ID, reason: str | None = None
    ) -> HomestayOrder:
        row = await refunds.request_refund(
            info.context.resources.db,
            user_id=await info.context.viewer.require_user_id(),
            sn=str(sn),
            reason=reason,
            today=china_today(),
        )
        return HomestayOrder.of(row)

    @internal_mutation(
        description="Internal (payments' consistency job): this payment took the order's "
        "money. Answers PAID, ALREADY_PAID or REJECTED (the payment must be refunded).",
    )
    async def take_order_payment(
        self, info: Info, order_sn: strawberry.ID, payment_sn: strawberry.ID
    ) -> str:
        outcome = await service.take_payment(
            info.context.resources.db, str(order_sn), str(payment_sn)
        )
        return outcome.name

    @internal_mutation(
        description="Internal (payments' consistency job): WeChat refunded this payment, "
        "which paid the order: REFUNDING → REFUNDED. False if that changed nothing.",
    )
    async def finish_order_refund(
        self, info: Info, order_sn: strawberry.ID, payment_sn: strawberry.ID
    ) -> bool:
        return await refunds.finish_refund(
            info.context.resources.db, str(order_sn), str(payment_sn)
        )


async def _viewer_id(info: Info) -> int:
    return await info.context.viewer.require_user_id()


async def _landlords_nights(
    info: Info, homestay_id: strawberry.ID, start: date, end: date
) -> calendar.NightRange:
    """The nights a block or unblock changes, once the input is valid and the viewer is
    the homestay's landlord."""
    row_id = parse_row_id(str(homestay_id))
    if row_id is None:
        raise BadUserInput("Unknown homestay id.", field="homestayId")
    resources = info.context.resources
    calendar.check_changeable(
        start,
        end,
        today=china_today(),
        horizon_days=resources.settings.booking_horizon_days,
    )
    await hosts.require_landlord(resources.component(TravelClient), row_id, await _viewer_id(info))
    return calendar.NightRange(row_id, start, end)


async def _calendar_of(info: Info, nights: calendar.NightRange) -> list[HomestayCalendarDay]:
    [days] = await calendar.calendars(info.context.resources.db, [nights], today=china_today())
    return [HomestayCalendarDay.of(day) for day in days]


schema = build_schema(
    "orders", query=Query, mutation=Mutation, types=[HomestayOrder, User, Homestay]
)
