"""One async SQLAlchemy engine per domain, identical on MySQL and the SQLite default.

SQLite needs help to behave like a server database under concurrency: WAL so
readers never block the writer, a busy timeout instead of instant "database is
locked", foreign keys on, and `BEGIN IMMEDIATE` for transactions that will
write (a deferred transaction that upgrades to a write lock fails at once when
another writer holds it). A single read statement needs no transaction at all:
`Database.read()` sends none on SQLite, saving the BEGIN round trips per read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

_SQLITE_BEGIN_OPTION = "sqlite_begin"
# The `sqlite_begin` value that sends no BEGIN: SQLite runs each statement on its own,
# as one consistent snapshot, which is all a single SELECT needs.
_SQLITE_NO_BEGIN = "NONE"
_SQLITE_BUSY_TIMEOUT_SECONDS: Final = 10


# MySQL/MariaDB: deadlock found (1213) and lock wait timeout (1205). Concurrent inserts into
# one unique index can deadlock; the loser's whole transaction is safe to run again.
_RETRYABLE_MYSQL_ERRORS = {1213, 1205}


def is_retryable(error: DBAPIError) -> bool:
    """True for errors after which the same transaction may simply be retried."""
    args: tuple[object, ...] = getattr(error.orig, "args", ())
    return len(args) > 0 and args[0] in _RETRYABLE_MYSQL_ERRORS


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, start transactions.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_SQLITE_BEGIN_OPTION, "DEFERRED")
        if mode != _SQLITE_NO_BEGIN:
            connection.exec_driver_sql(f"BEGIN {mode}")


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    """Create the engine for `url` with the pool and pragmas that backend needs."""
    if is_sqlite(url):
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_SECONDS}
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


class Database:
    """A domain's engine and session factories.

    `session()` is for reads and ordinary writes; `write_session()` takes the
    write lock up front on SQLite (no effect on MySQL, whose row locks and
    unique keys already serialise writers). `read()` is a Core connection for
    hot read paths that issue one statement at a time and need no ORM objects.
    """

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo, pool_size=pool_size)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        writer = (
            self.engine.execution_options(**{_SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            if is_sqlite(url)
            else self.engine
        )
        self._write_sessions = async_sessionmaker(writer, expire_on_commit=False)
        self._reader = (
            self.engine.execution_options(**{_SQLITE_BEGIN_OPTION: _SQLITE_NO_BEGIN})
            if is_sqlite(url)
            else self.engine
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def write_session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error."""
        async with self._write_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads where each statement stands alone; never commit on it.

        On SQLite no BEGIN is sent, so every statement sees its own snapshot: use it
        for single-statement reads, or reads that need not agree with each other.
        On MySQL it is an ordinary connection (the transaction begins implicitly).
        """
        async with self._reader.connect() as connection:
            yield connection

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
