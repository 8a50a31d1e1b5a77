"""Alembic migrations per domain, run by `looklook migrate`, `make dev` and the tests.

Each subgraph keeps its revisions in `subgraphs/<domain>/migrations/`; its
`env.py` only names its metadata and calls `run_alembic_env`. Migrations run
on the synchronous driver of the same database (pymysql under aiomysql, the
standard sqlite3 module under aiosqlite), so they work from any thread.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, pool
from sqlalchemy.engine import make_url

from common.settings import PROJECT_ROOT, Domain, get_settings

logger = logging.getLogger("looklook.migrations")

_SYNC_DRIVERS = {"sqlite+aiosqlite": "sqlite+pysqlite", "mysql+aiomysql": "mysql+pymysql"}


def sync_url(url: str) -> str:
    """The synchronous-driver twin of an async database URL."""
    parsed = make_url(url)
    driver = _SYNC_DRIVERS.get(parsed.drivername, parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def migrations_dir(domain: Domain) -> Path:
    return PROJECT_ROOT / "subgraphs" / domain.value / "migrations"


def alembic_config(domain: Domain, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir(domain)))
    database_url = url or get_settings().database_url(domain)
    config.attributes["database_url"] = sync_url(database_url)
    return config


def ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def upgrade(domain: Domain, url: str | None = None, revision: str = "head") -> None:
    """Bring a domain's database to `revision` (creating the SQLite file if needed)."""
    database_url = url or get_settings().database_url(domain)
    ensure_sqlite_directory(database_url)
    command.upgrade(alembic_config(domain, database_url), revision)
    logger.info("migrated %s to %s", domain.value, revision)


def run_alembic_env(target_metadata: MetaData) -> None:
    """The body of every domain's `env.py` (online mode only: we always have a database)."""
    url = context.config.attributes.get("database_url") or sync_url(
        context.config.get_main_option("sqlalchemy.url") or ""
    )
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
