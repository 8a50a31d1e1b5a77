"""`looklook_live_subscriptions` (Grafana's live-subscriptions panel) follows the slots held."""

from __future__ import annotations

import pytest

from common.auth.live import LiveSessions
from common.errors import TooManySubscriptions
from common.metrics import LIVE_SUBSCRIPTIONS
from common.settings import Settings


def _live() -> float:
    return float(LIVE_SUBSCRIPTIONS._value.get())


async def test_the_gauge_counts_held_slots_and_refusals_leave_it(settings: Settings) -> None:
    sessions = LiveSessions(settings.model_copy(update={"max_live_subscriptions_per_user": 2}))
    before = _live()
    try:
        async with sessions.hold(1), sessions.hold(1):
            assert _live() == before + 2
            with pytest.raises(TooManySubscriptions):
                async with sessions.hold(1):
                    pass
            assert _live() == before + 2
        assert _live() == before
    finally:
        await sessions.aclose()
