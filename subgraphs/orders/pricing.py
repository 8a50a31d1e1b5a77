"""Order totals, computed on the server only (REFERENCE.md rules; the client never sends prices)."""

from __future__ import annotations

from dataclasses import dataclass

from subgraphs.orders.travel import HomestaySnapshot


@dataclass(frozen=True)
class Prices:
    homestay_total: int
    food_total: int

    @property
    def order_total(self) -> int:
        return self.homestay_total + self.food_total


def compute_prices(
    homestay: HomestaySnapshot, *, nights: int, people: int, need_food: bool
) -> Prices:
    """Per-room: price × nights; per-person: × people too. Food: price × people × nights."""
    homestay_total = homestay.homestay_price * nights * (people if homestay.per_person else 1)
    food_total = homestay.food_price * people * nights if need_food else 0
    return Prices(homestay_total=homestay_total, food_total=food_total)
