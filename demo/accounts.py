"""Demo accounts in the users database, found by mobile so that a re-run reuses them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.db import Database
from demo.catalog import PersonSpec
from subgraphs.users.models import AuthType, User, UserAuth
from subgraphs.users.passwords import hash_password

# Published on purpose, so a developer can log in as any demo landlord or guest.
DEMO_PASSWORD = "looklook-demo"  # noqa: S105


async def _ids_by_mobile(session: AsyncSession, mobiles: Sequence[str]) -> dict[str, int]:
    rows = await session.execute(select(User.mobile, User.id).where(User.mobile.in_(mobiles)))
    return {mobile: user_id for mobile, user_id in rows if mobile is not None}


async def upsert_people(db: Database, people: Sequence[PersonSpec]) -> tuple[dict[str, int], int]:
    """Every person's user id by mobile, creating only the accounts that are missing.

    Returns the ids and how many accounts were created. Existing accounts are
    left as they are. The password is hashed once for all new accounts (argon2
    is deliberately slow) and before the write transaction, so the write lock
    is not held while hashing.
    """
    mobiles = [person.mobile for person in people]
    async with db.session() as session:
        known = await _ids_by_mobile(session, mobiles)
    if len(known) == len(set(mobiles)):
        return known, 0
    password = await hash_password(DEMO_PASSWORD)
    async with db.write_session() as session:
        known = await _ids_by_mobile(session, mobiles)  # another seed may have run meanwhile
        users = [
            User(
                mobile=person.mobile,
                password=password,
                nickname=person.nickname,
                sex=person.sex,
                avatar=person.avatar,
                info=person.info,
            )
            for person in people
            if person.mobile not in known
        ]
        session.add_all(users)
        await session.flush()
        session.add_all(
            UserAuth(user_id=user.id, auth_type=AuthType.SYSTEM.value, auth_key=user.mobile)
            for user in users
        )
        await session.flush()
        known.update({user.mobile: user.id for user in users if user.mobile is not None})
    return known, len(users)
