"""The orders subgraph's GraphQL surface (API.md, orders section)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from typing import Self

import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet

from common import ratelimit
from common.auth.permissions import IsAuthenticated, IsInternalCaller
from common.context import Info
from common.errors import BadUserInput, Forbidden
from common.loaders import parse_row_id
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
from subgraphs.orders import refunds, service
from subgraphs.orders.models import HomestayOrder as OrderRow
from subgraphs.orders.models import TradeState
from subgraphs.orders.travel import TravelClient


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


@strawberry.federation.type(keys=[Key(fields=FieldSet("id"), resolvable=False)])
class Homestay:
    id: strawberry.ID


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
    trade_code: str | None = strawberry.field(description="Check-in code, once paid.")
    remark: str | None
    created_at: datetime
    pay_deadline: datetime
    homestay: Homestay
    user: User
    refund_amount: int | None = strawberry.field(
        description="The refund asked for (fen), once the guest asked for one."
    )
    refund_reason: str | None
    _row: strawberry.Private[OrderRow]

    @strawberry.field(
        description="What a refund asked for now gives back (fen), by the cancellation policy "
        "the guest booked under and whole days (China time) to check-in; 0 unless WAIT_USE."
    )
    def refundable_amount(self) -> int:
        return refunds.refundable_amount(self._row, service.china_today())

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
            trade_code=row.trade_code,
            remark=row.remark or None,
            created_at=row.create_time,
            pay_deadline=row.pay_deadline,
            homestay=Homestay(id=strawberry.ID(str(row.homestay_id))),
            user=User(id=strawberry.ID(str(row.user_id))),
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


async def _orders_by_sn(resources: Resources, sns: Sequence[str]) -> list[OrderRow | None]:
    return await service.orders_by_sn(resources.db, sns)


async def _orders_page(
    info: Info,
    user_id: int,
    trade_state: OrderTradeState | None,
    first: int | None,
    after: str | None,
) -> Connection[HomestayOrder]:
    size = page_size(first)
    rows = await service.list_orders(
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
            today=service.china_today(),
        )
        return HomestayOrder.of(row)

    @strawberry.federation.mutation(
        inaccessible=True,
        permission_classes=[IsInternalCaller],
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


schema = build_schema(
    "orders", query=Query, mutation=Mutation, types=[HomestayOrder, User, Homestay]
)
