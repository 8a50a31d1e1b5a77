"""Travel actors: keep the availability read model in step with orders' holds."""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import trace

from common.events import NIGHTS_HELD, NightHolds
from common.settings import Domain
from subgraphs.travel.availability import apply_night_holds
from workers.broker import route_actor
from workers.resources import database

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


@route_actor(NIGHTS_HELD)
async def apply_night_holds_actor(payload: dict[str, Any]) -> None:
    """Sent by orders whenever an order's nights change (booked, cancelled, closed, …)."""
    holds = NightHolds.from_payload(payload)
    with tracer.start_as_current_span(
        NIGHTS_HELD.actor_name,
        attributes={"holder": holds.holder, "homestay.id": holds.homestay_id},
    ):
        applied = await apply_night_holds(database(Domain.TRAVEL), holds)
    logger.info(
        "nights of %s v%d: %s", holds.holder, holds.version, "applied" if applied else "stale"
    )
