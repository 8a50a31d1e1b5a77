"""usercenter tables: `user` and `user_auth` (REFERENCE.md)."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum

from sqlalchemy import BigInteger, ForeignKey, MetaData, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.models import NAMING_CONVENTION, AuditColumns, BigId, UTCDateTime


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SexCode(IntEnum):
    """Stored values; the original used 0 male / 1 female, we add 2 for not said."""

    MALE = 0
    FEMALE = 1
    UNKNOWN = 2


class AuthType(StrEnum):
    SYSTEM = "system"  # mobile + password; auth_key is the mobile
    WX_MINI = "wxMini"  # WeChat mini-program; auth_key is the openid


class User(AuditColumns, Base):
    __tablename__ = "user"

    # NULL for WeChat-only accounts; unique among those who have one.
    mobile: Mapped[str | None] = mapped_column(String(11), unique=True)
    password: Mapped[str | None] = mapped_column(String(255))  # argon2id hash
    nickname: Mapped[str] = mapped_column(String(64), default="")
    sex: Mapped[int] = mapped_column(SmallInteger, default=SexCode.UNKNOWN)
    avatar: Mapped[str | None] = mapped_column(String(255))
    info: Mapped[str | None] = mapped_column(String(255))
    # Tokens carry the version they were issued under; logout increments it (tokens.py).
    token_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class UserAuth(AuditColumns, Base):
    __tablename__ = "user_auth"
    __table_args__ = (
        UniqueConstraint("auth_type", "auth_key"),
        UniqueConstraint("user_id", "auth_type"),
    )

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("user.id"), nullable=False)
    auth_type: Mapped[str] = mapped_column(String(12), nullable=False)
    auth_key: Mapped[str] = mapped_column(String(64), nullable=False)


class UsedRefreshToken(Base):
    """A refresh token that has been exchanged: a second exchange is a stolen token.

    Rows are kept until the token would have expired anyway (`expires_at`).
    """

    __tablename__ = "used_refresh_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("user.id"), nullable=False, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
