"""What orders needs from travel: a homestay's current snapshot and prices, over HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from common.internal import InternalGraphQLClient
from common.settings import Domain, Settings
from common.tls import internal_client_context

# `homestayForBooking` reads the database, not travel's caches: an order is priced at the
# price and sale state of this moment, never at a cached one.
_HOMESTAY = """query OrderSnapshot($id: ID!) { homestayForBooking(id: $id) {
  id title subTitle banner info peopleNum rowType onSale foodInfo foodPrice homestayPrice
  marketHomestayPrice landlord { id } business { id cancellationPolicy } } }"""


@dataclass(frozen=True)
class HomestaySnapshot:
    id: int
    title: str
    sub_title: str
    cover: str
    info: str
    people_num: int
    per_person: bool
    on_sale: bool
    food_info: str
    food_price: int
    homestay_price: int
    market_homestay_price: int
    business_id: int
    landlord_id: int
    # The business's policy now: the booking keeps it (what the guest agreed to).
    cancellation_policy: str = "FLEXIBLE"


class TravelClient:
    def __init__(self, settings: Settings) -> None:
        self._graphql = InternalGraphQLClient(
            settings.travel_internal_url,
            timeout_seconds=settings.internal_timeout_seconds,
            retries=settings.internal_retries,
            tls=internal_client_context(settings, Domain.ORDERS),
        )

    async def homestay(self, homestay_id: int) -> HomestaySnapshot | None:
        data = (await self._graphql.query(_HOMESTAY, {"id": str(homestay_id)}))[
            "homestayForBooking"
        ]
        if data is None:
            return None
        return HomestaySnapshot(
            id=int(data["id"]),
            title=data["title"],
            sub_title=data["subTitle"] or "",
            cover=(data["banner"] or "").split(",")[0],
            info=data["info"] or "",
            people_num=data["peopleNum"],
            per_person=data["rowType"] == "PER_PERSON",
            on_sale=data["onSale"],
            food_info=data["foodInfo"] or "",
            food_price=data["foodPrice"],
            homestay_price=data["homestayPrice"],
            market_homestay_price=data["marketHomestayPrice"],
            business_id=int(data["business"]["id"]),
            landlord_id=int(data["landlord"]["id"]),
            cancellation_policy=data["business"]["cancellationPolicy"],
        )

    async def aclose(self) -> None:
        await self._graphql.aclose()
