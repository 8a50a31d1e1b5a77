"""What payments asks other subgraphs synchronously, as the paying user.

The user's own Authorization header is forwarded, so orders answers with its
own ownership rule (another user's order is null) and users reveals the openid
only to its owner; payments never reads their tables. The consistency job's
one write, "this payment took the order's money", is an internal call with the
internal token instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.internal import InternalGraphQLClient, internal_client
from common.settings import Domain, Settings
from common.tls import internal_client_context

_ORDER = """query PayableOrder($sn: ID!) {
  homestayOrder(sn: $sn) { sn title tradeState orderTotalPrice payDeadline } }"""
_OPENID = "query PayerOpenId { me { wxMiniOpenId } }"
_TAKE_PAYMENT = """mutation TakePayment($order: ID!, $payment: ID!) {
  takeOrderPayment(orderSn: $order, paymentSn: $payment) }"""
_STALLED_REFUNDS = """query StalledOrderRefunds($olderThan: Int!, $first: Int!) {
  stalledOrderRefunds(olderThanSeconds: $olderThan, first: $first) {
    orderSn paymentSn amount reason } }"""
_FINISH_REFUND = """mutation FinishOrderRefund($order: ID!, $payment: ID!) {
  finishOrderRefund(orderSn: $order, paymentSn: $payment) }"""


@dataclass(frozen=True)
class OrderToPay:
    sn: str
    title: str
    trade_state: str
    total: int  # fen
    pay_deadline: datetime


@dataclass(frozen=True)
class StalledRefund:
    """An order REFUNDING for too long, and the refund its guest was told of."""

    order_sn: str
    payment_sn: str
    amount: int  # fen
    reason: str  # as WeChat shows it to the payer


class Peers:
    """The orders and users subgraphs, reached directly (not through the router)."""

    def __init__(self, settings: Settings) -> None:
        tls = internal_client_context(settings, Domain.PAYMENTS)

        def client(url: str) -> InternalGraphQLClient:
            return InternalGraphQLClient(
                url,
                timeout_seconds=settings.internal_timeout_seconds,
                retries=settings.internal_retries,
                tls=tls,
            )

        self._orders = client(settings.orders_internal_url)
        self._users = client(settings.users_internal_url)
        self._orders_internal = internal_client(
            settings.orders_internal_url, settings, Domain.PAYMENTS
        )

    async def order(self, sn: str, *, authorization: str) -> OrderToPay | None:
        """The order if it is the user's; None for a missing order or another user's."""
        data = await self._orders.query(
            _ORDER, {"sn": sn}, headers={"Authorization": authorization}
        )
        order = data["homestayOrder"]
        if order is None:
            return None
        return OrderToPay(
            sn=order["sn"],
            title=order["title"],
            trade_state=order["tradeState"],
            total=order["orderTotalPrice"],
            pay_deadline=datetime.fromisoformat(order["payDeadline"]),
        )

    async def payer_openid(self, *, authorization: str) -> str | None:
        """The user's WeChat openid; None for accounts made with a mobile number."""
        data = await self._users.query(_OPENID, {}, headers={"Authorization": authorization})
        me = data["me"]
        return me["wxMiniOpenId"] if me else None

    async def take_payment(self, order_sn: str, payment_sn: str) -> str:
        """Tell orders this payment took the order's money (the consistency job).

        PAID or ALREADY_PAID: the order is paid by it; REJECTED: the money must go back.
        """
        data = await self._orders_internal.query(
            _TAKE_PAYMENT, {"order": order_sn, "payment": payment_sn}
        )
        outcome: str = data["takeOrderPayment"]
        return outcome

    async def stalled_refunds(self, *, older_than_seconds: int, first: int) -> list[StalledRefund]:
        """Orders REFUNDING for longer than `older_than_seconds` (the consistency job)."""
        data = await self._orders_internal.query(
            _STALLED_REFUNDS, {"olderThan": older_than_seconds, "first": first}
        )
        return [
            StalledRefund(
                order_sn=row["orderSn"],
                payment_sn=row["paymentSn"],
                amount=row["amount"],
                reason=row["reason"],
            )
            for row in data["stalledOrderRefunds"]
        ]

    async def finish_refund(self, order_sn: str, payment_sn: str) -> bool:
        """Tell orders the payment that paid the order is refunded (the consistency job)."""
        data = await self._orders_internal.query(
            _FINISH_REFUND, {"order": order_sn, "payment": payment_sn}
        )
        finished: bool = data["finishOrderRefund"]
        return finished

    async def aclose(self) -> None:
        await self._orders.aclose()
        await self._users.aclose()
        await self._orders_internal.aclose()
