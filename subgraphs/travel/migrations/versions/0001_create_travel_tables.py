"""create travel tables

Revision ID: 0001
Revises:
Create Date: 2026-11-22 23:34:02.167794
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
        "homestay",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("sub_title", sa.String(length=128), nullable=False),
        sa.Column("banner", sa.String(length=1024), nullable=False),
        sa.Column("info", sa.Text(), nullable=False),
        sa.Column("people_num", sa.Integer(), nullable=False),
        sa.Column(
            "homestay_business_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("row_state", sa.SmallInteger(), nullable=False),
        sa.Column("row_type", sa.SmallInteger(), nullable=False),
        sa.Column("food_info", sa.String(length=255), nullable=False),
        sa.Column("food_price", sa.Integer(), nullable=False),
        sa.Column("homestay_price", sa.Integer(), nullable=False),
        sa.Column("market_homestay_price", sa.Integer(), nullable=False),
        sa.Column("create_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("update_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("delete_time", common.models.UTCDateTime(), nullable=True),
        sa.Column("del_state", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_homestay")),
    )
    with op.batch_alter_table("homestay", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_homestay_homestay_business_id_row_state_id"),
            ["homestay_business_id", "row_state", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_homestay_row_state_id"), ["row_state", "id"], unique=False
        )

    op.create_table(
        "homestay_activity",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("row_type", sa.String(length=32), nullable=False),
        sa.Column("data_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("row_status", sa.SmallInteger(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("create_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("update_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("delete_time", common.models.UTCDateTime(), nullable=True),
        sa.Column("del_state", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_homestay_activity")),
    )
    with op.batch_alter_table("homestay_activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_homestay_activity_row_type_row_status_sort_id"),
            ["row_type", "row_status", "sort", "id"],
            unique=False,
        )

    op.create_table(
        "homestay_business",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("info", sa.String(length=255), nullable=False),
        sa.Column("boss_info", sa.String(length=255), nullable=False),
        sa.Column("license_front", sa.String(length=255), nullable=False),
        sa.Column("license_back", sa.String(length=255), nullable=False),
        sa.Column("row_state", sa.SmallInteger(), nullable=False),
        sa.Column("star", sa.Float(), nullable=False),
        sa.Column("tags", sa.String(length=255), nullable=False),
        sa.Column("cover", sa.String(length=255), nullable=False),
        sa.Column("header_img", sa.String(length=255), nullable=False),
        sa.Column("create_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("update_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("delete_time", common.models.UTCDateTime(), nullable=True),
        sa.Column("del_state", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_homestay_business")),
        sa.UniqueConstraint("user_id", name=op.f("uq_homestay_business_user_id")),
    )
    with op.batch_alter_table("homestay_business", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_homestay_business_row_state_star_id"),
            ["row_state", "star", "id"],
            unique=False,
        )

    op.create_table(
        "homestay_comment",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "homestay_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("content", sa.String(length=1024), nullable=False),
        sa.Column("star", sa.Float(), nullable=False),
        sa.Column("create_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("update_time", common.models.UTCDateTime(), nullable=False),
        sa.Column("delete_time", common.models.UTCDateTime(), nullable=True),
        sa.Column("del_state", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_homestay_comment")),
    )
    with op.batch_alter_table("homestay_comment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_homestay_comment_homestay_id_id"), ["homestay_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("homestay_comment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_homestay_comment_homestay_id_id"))

    op.drop_table("homestay_comment")
    with op.batch_alter_table("homestay_business", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_homestay_business_row_state_star_id"))

    op.drop_table("homestay_business")
    with op.batch_alter_table("homestay_activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_homestay_activity_row_type_row_status_sort_id"))

    op.drop_table("homestay_activity")
    with op.batch_alter_table("homestay", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_homestay_row_state_id"))
        batch_op.drop_index(batch_op.f("ix_homestay_homestay_business_id_row_state_id"))

    op.drop_table("homestay")
