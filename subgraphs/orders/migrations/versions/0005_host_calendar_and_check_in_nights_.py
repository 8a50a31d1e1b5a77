"""host calendar and check-in: nights blocked by the landlord, host order indexes

A night row now belongs to an order or to the landlord's block (`blocked_by`), so
bookings and blocks share one unique (homestay_id, night) key. Orders already record
their landlord (`homestay_user_id`, from travel's answer at booking, NOT NULL since
0001): the host's order list and check-in only need indexes, no backfill.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 13:49:01.980197
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ONE_HOLDER = "(order_id IS NULL) <> (blocked_by IS NULL)"  # an order's night or a block


def upgrade() -> None:
    with op.batch_alter_table("homestay_night", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blocked_by", _ID, nullable=True))
        batch_op.alter_column("order_id", existing_type=_ID, nullable=True)
        batch_op.create_check_constraint("ck_homestay_night_one_holder", _ONE_HOLDER)

    with op.batch_alter_table("homestay_order", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_homestay_order_homestay_user_id_id"),
            ["homestay_user_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_homestay_order_homestay_user_id_trade_state_id"),
            ["homestay_user_id", "trade_state", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_homestay_order_trade_code"), ["trade_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("homestay_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_homestay_order_trade_code"))
        batch_op.drop_index(batch_op.f("ix_homestay_order_homestay_user_id_trade_state_id"))
        batch_op.drop_index(batch_op.f("ix_homestay_order_homestay_user_id_id"))

    # Blocks have no order: they cannot survive the NOT NULL order_id of before.
    op.execute("DELETE FROM homestay_night WHERE order_id IS NULL")
    with op.batch_alter_table("homestay_night", schema=None) as batch_op:
        batch_op.drop_constraint("ck_homestay_night_one_holder", type_="check")
        batch_op.alter_column("order_id", existing_type=_ID, nullable=False)
        batch_op.drop_column("blocked_by")
