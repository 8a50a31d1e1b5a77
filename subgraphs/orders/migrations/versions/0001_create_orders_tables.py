"""create orders tables

Revision ID: 0001
Revises:
Create Date: 2026-11-22 23:41:17.021272
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "homestay_order",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("sn", sa.String(length=25), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "homestay_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("sub_title", sa.String(length=128), nullable=False),
        sa.Column("cover", sa.String(length=255), nullable=False),
        sa.Column("info", sa.Text(), nullable=False),
        sa.Column("people_num", sa.Integer(), nullable=False),
        sa.Column("row_type", sa.SmallInteger(), nullable=False),
        sa.Column("food_info", sa.String(length=255), nullable=False),
        sa.Column("food_price", sa.Integer(), nullable=False),
        sa.Column("homestay_price", sa.Integer(), nullable=False),
        sa.Column("market_homestay_price", sa.Integer(), nullable=False),
        sa.Column(
            "homestay_business_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "homestay_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("live_start_date", sa.Date(), nullable=False),
        sa.Column("live_end_date", sa.Date(), nullable=False),
        sa.Column("live_people_num", sa.Integer(), nullable=False),
        sa.Column("need_food", sa.Boolean(), nullable=False),
        sa.Column("remark", sa.String(length=255), nullable=False),
        sa.Column("trade_state", sa.SmallInteger(), nullable=False),
        sa.Column("trade_code", sa.String(length=16), nullable=True),
        sa.Column("pay_deadline", common.models.UTCDateTime(), nullable=False),
        sa.Column("order_total_price", sa.Integer(), nullable=False),
        sa.Column("food_total_price", sa.Integer(), nullable=False),
        sa.Column("homestay_total_price", sa.Integer(), nullable=False),
        sa.Column("create_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("update_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("delete_time", common.models.UTCDateTime(), nullable=True),
        sa.Column("del_state", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_homestay_order")),
        sa.UniqueConstraint("sn", name=op.f("uq_homestay_order_sn")),
    )
    with op.batch_alter_table("homestay_order", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_homestay_order_trade_state_live_end_date"),
            ["trade_state", "live_end_date"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_homestay_order_trade_state_pay_deadline"),
            ["trade_state", "pay_deadline"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_homestay_order_user_id_trade_state_id"),
            ["user_id", "trade_state", "id"],
            unique=False,
        )

    op.create_table(
        "outbox_message",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("queue_name", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("deliver_at", common.models.UTCDateTime(), nullable=False),
        sa.Column("created_at", common.models.UTCDateTime(), nullable=False),
        sa.Column("sent_at", common.models.UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_message_sent_at_id"), ["sent_at", "id"], unique=False
        )

    op.create_table(
        "homestay_night",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "homestay_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("night", sa.Date(), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["homestay_order.id"],
            name=op.f("fk_homestay_night_order_id_homestay_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_homestay_night")),
        sa.UniqueConstraint(
            "homestay_id", "night", name=op.f("uq_homestay_night_homestay_id_night")
        ),
    )
    with op.batch_alter_table("homestay_night", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_homestay_night_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("homestay_night", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_homestay_night_order_id"))

    op.drop_table("homestay_night")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message_sent_at_id"))

    op.drop_table("outbox_message")
    with op.batch_alter_table("homestay_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_homestay_order_user_id_trade_state_id"))
        batch_op.drop_index(batch_op.f("ix_homestay_order_trade_state_pay_deadline"))
        batch_op.drop_index(batch_op.f("ix_homestay_order_trade_state_live_end_date"))

    op.drop_table("homestay_order")
