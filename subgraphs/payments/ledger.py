"""The payments ledger: what WeChat said about each payment and what money moved, append-only.

Every answer from WeChat (a notification, a query, a close, a refund request or
its result) is one row, written whether or not it changed anything, so an
operator can see what WeChat said and when. The row that moved a payment to
SUCCESS carries the money paid, the row that moved it to REFUNDED the money
returned; a payment's totals are sums over its rows, never a stored counter.
Movement rows are written in the same transaction as the status change
(`service._transition`), so a replayed answer cannot count money twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.db import Database
from subgraphs.payments.models import LedgerEntry, ThirdPayment

DETAIL_MAX = 256


class Source(StrEnum):
    """Which exchange with WeChat a ledger row records."""

    NOTIFICATION = "notification"  # TRANSACTION.* pushed by WeChat
    QUERY = "query"  # we asked about the payment
    CLOSE = "close"  # we asked WeChat to close it
    REFUND_REQUEST = "refund_request"  # we asked for the money back
    REFUND_QUERY = "refund_query"  # we asked about the refund
    REFUND_NOTIFICATION = "refund_notification"  # REFUND.* pushed by WeChat
    LOCAL = "local"  # closed without WeChat: it never saw the payment


@dataclass(frozen=True)
class Answer:
    """What WeChat answered, as one ledger row records it."""

    source: Source
    wechat_state: str
    amount: int | None = None
    wechat_id: str | None = None
    refund_sn: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Totals:
    paid: int
    refunded: int


NO_MONEY = Totals(paid=0, refunded=0)


def record(
    session: AsyncSession,
    payment: ThirdPayment,
    answer: Answer,
    *,
    paid: int = 0,
    refunded: int = 0,
) -> None:
    """Stage one row in the caller's transaction."""
    session.add(
        LedgerEntry(
            payment_sn=payment.sn,
            order_sn=payment.order_sn,
            source=answer.source.value,
            wechat_state=answer.wechat_state[:32],
            amount=answer.amount,
            paid=paid,
            refunded=refunded,
            wechat_id=answer.wechat_id,
            refund_sn=answer.refund_sn,
            detail=answer.detail[:DETAIL_MAX],
        )
    )


async def record_answer(db: Database, payment: ThirdPayment, answer: Answer) -> None:
    """An answer that moved no money, in a transaction of its own."""
    async with db.write_session() as session:
        record(session, payment, answer)


async def totals(db: Database, payment_sns: Sequence[str]) -> list[Totals]:
    """Money paid and refunded per payment, in the order of `payment_sns` (DataLoader batch)."""
    async with db.session() as session:
        rows = await session.execute(
            select(
                LedgerEntry.payment_sn,
                func.sum(LedgerEntry.paid),
                func.sum(LedgerEntry.refunded),
            )
            .where(LedgerEntry.payment_sn.in_(payment_sns))
            .group_by(LedgerEntry.payment_sn)
        )
        found = {sn: Totals(int(paid or 0), int(refunded or 0)) for sn, paid, refunded in rows}
    return [found.get(sn, NO_MONEY) for sn in payment_sns]


async def entries(db: Database, payment_sn: str) -> list[LedgerEntry]:
    """A payment's rows, oldest first."""
    async with db.session() as session:
        return list(
            await session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.payment_sn == payment_sn)
                .order_by(LedgerEntry.id)
            )
        )
