"""token versions and used refresh tokens in the database (Redis only caches them)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 09:40:00
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
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_version", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.create_table(
        "used_refresh_token",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("expires_at", common.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_used_refresh_token_user_id_user")
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_used_refresh_token")),
    )
    with op.batch_alter_table("used_refresh_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_used_refresh_token_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_used_refresh_token_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("used_refresh_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_refresh_token_user_id"))
        batch_op.drop_index(batch_op.f("ix_used_refresh_token_expires_at"))
    op.drop_table("used_refresh_token")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("token_version")
