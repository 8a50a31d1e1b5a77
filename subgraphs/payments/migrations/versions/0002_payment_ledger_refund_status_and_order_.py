"""payment ledger, refund status and order confirmation

Payments that took money before the ledger existed get one opening row each
(source `migration`) carrying what they paid and refunded, so totals derived
from the ledger hold for them too.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 09:25:16.797245
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import common.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_ledger",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("payment_sn", sa.String(length=25), nullable=False),
        sa.Column("order_sn", sa.String(length=25), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("wechat_state", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("paid", sa.Integer(), nullable=False),
        sa.Column("refunded", sa.Integer(), nullable=False),
        sa.Column("wechat_id", sa.String(length=32), nullable=True),
        sa.Column("refund_sn", sa.String(length=25), nullable=True),
        sa.Column("detail", sa.String(length=256), nullable=False),
        sa.Column("create_time", common.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_ledger")),
    )
    with op.batch_alter_table("payment_ledger", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_ledger_payment_sn_id"), ["payment_sn", "id"], unique=False
        )

    with op.batch_alter_table("third_payment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refund_status", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("order_confirmed_at", common.models.UTCDateTime(), nullable=True)
        )

    # Opening rows: SUCCESS (1), REFUNDED (2), REFUNDING (3) payments paid; REFUNDED ones
    # were refunded in full (the only refund there was).
    op.execute(
        """
        INSERT INTO payment_ledger (payment_sn, order_sn, source, wechat_state, amount, paid,
            refunded, wechat_id, refund_sn, detail, create_time)
        SELECT sn, order_sn, 'migration', trade_state, pay_total, pay_total,
            CASE WHEN pay_status = 2 THEN pay_total ELSE 0 END, transaction_id, refund_sn,
            'opening balance', COALESCE(pay_time, update_time)
        FROM third_payment WHERE pay_status IN (1, 2, 3)
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("third_payment", schema=None) as batch_op:
        batch_op.drop_column("order_confirmed_at")
        batch_op.drop_column("refund_status")

    with op.batch_alter_table("payment_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_ledger_payment_sn_id"))

    op.drop_table("payment_ledger")
