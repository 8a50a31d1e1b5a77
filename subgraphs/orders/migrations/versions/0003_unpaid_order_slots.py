"""unpaid order slots: at most MAX_UNPAID_ORDERS_PER_USER unpaid orders per user

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 09:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("homestay_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unpaid_slot", sa.SmallInteger(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_homestay_order_user_id_unpaid_slot"), ["user_id", "unpaid_slot"]
        )


def downgrade() -> None:
    with op.batch_alter_table("homestay_order", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_homestay_order_user_id_unpaid_slot"), type_="unique"
        )
        batch_op.drop_column("unpaid_slot")
