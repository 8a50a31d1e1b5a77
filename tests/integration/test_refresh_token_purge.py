"""Spent refresh tokens are forgotten after their expiry, and forgetting one never revives it."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from common.auth.tokens import TokenService
from common.db import Database
from common.errors import Unauthenticated
from subgraphs.users.models import UsedRefreshToken, User
from subgraphs.users.revocations import DatabaseRevocations, purge_spent_refresh_tokens


async def _user(db: Database) -> int:
    async with db.write_session() as session:
        user = User(mobile=f"139{secrets.randbelow(10**8):08d}", nickname="purge")
        session.add(user)
        await session.flush()
        return user.id


async def _spend(db: Database, user_id: int, expires_at: datetime) -> str:
    jti = secrets.token_urlsafe(12)
    assert await DatabaseRevocations(db).claim_refresh(jti, user_id, int(expires_at.timestamp()))
    return jti


async def _spent(db: Database, jtis: list[str]) -> set[str]:
    async with db.session() as session:
        rows = await session.scalars(
            select(UsedRefreshToken.jti).where(UsedRefreshToken.jti.in_(jtis))
        )
        return set(rows)


async def test_only_tokens_past_their_expiry_are_forgotten(users_db: Database) -> None:
    user_id = await _user(users_db)
    now = datetime.now(UTC)
    expired = [await _spend(users_db, user_id, now - timedelta(seconds=n + 1)) for n in range(5)]
    alive = await _spend(users_db, user_id, now + timedelta(days=30))

    purged = await purge_spent_refresh_tokens(users_db, now=now, batch=2)  # three rounds

    assert purged >= len(expired)  # other tests' expired rows may go too
    assert await _spent(users_db, [*expired, alive]) == {alive}
    assert await purge_spent_refresh_tokens(users_db, now=now) == 0


async def test_a_forgotten_refresh_token_is_still_refused(users_db: Database, redis: Redis) -> None:
    """The purge relies on the token's own `exp`: once forgotten it cannot be spent again."""
    user_id = await _user(users_db)
    tokens = TokenService(
        redis,
        DatabaseRevocations(users_db),
        secret=secrets.token_hex(16),
        issuer="purge-test",
        access_ttl=60,
        refresh_ttl=1,
    )
    pair = await tokens.issue(user_id)
    await tokens.refresh(pair.refresh_token)  # spent
    await asyncio.sleep(2.1)  # past its one-second lifetime (JWT `exp` has a 1 s resolution)
    assert await purge_spent_refresh_tokens(users_db) >= 1

    with pytest.raises(Unauthenticated, match="expired"):
        await tokens.refresh(pair.refresh_token)
