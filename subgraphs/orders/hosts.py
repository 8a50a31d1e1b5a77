"""The landlord's side of bookings: who may manage a homestay's nights, and check-in.

Orders owns no catalogue: whether the viewer is a homestay's landlord is travel's
answer (`homestayForBooking`, read from travel's database, never a cache). An order
keeps the landlord it was booked with (`homestay_user_id`), so the landlord's orders
and check-ins need no call to travel.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from common.db import Database
from common.errors import Conflict, DomainError, ErrorCode, Forbidden, NotFound
from subgraphs.orders import service
from subgraphs.orders.models import HomestayOrder, TradeState
from subgraphs.orders.travel import TravelClient

# Check-in codes are `common.ids.make_check_in_code`'s: upper-case letters and digits.
_CODE_MAX = 16


class CheckInNotOpen(DomainError):
    code = ErrorCode.CHECK_IN_NOT_OPEN
    default_message = "This stay has not begun yet: the code can be redeemed from check-in day."


async def require_landlord(travel: TravelClient, homestay_id: int, user_id: int) -> None:
    """Refuse unless the user is the homestay's landlord (NOT_FOUND with no homestay)."""
    homestay = await travel.homestay(homestay_id)
    if homestay is None:
        raise NotFound("No such homestay.")
    if homestay.landlord_id != user_id:
        raise Forbidden("Only the homestay's landlord can change its calendar.")


def _normalise(code: str) -> str | None:
    """The code as issued, or None when it cannot be one (so no lookup is made)."""
    code = code.strip().upper()
    if not code or len(code) > _CODE_MAX or not (code.isascii() and code.isalnum()):
        return None
    return code


async def _order_with_code(db: Database, landlord_id: int, code: str) -> HomestayOrder | None:
    """The landlord's order with this code; an unused one first should two ever share it."""
    async with db.session() as session:
        rows = list(
            await session.scalars(
                select(HomestayOrder).where(
                    HomestayOrder.trade_code == code,
                    HomestayOrder.homestay_user_id == landlord_id,
                    HomestayOrder.del_state == 0,
                )
            )
        )
    rows.sort(key=lambda row: row.trade_state != TradeState.WAIT_USE)
    return rows[0] if rows else None


async def redeem_check_in_code(
    db: Database, *, landlord_id: int, code: str, today: date
) -> HomestayOrder:
    """The landlord enters the guest's code at arrival: the paid stay becomes USED.

    Only the landlord the order was booked with can redeem it: another landlord's
    code is as unknown as a wrong one (NOT_FOUND), so codes cannot be probed across
    homestays. Before check-in day (China time) nothing changes (CHECK_IN_NOT_OPEN);
    an order no longer WAIT_USE, or one a concurrent redeem just used, is CONFLICT.
    """
    normalised = _normalise(code)
    order = await _order_with_code(db, landlord_id, normalised) if normalised else None
    if order is None:
        raise NotFound("No stay with this check-in code.")
    if order.trade_state == TradeState.USED:
        raise Conflict("This check-in code has already been used.")
    if order.trade_state != TradeState.WAIT_USE:
        raise Conflict("This order can no longer be checked in.")
    if today < order.live_start_date:
        raise CheckInNotOpen(checkInDate=order.live_start_date.isoformat())
    if not await service.check_in(db, order.sn):
        raise Conflict("This check-in code has already been used.")
    checked_in = await service.get_order(db, order.sn)
    assert checked_in is not None
    return checked_in
