"""create user and user_auth

Revision ID: 0001
Revises:
Create Date: 2026-11-22 23:15:24.301318
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
        "user",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("mobile", sa.String(length=11), nullable=True),
        sa.Column("password", sa.String(length=255), nullable=True),
        sa.Column("nickname", sa.String(length=64), nullable=False),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("avatar", sa.String(length=255), nullable=True),
        sa.Column("info", sa.String(length=255), nullable=True),
        sa.Column("create_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("update_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("delete_time", common.models.UTCDateTime(), nullable=True),
        sa.Column("del_state", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("mobile", name=op.f("uq_user_mobile")),
    )
    op.create_table(
        "user_auth",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("auth_type", sa.String(length=12), nullable=False),
        sa.Column("auth_key", sa.String(length=64), nullable=False),
        sa.Column("create_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("update_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("delete_time", common.models.UTCDateTime(), nullable=True),
        sa.Column("del_state", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_user_auth_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_auth")),
        sa.UniqueConstraint("auth_type", "auth_key", name=op.f("uq_user_auth_auth_type_auth_key")),
        sa.UniqueConstraint("user_id", "auth_type", name=op.f("uq_user_auth_user_id_auth_type")),
    )


def downgrade() -> None:
    op.drop_table("user_auth")
    op.drop_table("user")
