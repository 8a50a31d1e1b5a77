"""The payments subgraph's GraphQL surface (API.md, payments section)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from enum import Enum
from typing import Self

import strawberry

from common.auth.live import LiveSessions, while_authenticated
from common.auth.permissions import IsAuthenticated, internal_mutation
from common.context import Info
from common.errors import NotFound
from common.resources import Resources
from common.schema import build_schema
from common.wechat.pay import WeChatPayClient
from subgraphs.payments import ledger, live, service
from subgraphs.payments.models import PayStatus as PayStatusCode
from subgraphs.payments.models import ThirdPayment
from subgraphs.payments.peers import Peers


@strawberry.enum
class PayStatus(Enum):
    WAITING = "WAITING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    REFUNDING = "REFUNDING"
    REFUNDED = "REFUNDED"
    CLOSED = "CLOSED"


@strawberry.federation.type(keys=["sn"])
class Payment:
    sn: strawberry.ID
    order_sn: strawberry.ID
    pay_total: int = strawberry.field(description="In fen.")
    pay_status: PayStatus
    pay_mode: str
    transaction_id: str | None = strawberry.field(description="WeChat's id, once paid.")
    pay_time: datetime | None

    @classmethod
    def of(cls, row: ThirdPayment) -> Self:
        return cls(
            sn=strawberry.ID(row.sn),
            order_sn=strawberry.ID(row.order_sn),
            pay_total=row.pay_total,
            pay_status=PayStatus[PayStatusCode(row.pay_status).name],
            pay_mode=row.pay_mode,
            transaction_id=row.transaction_id,
            pay_time=row.pay_time,
        )

    @strawberry.field(
        description="Money sent back to the payer so far, in fen (from the payment's ledger)."
    )
    async def refund_total(self, info: Info) -> int | None:
        totals = await info.context.loaders.get(_ledger_totals).load(str(self.sn))
        return totals.refunded

    @classmethod
    async def resolve_reference(cls, info: Info, sn: strawberry.ID) -> Payment | None:
        """Only the payer can see a payment, however it is reached."""
        row = await info.context.loaders.get(_payments_by_sn).load(str(sn))
        return await _visible(info, row)


async def _ledger_totals(resources: Resources, sns: Sequence[str]) -> list[ledger.Totals]:
    return await ledger.totals(resources.db, sns)


async def _payments_by_sn(resources: Resources, sns: Sequence[str]) -> list[ThirdPayment | None]:
    return await service.payments_by_sn(resources.db, sns)


async def _visible(info: Info, row: ThirdPayment | None) -> Payment | None:
    if row is None or not await info.context.viewer.is_user(row.user_id):
        return None
    return Payment.of(row)


async def _order_payments(
    resources: Resources, order_sns: Sequence[str]
) -> list[ThirdPayment | None]:
    return await service.order_payments(resources.db, order_sns)


@strawberry.federation.type(keys=["sn"])
class HomestayOrder:
    sn: strawberry.ID

    @strawberry.field(
        description="The order's payment: the one that paid it, else the latest attempt; "
        "only for its payer."
    )
    async def payment(self, info: Info) -> Payment | None:
        row = await info.context.loaders.get(_order_payments).load(str(self.sn))
        return await _visible(info, row)

    @classmethod
    def resolve_reference(cls, sn: strawberry.ID) -> Self:
        return cls(sn=sn)


@strawberry.type(description="What the mini-program passes to wx.requestPayment.")
class WxPayParams:
    app_id: str
    time_stamp: str
    nonce_str: str
    package: str
    sign_type: str
    pay_sign: str
    payment_sn: strawberry.ID


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[IsAuthenticated], description="Yours; null for any other."
    )
    async def payment(self, info: Info, sn: strawberry.ID) -> Payment | None:
        return await Payment.resolve_reference(info, sn)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Your order's payment: the one that paid it, else the latest attempt.",
    )
    async def payment_by_order(self, info: Info, order_sn: strawberry.ID) -> Payment | None:
        row = await service.order_payment(info.context.resources.db, str(order_sn))
        return await _visible(info, row)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Start (or resume) paying your unpaid order with WeChat Pay.",
    )
    async def wx_pay_homestay_order(self, info: Info, order_sn: strawberry.ID) -> WxPayParams:
        resources = info.context.resources
        viewer = info.context.viewer
        user_id = await viewer.require_user_id()
        authorization = viewer.authorization
        assert authorization is not None  # an authenticated viewer came with a credential
        peers = resources.component(Peers)
        started = await service.start_wechat_payment(
            resources.db,
            resources.component(WeChatPayClient),
            user_id=user_id,
            order=await peers.order(str(order_sn), authorization=authorization),
            openid=await peers.payer_openid(authorization=authorization),
            notify_url=resources.settings.wechat_pay_notify_url,
        )
        params = started.params
        return WxPayParams(
            app_id=params.app_id,
            time_stamp=params.time_stamp,
            nonce_str=params.nonce_str,
            package=params.package,
            sign_type=params.sign_type,
            pay_sign=params.pay_sign,
            payment_sn=strawberry.ID(started.payment.sn),
        )

    @internal_mutation(
        description="Internal (orders' close job): settle the order's payment if WeChat took "
        "the money, else close it at WeChat. Idempotent.",
    )
    async def settle_or_close_order_payment(
        self, info: Info, order_sn: strawberry.ID
    ) -> OrderPaymentSettlement:
        resources = info.context.resources
        answer = await service.settle_or_close_order_payment(
            resources.db,
            resources.component(WeChatPayClient),
            resources.settings,
            str(order_sn),
        )
        return OrderPaymentSettlement(
            verdict=answer.verdict.value,
            payment_sn=strawberry.ID(answer.payment_sn) if answer.payment_sn else None,
        )


@strawberry.federation.type(
    inaccessible=True, description="Payments' answer to the close job: PAID or CLOSED."
)
class OrderPaymentSettlement:
    verdict: str
    payment_sn: strawberry.ID | None


@strawberry.type
class Subscription:
    # No permission class: a permission refuses before the stream starts, which the
    # graphql-transport-ws protocol reports as an `error` message, and the router masks
    # that as INTERNAL_SERVER_ERROR. Checked inside the stream, UNAUTHENTICATED arrives
    # as a `next` payload and reaches the client with its code (WebSocket and SSE).
    @strawberry.subscription(
        description="Your order's payment: its current state first, then each change."
    )
    async def payment_status(
        self, info: Info, order_sn: strawberry.ID
    ) -> AsyncGenerator[Payment, None]:
        resources = info.context.resources
        viewer = info.context.viewer
        user_id = await viewer.reauthenticate()
        sessions = resources.component(LiveSessions)
        channels = resources.component(live.StatusChannels)
        async with sessions.hold(user_id) as revoked, channels.wake_ups(str(order_sn)) as wake_ups:
            await viewer.reauthenticate()  # a logout before the listener started is seen here
            row = await service.order_payment(resources.db, str(order_sn))
            if row is None or row.user_id != user_id:
                raise NotFound("This order has no payment of yours; start one first.")
            yield Payment.of(row)
            last_seen = (row.sn, row.version)
            # Ends with UNAUTHENTICATED once the token is revoked (logout) or expires.
            async for _ in while_authenticated(
                wake_ups, revoked, viewer.reauthenticate, every=sessions.recheck_seconds
            ):
                row = await service.order_payment(resources.db, str(order_sn))
                if row is not None and (row.sn, row.version) != last_seen:
                    last_seen = (row.sn, row.version)
                    yield Payment.of(row)


schema = build_schema(
    "payments",
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Payment, HomestayOrder],
)
