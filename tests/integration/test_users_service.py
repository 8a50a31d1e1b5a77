"""users service functions against the real database and Redis."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from common import ratelimit
from common.db import Database
from common.errors import Conflict, TooManyRequests, Unauthenticated
from subgraphs.users import service
from subgraphs.users.models import User, UserAuth
from tests.support.users import PASSWORD, new_mobile


def _limits(per_mobile: int = 5, per_address: int = 3) -> service.LoginLimits:
    scope = secrets.token_hex(4)  # fresh counters per test
    return service.LoginLimits(
        per_mobile=ratelimit.Limit(f"t-mobile-{scope}", per_mobile, 60),
        per_address=ratelimit.Limit(f"t-address-{scope}", per_address, 60),
    )


async def test_password_is_stored_as_argon2id_hash(users_db: Database) -> None:
    user = await service.register(users_db, mobile=new_mobile(), password=PASSWORD, nickname=None)
    async with users_db.session() as session:
        stored = await session.scalar(select(User.password).where(User.id == user.id))
    assert stored is not None and stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert user.nickname.startswith("用户")


async def test_concurrent_registrations_of_one_mobile_create_one_account(
    users_db: Database,
) -> None:
    mobile = new_mobile()
    results = await asyncio.gather(
        *(
            service.register(users_db, mobile=mobile, password=PASSWORD, nickname=None)
            for _ in range(5)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, User)]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, User))
    async with users_db.session() as session:
        users = await session.scalar(
            select(func.count()).select_from(User).where(User.mobile == mobile)
        )
        auths = await session.scalar(
            select(func.count()).select_from(UserAuth).where(UserAuth.auth_key == mobile)
        )
    assert (users, auths) == (1, 1)


async def test_per_address_limit_counts_every_attempt(users_db: Database, redis: Redis) -> None:
    limits = _limits(per_address=3)
    account = await service.register(
        users_db, mobile=new_mobile(), password=PASSWORD, nickname=None
    )
    assert account.mobile

    async def login_from(address: str) -> User:
        assert account.mobile
        return await service.authenticate(
            users_db,
            redis,
            limits,
            mobile=account.mobile,
            password=PASSWORD,
            client_address=address,
        )

    for _ in range(3):
        await login_from("198.51.100.9")
    with pytest.raises(TooManyRequests):
        await login_from("198.51.100.9")
    # Another address still gets in.
    assert (await login_from("198.51.100.10")).id == account.id


async def test_successful_login_resets_the_mobile_counter(users_db: Database, redis: Redis) -> None:
    limits = _limits(per_mobile=2, per_address=100)
    account = await service.register(
        users_db, mobile=new_mobile(), password=PASSWORD, nickname=None
    )
    assert account.mobile

    async def login_with(password: str) -> User:
        assert account.mobile
        return await service.authenticate(
            users_db, redis, limits, mobile=account.mobile, password=password, client_address="a"
        )

    # Without the reset, the third wrong password would be TOO_MANY_REQUESTS.
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await login_with("wrong-password")
        await login_with(PASSWORD)
