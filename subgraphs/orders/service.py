"""Booking domain logic: create, cancel, list, and the state changes background jobs make."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import china_today
from common.db import Database, is_retryable
from common.errors import BadUserInput, DomainError, ErrorCode, NotFound
from common.events import (
    CLOSE_UNPAID_ORDER,
    NOTIFY_PAYMENT_SUCCESS,
    ORDER_CANCELLED,
    REFUND_PAYMENT,
    OrderPaid,
    PaymentStatusChanged,
    send,
)
from common.ids import SnPrefix, make_check_in_code, make_sn
from common.lookups import live_row, live_rows
from common.models import utcnow
from subgraphs.orders.availability import publish_order_nights
from subgraphs.orders.models import HomestayNight, HomestayOrder, OutboxMessage, TradeState
from subgraphs.orders.payments import PaymentsGate
from subgraphs.orders.pricing import compute_prices
from subgraphs.orders.travel import TravelClient

MAX_NIGHTS = 30
REMARK_MAX = 255
# Stays are dated in China time (no daylight saving).
logger = logging.getLogger(__name__)
# States in which an order holds its nights (a refund frees them when it is asked for).
HOLDING = (TradeState.WAIT_PAY, TradeState.WAIT_USE, TradeState.USED)


class HomestayUnavailable(DomainError):
    code = ErrorCode.HOMESTAY_UNAVAILABLE
    default_message = "This homestay cannot be booked for these dates."


class TooManyUnpaidOrders(DomainError):
    code = ErrorCode.TOO_MANY_UNPAID_ORDERS
    default_message = "You have too many unpaid orders; pay or cancel one first."


class _SlotTaken(Exception):
    """A concurrent booking of the same user took the unpaid slot this one tried."""


class InvalidTransition(DomainError):
    code = ErrorCode.CONFLICT
    default_message = "The order is no longer in a state that allows this."


@dataclass(frozen=True)
class BookingRules:
    """Fairness: how many unpaid orders a user may hold, how far ahead a stay may start."""

    max_unpaid_orders: int = 3
    horizon_days: int = 365


@dataclass(frozen=True)
class BookingRequest:
    homestay_id: int
    live_start_date: date
    live_end_date: date
    live_people_num: int
    need_food: bool
    remark: str


def _check_dates(request: BookingRequest, today: date, horizon_days: int) -> int:
    if request.live_start_date < today:
        raise BadUserInput("The stay cannot start in the past.", field="liveStartDate")
    if request.live_start_date > today + timedelta(days=horizon_days):
        raise BadUserInput(
            f"Stays can be booked at most {horizon_days} days ahead.", field="liveStartDate"
        )
    nights = (request.live_end_date - request.live_start_date).days
    if nights < 1:
        raise BadUserInput("Check-out must be after check-in.", field="liveEndDate")
    if nights > MAX_NIGHTS:
        raise BadUserInput(f"A stay can be at most {MAX_NIGHTS} nights.", field="liveEndDate")
    return nights


def _nights(start: date, count: int) -> list[date]:
    return [start + timedelta(days=n) for n in range(count)]


async def create_order(
    db: Database,
    travel: TravelClient,
    *,
    user_id: int,
    request: BookingRequest,
    pay_timeout_seconds: int,
    rules: BookingRules,
) -> HomestayOrder:
    """Book nights: either the order, its nights and its close-job all commit, or nothing does.

    The new order takes a free unpaid slot of its user (see `_book_in_free_slot`),
    so no user holds more than `rules.max_unpaid_orders` unpaid orders, however
    many bookings they send at once.
    """
    nights = _check_dates(request, china_today(), rules.horizon_days)
    if request.live_people_num < 1:
        raise BadUserInput("At least one guest.", field="livePeopleNum")
    if len(request.remark) > REMARK_MAX:
        raise BadUserInput(f"The remark can be at most {REMARK_MAX} characters.", field="remark")
    homestay = await travel.homestay(request.homestay_id)
    if homestay is None:
        raise NotFound("No such homestay.")
    if not homestay.on_sale:
        raise HomestayUnavailable("This homestay is not open for booking.")
    if request.live_people_num > homestay.people_num:
        raise BadUserInput(
            f"This homestay sleeps at most {homestay.people_num}.", field="livePeopleNum"
        )
    prices = compute_prices(
        homestay, nights=nights, people=request.live_people_num, need_food=request.need_food
    )
    values = dict(
        sn=make_sn(SnPrefix.HOMESTAY_ORDER),
        user_id=user_id,
        homestay_id=homestay.id,
        title=homestay.title,
        sub_title=homestay.sub_title,
        cover=homestay.cover,
        info=homestay.info,
        people_num=homestay.people_num,
        row_type=1 if homestay.per_person else 0,
        food_info=homestay.food_info,
        food_price=homestay.food_price,
        homestay_price=homestay.homestay_price,
        market_homestay_price=homestay.market_homestay_price,
        homestay_business_id=homestay.business_id,
        homestay_user_id=homestay.landlord_id,
        live_start_date=request.live_start_date,
        live_end_date=request.live_end_date,
        live_people_num=request.live_people_num,
        need_food=request.need_food,
        remark=request.remark.strip(),
        trade_state=TradeState.WAIT_PAY,
        pay_deadline=utcnow() + timedelta(seconds=pay_timeout_seconds),
        homestay_total_price=prices.homestay_total,
        food_total_price=prices.food_total,
        order_total_price=prices.order_total,
        cancellation_policy=homestay.cancellation_policy,
    )
    return await _book_in_free_slot(db, values, nights, pay_timeout_seconds, rules)


async def _book_in_free_slot(
    db: Database,
    values: dict[str, Any],
    nights: int,
    pay_timeout_seconds: int,
    rules: BookingRules,
) -> HomestayOrder:
    """Insert the order into a free unpaid slot of its user, or refuse.

    Not check-then-insert: the (user_id, unpaid_slot) unique key decides between
    concurrent bookings. On SQLite the write transaction (BEGIN IMMEDIATE) already
    serialises them; on MariaDB two may pick the same slot, the loser's insert
    fails on the key and it looks again in a new transaction. Each round one
    booking wins, so the loop ends within `max_unpaid_orders` rounds (plus a few
    deadlock retries on MariaDB).
    """
    deadlocks = 0
    for _ in range(rules.max_unpaid_orders + 3):
        try:
            return await _insert_booking(db, values, nights, pay_timeout_seconds, rules)
        except _SlotTaken:
            continue
        except IntegrityError as error:
            raise HomestayUnavailable("Some of these nights are already booked.") from error
        except DBAPIError as error:  # a deadlock between concurrent bookings: try again
            deadlocks += 1
            if deadlocks == 3 or not is_retryable(error):
                raise
    raise TooManyUnpaidOrders(limit=rules.max_unpaid_orders)


async def _insert_booking(
    db: Database,
    values: dict[str, Any],
    nights: int,
    pay_timeout_seconds: int,
    rules: BookingRules,
) -> HomestayOrder:
    """Order, its nights and its close-job in one transaction; the unique keys decide:
    the order's (user, unpaid slot) first, then the nights'."""
    async with db.write_session() as session:
        used = set(
            await session.scalars(
                select(HomestayOrder.unpaid_slot).where(
                    HomestayOrder.user_id == values["user_id"],
                    HomestayOrder.unpaid_slot.is_not(None),
                )
            )
        )
        free = [slot for slot in range(rules.max_unpaid_orders) if slot not in used]
        if not free:
            raise TooManyUnpaidOrders(
                f"You already have {rules.max_unpaid_orders} unpaid orders; "
                "pay or cancel one first.",
                limit=rules.max_unpaid_orders,
            )
        order = HomestayOrder(**values, unpaid_slot=free[0])
        session.add(order)
        try:
            await session.flush()
        except IntegrityError as error:
            raise _SlotTaken() from error
        session.add_all(
            HomestayNight(homestay_id=order.homestay_id, night=night, order_id=order.id)
            for night in _nights(order.live_start_date, nights)
        )
        await session.flush()
        await publish_order_nights(session, order.id)
        send(
            session, OutboxMessage, CLOSE_UNPAID_ORDER, order.sn, delay_seconds=pay_timeout_seconds
        )
    return order


async def _transition(
    db: Database,
    sn: str,
    source: Sequence[TradeState],
    target: TradeState,
    *,
    user_id: int | None = None,
    release_nights: bool = False,
    on_change: Callable[[AsyncSession], None] | None = None,
    **values: object,
) -> bool:
    """Move an order between states with a conditional update; False if it was not in `source`.

    `on_change` stages what must happen with the change (outbox messages) in
    the same transaction.
    """
    async with db.write_session() as session:
        query = (
            update(HomestayOrder)
            .where(HomestayOrder.sn == sn, HomestayOrder.trade_state.in_(source))
            .values(
                trade_state=target,
                version=HomestayOrder.version + 1,
                update_time=utcnow(),
                # Leaving WAIT_PAY frees the user's unpaid slot.
                unpaid_slot=None,
                **values,
            )
        )
        if user_id is not None:
            query = query.where(HomestayOrder.user_id == user_id)
        result = cast(CursorResult[Any], await session.execute(query))
        changed = result.rowcount == 1
        if changed and release_nights:
            order_id = await session.scalar(select(HomestayOrder.id).where(HomestayOrder.sn == sn))
            assert order_id is not None
            await session.execute(delete(HomestayNight).where(HomestayNight.order_id == order_id))
            await publish_order_nights(session, order_id)
        if changed and on_change is not None:
            on_change(session)
        return changed


def _cancellation(sn: str) -> Callable[[AsyncSession], None]:
    """A cancelled order's waiting WeChat order must be closed, so nobody pays for it later."""

    def stage(session: AsyncSession) -> None:
        send(session, OutboxMessage, ORDER_CANCELLED, sn)

    return stage


async def get_order(db: Database, sn: str) -> HomestayOrder | None:
    return await live_row(db, HomestayOrder, HomestayOrder.sn, sn)


async def orders_by_sn(db: Database, sns: Sequence[str]) -> list[HomestayOrder | None]:
    """The orders with these serial numbers, in their order (DataLoader batch)."""
    return await live_rows(db, HomestayOrder, HomestayOrder.sn, sns)


async def get_own_order(db: Database, user_id: int, sn: str) -> HomestayOrder | None:
    """The order if it belongs to the user; another user's order is as good as missing."""
    order = await get_order(db, sn)
    return order if order is not None and order.user_id == user_id else None


async def cancel_order(db: Database, *, user_id: int, sn: str) -> HomestayOrder:
    """The owner cancels an unpaid order; its nights become free at once."""
    if await get_own_order(db, user_id, sn) is None:
        raise NotFound("No such order.")
    if not await _transition(
        db,
        sn,
        [TradeState.WAIT_PAY],
        TradeState.CANCELLED,
        user_id=user_id,
        release_nights=True,
        on_change=_cancellation(sn),
    ):
        raise InvalidTransition("Only an unpaid order can be cancelled.")
    order = await get_order(db, sn)
    assert order is not None
    return order


class CloseOutcome(StrEnum):
    """What the pay-timeout job did to an order."""

    CANCELLED = "cancelled"  # WeChat agrees nothing was paid: cancelled, nights freed
    PAID = "paid"  # WeChat took the money in time: the order is paid, not cancelled
    NOTHING = "nothing to do"  # not due, not unpaid any more, or no such order


async def close_if_unpaid(db: Database, payments: PaymentsGate, sn: str) -> CloseOutcome:
    """The pay-timeout job: cancel if still unpaid — unpaid as WeChat has it. Idempotent.

    Payments is asked first, before the order is cancelled and its nights freed:
    a payment WeChat took (even one whose notification was lost) pays the order
    instead; only once WeChat agrees nothing was paid (and nothing can be) is it
    cancelled. When payments or WeChat cannot answer, this raises and the order
    stays WAIT_PAY: the job runs again (a retry, the sweeper), never cancelling blind.
    """
    async with db.session() as session:
        row = (
            await session.execute(
                select(HomestayOrder.pay_deadline, HomestayOrder.trade_state).where(
                    HomestayOrder.sn == sn
                )
            )
        ).first()
    if row is None or row.trade_state != TradeState.WAIT_PAY or row.pay_deadline > utcnow():
        return CloseOutcome.NOTHING
    verdict = await payments.settle_or_close(sn)
    if verdict.paid_by is not None:
        outcome = await take_payment(db, sn, verdict.paid_by)
        logger.warning("order %s was paid in time by %s: %s", sn, verdict.paid_by, outcome)
        return CloseOutcome.PAID if outcome is PaymentOutcome.PAID else CloseOutcome.NOTHING
    cancelled = await _transition(
        db,
        sn,
        [TradeState.WAIT_PAY],
        TradeState.CANCELLED,
        release_nights=True,
        on_change=_cancellation(sn),
    )
    return CloseOutcome.CANCELLED if cancelled else CloseOutcome.NOTHING


class PaymentOutcome(StrEnum):
    """What a payment-status event did to its order."""

    PAID = "paid"
    ALREADY_PAID = "already paid"  # a replay of the event that paid it
    REJECTED = "rejected"  # the order cannot take this money (cancelled, paid by another)
    REFUND_REQUESTED = "refund requested"  # rejected, and the refund request is staged
    REFUNDED = "refunded"  # the order's own refund was confirmed: the order is REFUNDED
    IGNORED = "ignored"  # nothing for the order to do


async def take_payment(
    db: Database, order_sn: str, payment_sn: str, *, payer: PaymentStatusChanged | None = None
) -> PaymentOutcome:
    """A payment took the order's money: the order becomes WAIT_USE with a check-in code.

    PAID, ALREADY_PAID (by this very payment: a replay), or REJECTED when the
    order cannot take it (cancelled, missing, or paid by another payment); the
    caller sends rejected money back. Safe to run any number of times.

    With `payer` (the payment's broadcast), the payer's success message with the
    check-in code is staged with the change; on ALREADY_PAID too, since the order may
    have been paid by the close job's answer from WeChat before the broadcast came
    (the notification actor sends each payment's message once).
    """
    trade_code = make_check_in_code()
    if await _transition(
        db,
        order_sn,
        [TradeState.WAIT_PAY],
        TradeState.WAIT_USE,
        trade_code=trade_code,
        payment_sn=payment_sn,
        on_change=_announce_paid(payer, trade_code) if payer else None,
    ):
        return PaymentOutcome.PAID
    order = await get_order(db, order_sn)
    if order is not None and order.payment_sn == payment_sn:
        if payer is not None and order.trade_code:
            async with db.write_session() as session:
                _announce_paid(payer, order.trade_code)(session)
        return PaymentOutcome.ALREADY_PAID
    logger.warning(
        "payment %s arrived for order %s in state %s: it cannot take it",
        payment_sn,
        order_sn,
        TradeState(order.trade_state).name if order else "missing",
    )
    return PaymentOutcome.REJECTED


async def apply_payment_status(db: Database, event: PaymentStatusChanged) -> PaymentOutcome:
    """A payment succeeded: the order becomes WAIT_USE with a check-in code.

    Safe to run any number of times. Money that the order cannot take — it was
    cancelled or auto-closed meanwhile, or another payment already paid it — is
    sent back: a refund request to payments is staged in the same step, so the
    guest never pays for nothing.
    """
    if event.status != "SUCCESS":
        return PaymentOutcome.IGNORED
    outcome = await take_payment(db, event.order_sn, event.payment_sn, payer=event)
    if outcome is not PaymentOutcome.REJECTED:
        return outcome
    async with db.write_session() as session:
        send(session, OutboxMessage, REFUND_PAYMENT, event.payment_sn)
    return PaymentOutcome.REFUND_REQUESTED


def _announce_paid(event: PaymentStatusChanged, trade_code: str) -> Callable[[AsyncSession], None]:
    """The payer hears of the order being paid, with its check-in code, only once it is."""
    notice = OrderPaid(
        order_sn=event.order_sn,
        payment_sn=event.payment_sn,
        user_id=event.user_id,
        payer_openid=event.payer_openid,
        trade_code=trade_code,
        pay_time=event.pay_time,
    )

    def stage(session: AsyncSession) -> None:
        send(session, OutboxMessage, NOTIFY_PAYMENT_SUCCESS, asdict(notice))

    return stage


async def close_overdue_orders(
    db: Database, payments: PaymentsGate, *, limit: int = 500
) -> dict[str, CloseOutcome]:
    """Sweeper: unpaid orders past their deadline whose close message was lost (or whose
    worker is down). Each goes through `close_if_unpaid`; one payments cannot answer
    for is left WAIT_PAY for the next sweep."""
    async with db.session() as session:
        overdue = list(
            await session.scalars(
                select(HomestayOrder.sn)
                .where(
                    HomestayOrder.trade_state == TradeState.WAIT_PAY,
                    HomestayOrder.pay_deadline <= utcnow(),
                )
                .limit(limit)
            )
        )
    done: dict[str, CloseOutcome] = {}
    for sn in overdue:
        try:
            outcome = await close_if_unpaid(db, payments, sn)
        except Exception as error:  # payments or WeChat unreachable: next sweep
            logger.warning("sweeper: order %s stays unpaid for now: %s", sn, error)
            continue
        if outcome is not CloseOutcome.NOTHING:
            done[sn] = outcome
    return done


async def check_in(db: Database, sn: str) -> bool:
    """The guest arrived (the landlord redeemed the check-in code): WAIT_USE → USED, once.

    A conditional update: of two concurrent check-ins exactly one sees True.
    """
    return await _transition(db, sn, [TradeState.WAIT_USE], TradeState.USED)


async def finish_stays(db: Database, *, today: date | None = None) -> int:
    """Paid stays whose check-out day has come become USED (the fallback for a guest whose
    landlord never redeemed the check-in code)."""
    async with db.write_session() as session:
        result = cast(
            CursorResult[Any],
            await session.execute(
                update(HomestayOrder)
                .where(
                    HomestayOrder.trade_state == TradeState.WAIT_USE,
                    HomestayOrder.live_end_date <= (today or china_today()),
                )
                .values(trade_state=TradeState.USED, version=HomestayOrder.version + 1)
            ),
        )
        return int(result.rowcount)


async def list_orders(
    db: Database,
    user_id: int,
    *,
    trade_state: TradeState | None,
    limit: int,
    before_id: int | None,
) -> list[HomestayOrder]:
    """The guest's orders, newest first."""
    return await _orders_where(
        db, HomestayOrder.user_id == user_id, trade_state, limit=limit, before_id=before_id
    )


async def list_host_orders(
    db: Database,
    landlord_id: int,
    *,
    trade_state: TradeState | None,
    limit: int,
    before_id: int | None,
) -> list[HomestayOrder]:
    """Orders of the landlord's homestays, newest first (by the landlord recorded at booking)."""
    return await _orders_where(
        db,
        HomestayOrder.homestay_user_id == landlord_id,
        trade_state,
        limit=limit,
        before_id=before_id,
    )


async def _orders_where(
    db: Database,
    owner: ColumnElement[bool],
    trade_state: TradeState | None,
    *,
    limit: int,
    before_id: int | None,
) -> list[HomestayOrder]:
    query = select(HomestayOrder).where(owner, HomestayOrder.del_state == 0)
    if trade_state is not None:
        query = query.where(HomestayOrder.trade_state == trade_state)
    if before_id is not None:
        query = query.where(HomestayOrder.id < before_id)
    async with db.session() as session:
        return list(await session.scalars(query.order_by(HomestayOrder.id.desc()).limit(limit)))
