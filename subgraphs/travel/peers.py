"""What travel asks orders synchronously, as the reviewing guest.

The guest's own Authorization header is forwarded, so orders answers with its
own ownership rule (another user's order is null); travel never reads the
orders database. Travel owns the review (the comment, the homestay's and the
business's totals, the caches to invalidate), so it asks; orders is only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from common.internal import InternalGraphQLClient
from common.settings import Domain, Settings
from common.tls import internal_client_context

_ORDER = """query ReviewedOrder($sn: ID!) {
  homestayOrder(sn: $sn) { sn tradeState homestay { id } } }"""


@dataclass(frozen=True)
class OrderToReview:
    sn: str
    trade_state: str
    homestay_id: int


class OrdersGate(Protocol):
    async def order(self, sn: str, *, authorization: str) -> OrderToReview | None:
        """The order if it is the user's; None for a missing order or another user's."""
        ...


class OrdersClient:
    """The orders subgraph, reached directly (not through the router)."""

    def __init__(self, settings: Settings) -> None:
        self._graphql = InternalGraphQLClient(
            settings.orders_internal_url,
            timeout_seconds=settings.internal_timeout_seconds,
            retries=settings.internal_retries,
            tls=internal_client_context(settings, Domain.TRAVEL),
        )

    async def order(self, sn: str, *, authorization: str) -> OrderToReview | None:
        data = await self._graphql.query(
            _ORDER, {"sn": sn}, headers={"Authorization": authorization}
        )
        order = data["homestayOrder"]
        if order is None:
            return None
        return OrderToReview(
            sn=order["sn"],
            trade_state=order["tradeState"],
            homestay_id=int(order["homestay"]["id"]),
        )

    async def aclose(self) -> None:
        await self._graphql.aclose()
