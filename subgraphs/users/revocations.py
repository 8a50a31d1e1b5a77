"""The source of truth for token revocation: token versions and spent refresh tokens.

Both live in the users database, so revocation survives anything that happens to
Redis (which only caches versions). Other subgraphs read versions through the
`/internal/token-versions/{id}` route below when their cache misses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from common.auth.versions import TOKEN_VERSION_PATH
from common.db import Database
from common.errors import NotFound
from common.resources import Resources
from subgraphs.users.models import UsedRefreshToken, User


class DatabaseRevocations:
    """`Revocations` over the users database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def version(self, user_id: int) -> int | None:
        async with self._db.session() as session:
            version: int | None = await session.scalar(
                select(User.token_version).where(User.id == user_id, User.del_state == 0)
            )
            return version

    async def bump(self, user_id: int) -> int:
        async with self._db.write_session() as session:
            result = cast(
                CursorResult[Any],
                await session.execute(
                    update(User)
                    .where(User.id == user_id)
                    .values(token_version=User.token_version + 1)
                ),
            )
            if result.rowcount != 1:
                raise NotFound("This account no longer exists.")
            version = await session.scalar(select(User.token_version).where(User.id == user_id))
            assert version is not None
            return version

    async def claim_refresh(self, jti: str, user_id: int, expires_at: int) -> bool:
        """The primary key on `jti` lets exactly one of any concurrent uses through."""
        try:
            async with self._db.write_session() as session:
                session.add(
                    UsedRefreshToken(
                        jti=jti,
                        user_id=user_id,
                        expires_at=datetime.fromtimestamp(expires_at, UTC),
                    )
                )
        except IntegrityError:
            return False
        return True


async def purge_spent_refresh_tokens(
    db: Database, *, now: datetime | None = None, batch: int = 1000
) -> int:
    """Forget spent refresh tokens past their own expiry; how many were forgotten.

    Safe because an expired refresh token is refused by its signature's `exp`
    before its `jti` is ever looked up. Deletes in batches so a large backlog
    never holds one long lock on the table.
    """
    cutoff = now or datetime.now(UTC)
    purged = 0
    while True:
        async with db.write_session() as session:
            expired = (
                await session.scalars(
                    select(UsedRefreshToken.jti)
                    .where(UsedRefreshToken.expires_at < cutoff)
                    .limit(batch)
                )
            ).all()
            if not expired:
                return purged
            await session.execute(delete(UsedRefreshToken).where(UsedRefreshToken.jti.in_(expired)))
        purged += len(expired)


async def token_version_endpoint(request: Request) -> Response:
    """`GET /internal/token-versions/{user_id}`: the version, or 404 for no such user.

    For the other subgraphs when their Redis cache has no entry. It reveals a
    counter only (tokens cannot be made from it); like every subgraph route it
    is reachable only by the router and the project's processes.
    """
    resources: Resources = request.app.state.resources
    version = await DatabaseRevocations(resources.db).version(int(request.path_params["user_id"]))
    if version is None:
        return JSONResponse({"error": "no such user"}, status_code=404)
    return JSONResponse({"version": version})


routes = [Route(TOKEN_VERSION_PATH + "{user_id:int}", token_version_endpoint, methods=["GET"])]
