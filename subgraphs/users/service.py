"""User-center domain logic: accounts, credentials and WeChat login. No GraphQL here."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common import ratelimit
from common.db import Database
from common.errors import (
    BadUserInput,
    Conflict,
    DomainError,
    ErrorCode,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
)
from common.lookups import live_rows
from common.settings import Settings
from common.storage.client import ObjectStorage
from common.storage.images import claim_image
from common.storage.keys import ImagePurpose
from common.wechat.miniprogram import (
    MiniProgramClient,
    WeChatDecryptError,
    WeChatInvalidCodeError,
    WeChatLoginBlockedError,
    WeChatLoginError,
    WeChatUnavailableError,
    decrypt_user_info,
)
from subgraphs.users import validation
from subgraphs.users.models import AuthType, SexCode, User, UserAuth
from subgraphs.users.passwords import hash_password, verify_password

logger = logging.getLogger("looklook.users")


class WeChatLoginFailed(DomainError):
    code = ErrorCode.WECHAT_LOGIN_FAILED
    default_message = "WeChat login failed, please try again."


# What the user hears when the failure is WeChat's or ours (SERVICE_UNAVAILABLE).
WECHAT_LOGIN_UNAVAILABLE = "WeChat login is not possible right now; please try again later."


@dataclass(frozen=True)
class LoginLimits:
    """Login attempts allowed per mobile and per client address in one window."""

    per_mobile: ratelimit.Limit
    per_address: ratelimit.Limit

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimits:
        window = settings.login_window_seconds
        return cls(
            per_mobile=ratelimit.Limit("login-mobile", settings.login_attempts_per_mobile, window),
            per_address=ratelimit.Limit(
                "login-address", settings.login_attempts_per_address, window
            ),
        )


@dataclass(frozen=True)
class AccountLimits:
    """Per-address limits of the other mutations that create accounts or tokens."""

    register: ratelimit.Limit
    wx_mini_auth: ratelimit.Limit
    refresh: ratelimit.Limit

    @classmethod
    def from_settings(cls, settings: Settings) -> AccountLimits:
        return cls(
            register=ratelimit.Limit(
                "register-address",
                settings.register_attempts_per_address,
                settings.register_window_seconds,
            ),
            wx_mini_auth=ratelimit.Limit(
                "wx-mini-auth-address",
                settings.wx_mini_auth_attempts_per_address,
                settings.wx_mini_auth_window_seconds,
            ),
            refresh=ratelimit.Limit(
                "refresh-address",
                settings.refresh_attempts_per_address,
                settings.refresh_window_seconds,
            ),
        )


@dataclass(frozen=True)
class ProfileChanges:
    """Fields to change; None leaves a field as it is."""

    nickname: str | None = None
    sex: SexCode | None = None
    avatar: str | None = None
    info: str | None = None
    # An uploaded image's key (common.storage): checked, then its URL becomes the avatar.
    avatar_key: str | None = None


async def _user_by_auth(session: AsyncSession, auth_type: AuthType, key: str) -> User | None:
    user: User | None = await session.scalar(
        select(User)
        .join(UserAuth, UserAuth.user_id == User.id)
        .where(UserAuth.auth_type == auth_type.value, UserAuth.auth_key == key)
        .where(User.del_state == 0)
    )
    return user


async def _create_user(
    session: AsyncSession, user: User, auth_type: AuthType, auth_key: str
) -> User:
    session.add(user)
    await session.flush()
    session.add(UserAuth(user_id=user.id, auth_type=auth_type.value, auth_key=auth_key))
    await session.flush()
    return user


async def register(db: Database, *, mobile: str, password: str, nickname: str | None) -> User:
    """Create an account with a mobile and password; the mobile must be new."""
    mobile = validation.normalize_mobile(mobile)
    validation.check_password(password)
    name = validation.clean_nickname(nickname) if nickname is not None else None
    password_hash = await hash_password(password)
    already = Conflict("This mobile number is already registered.", field="mobile")
    try:
        async with db.write_session() as session:
            if await session.scalar(select(User.id).where(User.mobile == mobile)):
                raise already
            user = User(
                mobile=mobile,
                password=password_hash,
                nickname=name or validation.default_nickname(mobile),
                sex=SexCode.UNKNOWN,
            )
            return await _create_user(session, user, AuthType.SYSTEM, mobile)
    except IntegrityError as error:  # a concurrent registration won the race
        raise already from error


async def authenticate(
    db: Database,
    redis: Redis,
    limits: LoginLimits,
    *,
    mobile: str,
    password: str,
    client_address: str,
) -> User:
    """Check a mobile and password, throttling guessing per mobile and per address.

    Every attempt is counted (atomically, INCR) before the password is checked, so
    a burst of concurrent guesses gets at most the limit verified, and a locked
    mobile refuses even the right password until the window ends.
    """
    await ratelimit.hit(redis, limits.per_address, client_address)
    mobile = validation.normalize_mobile(mobile)
    if not password:
        raise BadUserInput("Enter a password.", field="password")
    await ratelimit.hit(redis, limits.per_mobile, mobile)
    async with db.session() as session:
        user = await _user_by_auth(session, AuthType.SYSTEM, mobile)
    if not await verify_password(user.password if user else None, password) or user is None:
        raise Unauthenticated("Wrong mobile number or password.")
    await ratelimit.reset(redis, limits.per_mobile, mobile)
    return user


_WECHAT_GENDER = {1: SexCode.MALE, 2: SexCode.FEMALE}


async def login_with_wechat(
    db: Database,
    wechat: MiniProgramClient,
    *,
    appid: str,
    code: str,
    encrypted_data: str,
    iv: str,
) -> User:
    """WeChat mini-program login: the first login with an openid creates the account."""
    if not code.strip():
        raise BadUserInput("The WeChat login code is missing.", field="code")
    try:
        wx_session = await wechat.code2session(code.strip())
        profile = decrypt_user_info(wx_session.session_key, encrypted_data, iv, appid=appid)
    except (WeChatInvalidCodeError, WeChatLoginBlockedError) as error:
        # A verdict on this user's code or account: the user is told why.
        logger.info("code2session refused: %s %s", error.errcode, error.errmsg)
        raise WeChatLoginFailed(error.reason) from error
    except WeChatLoginError as error:
        # Any other errcode (40013 invalid appid, 40125 invalid secret …) is our
        # configuration, not the user's doing: an operator must fix it.
        logger.error(
            "WeChat login is misconfigured (check WECHAT_MINI_APPID and WECHAT_MINI_SECRET): "
            "code2session answered %s %s",
            error.errcode,
            error.errmsg,
        )
        raise ServiceUnavailable(WECHAT_LOGIN_UNAVAILABLE) from error
    except WeChatUnavailableError as error:
        logger.warning("WeChat login unavailable: %s", error)
        raise ServiceUnavailable(WECHAT_LOGIN_UNAVAILABLE) from error
    except WeChatDecryptError as error:
        raise BadUserInput(
            "The encrypted user info could not be read.", field="encryptedData"
        ) from error
    if profile.openid and profile.openid != wx_session.openid:
        raise BadUserInput("The user info belongs to another WeChat user.", field="encryptedData")

    openid = wx_session.openid
    async with db.session() as session:
        existing = await _user_by_auth(session, AuthType.WX_MINI, openid)
    if existing is not None:
        return existing
    nickname = (profile.nickname or "").strip()[: validation.NICKNAME_MAX] or "微信用户"
    user = User(
        nickname=nickname,
        avatar=(profile.avatar_url or None),
        sex=_WECHAT_GENDER.get(profile.gender, SexCode.UNKNOWN),
    )
    try:
        async with db.write_session() as session:
            return await _create_user(session, user, AuthType.WX_MINI, openid)
    except IntegrityError:  # the same openid logged in twice at once; the other won
        async with db.session() as session:
            winner = await _user_by_auth(session, AuthType.WX_MINI, openid)
        if winner is None:
            raise
        return winner


async def get_user(db: Database, user_id: int) -> User | None:
    async with db.session() as session:
        user: User | None = await session.scalar(
            select(User).where(User.id == user_id, User.del_state == 0)
        )
        return user


async def wx_mini_openid(db: Database, user_id: int) -> str | None:
    """The openid the user logged in with from the mini-program; None for mobile-only accounts."""
    async with db.session() as session:
        openid: str | None = await session.scalar(
            select(UserAuth.auth_key).where(
                UserAuth.user_id == user_id,
                UserAuth.auth_type == AuthType.WX_MINI.value,
                UserAuth.del_state == 0,
            )
        )
        return openid


async def users_by_ids(db: Database, ids: Sequence[int]) -> list[User | None]:
    """Batch lookup for DataLoaders: one query, results in the order of `ids`."""
    return await live_rows(db, User, User.id, ids)


async def _avatar_url(
    changes: ProfileChanges, user_id: int, storage: ObjectStorage | None
) -> str | None:
    """The avatar to store: the given URL, or the URL of the user's checked upload.

    The upload is checked before the write transaction opens (no database
    transaction waits on object storage), so a refused key changes nothing.
    """
    if changes.avatar_key is None:
        return changes.avatar
    if changes.avatar is not None:
        raise BadUserInput("Give either avatar or avatarKey, not both.", field="avatarKey")
    if storage is None:
        raise ServiceUnavailable("Image uploads are not configured.")
    return await claim_image(
        storage,
        changes.avatar_key,
        owner_id=user_id,
        purpose=ImagePurpose.AVATAR,
        field="avatarKey",
    )


async def update_profile(
    db: Database, user_id: int, changes: ProfileChanges, *, storage: ObjectStorage | None = None
) -> User:
    avatar = await _avatar_url(changes, user_id, storage)
    async with db.write_session() as session:
        user = await session.scalar(select(User).where(User.id == user_id, User.del_state == 0))
        if user is None:
            raise NotFound("This account no longer exists.")
        if changes.nickname is not None:
            user.nickname = validation.clean_nickname(changes.nickname)
        if changes.sex is not None:
            user.sex = changes.sex
        if avatar is not None:
            user.avatar = validation.clean_avatar(avatar) if avatar else None
        if changes.info is not None:
            user.info = validation.clean_info(changes.info) or None
        user.version += 1
        return user
