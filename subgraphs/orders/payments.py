"""What orders asks payments before an overdue order is cancelled, over HTTP.

Orders never reads the payments database: its close job asks payments to
settle the order's payment if WeChat took the money, or else close it at
WeChat, and acts on the answer (`service.close_if_unpaid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from common.internal import internal_client
from common.settings import Domain, Settings

_SETTLE_OR_CLOSE = """mutation SettleOrClose($sn: ID!) {
  settleOrCloseOrderPayment(orderSn: $sn) { verdict paymentSn } }"""


@dataclass(frozen=True)
class PaymentVerdict:
    """`paid_by` is the payment that took the money; None: nothing was or can be paid."""

    paid_by: str | None


class PaymentsGate(Protocol):
    async def settle_or_close(self, order_sn: str) -> PaymentVerdict:
        """Raises when payments (or WeChat behind it) cannot answer now."""
        ...


class PaymentsClient:
    """The payments subgraph, reached directly with the internal token."""

    def __init__(self, settings: Settings) -> None:
        self._graphql = internal_client(settings.payments_internal_url, settings, Domain.ORDERS)

    async def settle_or_close(self, order_sn: str) -> PaymentVerdict:
        data = await self._graphql.query(_SETTLE_OR_CLOSE, {"sn": order_sn})
        answer = data["settleOrCloseOrderPayment"]
        if answer["verdict"] == "PAID":
            return PaymentVerdict(paid_by=str(answer["paymentSn"]))
        if answer["verdict"] == "CLOSED":
            return PaymentVerdict(paid_by=None)
        raise ValueError(f"unexpected verdict {answer['verdict']!r} for order {order_sn}")

    async def aclose(self) -> None:
        await self._graphql.aclose()
