"""Order totals per row type and food (REFERENCE.md rules, per-person fixed)."""

from __future__ import annotations

import pytest

from subgraphs.orders.pricing import compute_prices
from subgraphs.orders.travel import HomestaySnapshot


def _homestay(*, per_person: bool) -> HomestaySnapshot:
    return HomestaySnapshot(
        id=1, title="t", sub_title="", cover="", info="", people_num=4, per_person=per_person,
        on_sale=True, food_info="早餐", food_price=3000, homestay_price=29900,
        market_homestay_price=39900, business_id=1, landlord_id=1,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("per_person", "food", "expected_homestay", "expected_food"),
    [
        (False, False, 29900 * 3, 0),
        (False, True, 29900 * 3, 3000 * 2 * 3),
        (True, False, 29900 * 3 * 2, 0),
        (True, True, 29900 * 3 * 2, 3000 * 2 * 3),
    ],
)
def test_totals(per_person: bool, food: bool, expected_homestay: int, expected_food: int) -> None:
    prices = compute_prices(_homestay(per_person=per_person), nights=3, people=2, need_food=food)
    assert prices.homestay_total == expected_homestay
    assert prices.food_total == expected_food
    assert prices.order_total == expected_homestay + expected_food
