"""create payments tables

Revision ID: 0001
Revises:
Create Date: 2026-11-23 02:38:48.264178
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
        "third_payment",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("sn", sa.String(length=25), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pay_mode", sa.String(length=16), nullable=False),
        sa.Column("trade_type", sa.String(length=16), nullable=False),
        sa.Column("trade_state", sa.String(length=32), nullable=False),
        sa.Column("trade_state_desc", sa.String(length=256), nullable=False),
        sa.Column("pay_total", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.String(length=32), nullable=True),
        sa.Column("order_sn", sa.String(length=25), nullable=False),
        sa.Column("service_type", sa.String(length=32), nullable=False),
        sa.Column("pay_status", sa.SmallInteger(), nullable=False),
        sa.Column("pay_time", common.models.UTCDateTime(), nullable=True),
        sa.Column("payer_openid", sa.String(length=64), nullable=False),
        sa.Column("prepay_id", sa.String(length=64), nullable=True),
        sa.Column("waiting_order_sn", sa.String(length=25), nullable=True),
        sa.Column("refund_sn", sa.String(length=25), nullable=True),
        sa.Column("refund_id", sa.String(length=32), nullable=True),
        sa.Column("refund_time", common.models.UTCDateTime(), nullable=True),
        sa.Column("create_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("update_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("delete_time", common.models.UTCDateTime(), nullable=True),
        sa.Column("del_state", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_third_payment")),
        sa.UniqueConstraint("refund_sn", name=op.f("uq_third_payment_refund_sn")),
        sa.UniqueConstraint("sn", name=op.f("uq_third_payment_sn")),
        sa.UniqueConstraint("waiting_order_sn", name=op.f("uq_third_payment_waiting_order_sn")),
    )
    with op.batch_alter_table("third_payment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_third_payment_order_sn_id"), ["order_sn", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_third_payment_pay_status_create_time"),
            ["pay_status", "create_time"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("third_payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_third_payment_pay_status_create_time"))
        batch_op.drop_index(batch_op.f("ix_third_payment_order_sn_id"))

    op.drop_table("third_payment")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message_sent_at_id"))

    op.drop_table("outbox_message")
