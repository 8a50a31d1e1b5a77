"""The cancellation policy table (API.md, "Refunds"), at its edges."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from common.errors import BadUserInput
from subgraphs.orders.models import HomestayOrder, TradeState
from subgraphs.orders.refunds import (
    CancellationPolicy,
    clean_reason,
    policy_of,
    refund_percent,
    refundable_amount,
)

TODAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    ("policy", "days", "percent"),
    [
        (CancellationPolicy.FLEXIBLE, 30, 100),
        (CancellationPolicy.FLEXIBLE, 7, 100),
        (CancellationPolicy.FLEXIBLE, 1, 100),
        (CancellationPolicy.FLEXIBLE, 0, 0),
        (CancellationPolicy.MODERATE, 7, 100),
        (CancellationPolicy.MODERATE, 6, 50),
        (CancellationPolicy.MODERATE, 1, 50),
        (CancellationPolicy.MODERATE, 0, 0),
        (CancellationPolicy.STRICT, 7, 50),
        (CancellationPolicy.STRICT, 6, 0),
        (CancellationPolicy.STRICT, 0, 0),
        (CancellationPolicy.FLEXIBLE, -2, 0),  # during the stay
    ],
)
def test_percent_by_whole_days_before_check_in(
    policy: CancellationPolicy, days: int, percent: int
) -> None:
    assert refund_percent(policy, TODAY + timedelta(days=days), TODAY) == percent


def _order(state: TradeState, policy: str | None, total: int = 29901) -> HomestayOrder:
    return HomestayOrder(
        trade_state=state,
        cancellation_policy=policy,
        order_total_price=total,
        live_start_date=TODAY + timedelta(days=3),
    )


def test_the_amount_is_rounded_down_to_the_fen_and_only_for_paid_unused_orders() -> None:
    assert refundable_amount(_order(TradeState.WAIT_USE, "MODERATE"), TODAY) == 14950
    for state in (TradeState.WAIT_PAY, TradeState.USED, TradeState.REFUNDING, TradeState.REFUNDED):
        assert refundable_amount(_order(state, "FLEXIBLE"), TODAY) == 0


def test_orders_from_before_policies_are_flexible() -> None:
    assert policy_of(None) is CancellationPolicy.FLEXIBLE
    assert policy_of("SOMETHING_ELSE") is CancellationPolicy.FLEXIBLE
    assert refundable_amount(_order(TradeState.WAIT_USE, None), TODAY) == 29901


def test_the_reason_is_trimmed_and_bounded() -> None:
    assert clean_reason("  行程有变 ") == "行程有变"
    assert clean_reason("   ") is None
    with pytest.raises(BadUserInput):
        clean_reason("长" * 81)
