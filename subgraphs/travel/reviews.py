"""Guests' reviews of their stays, and the totals a homestay's rating and a business's
star are read from.

A review is one `homestay_comment` row with the order's sn under a unique key (one
review per order, whoever races), written in the same transaction as the totals it
adds to: the homestay's and the business's `comment_count` and `star_total`, and the
business's `star` (their mean). So a homestay's rating and comment count are read
with its row — O(1), batched like every homestay load — and never disagree with the
comments. After the commit the caches of what changed are invalidated, so every
reader sees the review as soon as the mutation returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.db import Database
from common.errors import BadUserInput, Conflict, Forbidden
from subgraphs.travel.cache import TravelCache
from subgraphs.travel.models import Homestay, HomestayBusiness, HomestayComment
from subgraphs.travel.peers import OrdersGate
from subgraphs.travel.records import CommentRecord

STAR_MIN, STAR_MAX = 1, 5
CONTENT_MAX = 500
# The order state in which its guest may review the stay (OrderTradeState name).
REVIEWABLE = "USED"


@dataclass(frozen=True)
class Review:
    star: int
    content: str


def clean_review(star: int, content: str) -> Review:
    """Star 1–5, content 1–500 characters once trimmed; else BAD_USER_INPUT with the field."""
    if not STAR_MIN <= star <= STAR_MAX:
        raise BadUserInput(f"Give {STAR_MIN} to {STAR_MAX} stars.", field="star")
    cleaned = content.strip()
    if not cleaned:
        raise BadUserInput("Write a few words about the stay.", field="content")
    if len(cleaned) > CONTENT_MAX:
        raise BadUserInput(f"A review is at most {CONTENT_MAX} characters.", field="content")
    return Review(star=star, content=cleaned)


def rating(star_total: float, comment_count: int) -> float | None:
    """The mean star, to two decimals; None without reviews."""
    return round(star_total / comment_count, 2) if comment_count else None


async def _add_to_totals(session: AsyncSession, homestay_id: int, star: int) -> int:
    """Count the review in its homestay's and business's totals; the business's id."""
    await session.execute(
        update(Homestay)
        .where(Homestay.id == homestay_id)
        .values(
            comment_count=Homestay.comment_count + 1,
            star_total=Homestay.star_total + star,
        )
    )
    business_id = (
        await session.execute(
            select(Homestay.homestay_business_id).where(Homestay.id == homestay_id)
        )
    ).scalar_one()
    await session.execute(
        update(HomestayBusiness)
        .where(HomestayBusiness.id == business_id)
        .values(
            comment_count=HomestayBusiness.comment_count + 1,
            star_total=HomestayBusiness.star_total + star,
        )
    )
    # A second statement, so both databases read the totals just written (MySQL and
    # SQLite differ on which values later assignments of one UPDATE see).
    await session.execute(
        update(HomestayBusiness)
        .where(HomestayBusiness.id == business_id)
        .values(star=func.round(HomestayBusiness.star_total / HomestayBusiness.comment_count, 1))
    )
    return business_id


async def review_order(
    db: Database,
    cache: TravelCache,
    orders: OrdersGate,
    *,
    user_id: int,
    authorization: str,
    sn: str,
    star: int,
    content: str,
) -> CommentRecord:
    """The guest of a USED order reviews the stay, once.

    FORBIDDEN for an order that is not the viewer's (orders answers null) or not
    USED; CONFLICT for a second review of the order, however many race (the
    unique key on the comment's order sn decides; the loser writes nothing).
    """
    review = clean_review(star, content)
    order = await orders.order(sn, authorization=authorization)
    if order is None:
        raise Forbidden("Only the guest of an order can review it.")
    if order.trade_state != REVIEWABLE:
        raise Forbidden("A stay can be reviewed once it is over (the order is USED).")
    comment = HomestayComment(
        homestay_id=order.homestay_id,
        user_id=user_id,
        content=review.content,
        star=float(review.star),
        order_sn=order.sn,
    )
    try:
        async with db.write_session() as session:
            session.add(comment)
            await session.flush()  # the unique key decides before the totals move
            business_id = await _add_to_totals(session, order.homestay_id, review.star)
    except IntegrityError as error:
        raise Conflict("This order has already been reviewed.") from error
    await cache.comments_changed(order.homestay_id)
    await cache.homestays_changed(order.homestay_id)
    await cache.businesses_changed(business_id)
    return CommentRecord(
        id=comment.id,
        homestay_id=comment.homestay_id,
        user_id=comment.user_id,
        content=comment.content,
        star=comment.star,
        created_at=comment.create_time,
    )


async def recount(session: AsyncSession) -> None:
    """Set every homestay's and business's totals from the comments (after a bulk load,
    e.g. the demo seed); a business's star becomes the mean of its reviews."""
    comments = HomestayComment.__table__.alias("c")
    homestays = Homestay.__table__.alias("h")
    of_homestay = (comments.c.homestay_id == Homestay.id) & (comments.c.del_state == 0)
    await session.execute(
        update(Homestay)
        .execution_options(synchronize_session=False)
        .values(
            comment_count=select(func.count()).where(of_homestay).scalar_subquery(),
            star_total=select(func.coalesce(func.sum(comments.c.star), 0))
            .where(of_homestay)
            .scalar_subquery(),
        )
    )
    of_business = homestays.c.homestay_business_id == HomestayBusiness.id
    await session.execute(
        update(HomestayBusiness)
        .execution_options(synchronize_session=False)
        .values(
            comment_count=select(func.coalesce(func.sum(homestays.c.comment_count), 0))
            .where(of_business)
            .scalar_subquery(),
            star_total=select(func.coalesce(func.sum(homestays.c.star_total), 0))
            .where(of_business)
            .scalar_subquery(),
        )
    )
    await session.execute(
        update(HomestayBusiness)
        .where(HomestayBusiness.comment_count > 0)
        .values(star=func.round(HomestayBusiness.star_total / HomestayBusiness.comment_count, 1))
    )
