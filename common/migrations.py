"""Alembic migrations per domain, run by `looklook migrate`, `make dev` and the tests.

Each subgraph keeps its revisions in `subgraphs/<domain>/migrations/versions/`
and its `env.py` only names its metadata and calls `run_alembic_env`. Alembic's
script directory is shared (`common/migration_script/`: the `env.py` that runs
the domain's and the one `script.py.mako`); `looklook revision` writes new
revisions with it. Migrations run on the synchronous driver of the same
database (pymysql under aiomysql, the standard sqlite3 module under
aiosqlite), so they work from any thread.
"""

from __future__ import annotations

import logging
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from alembic import command, context
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import MetaData, create_engine, pool, text
from sqlalchemy.engine import make_url

from common import dev_probes
from common.settings import PROJECT_ROOT, Domain, get_settings

logger = logging.getLogger("looklook.migrations")

_SYNC_DRIVERS = {"sqlite+aiosqlite": "sqlite+pysqlite", "mysql+aiomysql": "mysql+pymysql"}

SCRIPT_DIR = Path(__file__).resolve().parent / "migration_script"
"""Alembic's script directory for every domain: the shared `env.py` and `script.py.mako`."""

# Modules whose column types revisions refer to by their full name (autogenerate
# renders `common.models.UTCDateTime()`), so a revision using one imports it.
_TYPE_MODULES = ("common.models",)


def sync_url(url: str) -> str:
    """The synchronous-driver twin of an async database URL."""
    parsed = make_url(url)
    driver = _SYNC_DRIVERS.get(parsed.drivername, parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def migrations_dir(domain: Domain) -> Path:
    return PROJECT_ROOT / "subgraphs" / domain.value / "migrations"


def versions_dir(domain: Domain) -> Path:
    return dev_probes.versions_dir(domain)


def _escape(value: str) -> str:
    """Config values go through ConfigParser interpolation: `%` must be doubled."""
    return value.replace("%", "%%")


def alembic_config(
    domain: Domain, url: str | None = None, *, versions: Path | None = None
) -> Config:
    """Alembic's configuration for a domain; `versions` overrides its versions directory."""
    config = Config()
    config.set_main_option("script_location", _escape(str(SCRIPT_DIR)))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", _escape(str(versions or versions_dir(domain))))
    database_url = url or get_settings().database_url(domain)
    config.attributes["domain"] = domain
    config.attributes["database_url"] = sync_url(database_url)
    return config


def ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def fresh_databases(server_url: str, prefix: str) -> dict[Domain, str]:
    """An empty MySQL/MariaDB database `<prefix>_<domain>` per domain on `server_url`.

    For the test suite and the benchmark: whatever such a database held is dropped.
    """
    base = make_url(server_url)
    admin = create_engine(sync_url(base.set(database=None).render_as_string(False)))
    urls = {}
    try:
        with admin.connect() as connection:
            for domain in Domain:
                name = f"{prefix}_{domain.value}"
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
                connection.execute(
                    text(
                        f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                    )
                )
                urls[domain] = base.set(database=name).render_as_string(hide_password=False)
    finally:
        admin.dispose()
    return urls


def upgrade(domain: Domain, url: str | None = None, revision: str = "head") -> None:
    """Bring a domain's database to `revision` (creating the SQLite file if needed)."""
    database_url = url or get_settings().database_url(domain)
    ensure_sqlite_directory(database_url)
    command.upgrade(alembic_config(domain, database_url), revision)
    logger.info("migrated %s to %s", domain.value, revision)


def next_revision_id(script_directory: ScriptDirectory) -> str:
    """The next of the 4-digit sequential revision ids: 0001, 0002 …"""
    numbers = [
        int(script.revision)
        for script in script_directory.walk_revisions()
        if script.revision.isdigit()
    ]
    return f"{max(numbers, default=0) + 1:04d}"


def revision(
    domain: Domain,
    message: str,
    *,
    autogenerate: bool = True,
    url: str | None = None,
    versions: Path | None = None,
) -> Path:
    """Write `versions/<NNNN>_<slug>.py` on top of the domain's head; return its path.

    Autogenerate compares the models with the database, which must be at head
    (Alembic's CommandError says otherwise). The file is then run through
    `ruff check --fix` and `ruff format`, so it lints like hand-written code.
    """
    config = alembic_config(domain, url, versions=versions)
    rev_id = next_revision_id(ScriptDirectory.from_config(config))
    written = command.revision(config, message=message, autogenerate=autogenerate, rev_id=rev_id)
    if not isinstance(written, Script):  # one head, one script: anything else is a bug
        raise RuntimeError(f"unexpected result of alembic revision: {written!r}")
    path = Path(written.path)
    format_python_file(path)
    logger.info("wrote %s revision %s: %s", domain.value, rev_id, path)
    return path


def format_python_file(path: Path) -> None:
    """`ruff check --fix` then `ruff format` with the project's settings.

    Lint findings ruff cannot fix (for instance an over-long string) are logged
    as a warning: the revision is written and needs a hand edit anyway.
    """
    ruff = [sys.executable, "-m", "ruff"]
    settings = ["--config", str(PROJECT_ROOT / "pyproject.toml")]
    try:
        subprocess.run([*ruff, "format", "--quiet", *settings, str(path)], check=True)  # noqa: S603
    except (OSError, subprocess.CalledProcessError) as error:
        logger.warning("could not format %s with ruff (%s)", path, error)
        return
    checked = subprocess.run(  # noqa: S603
        [*ruff, "check", "--fix", "--quiet", *settings, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if checked.returncode != 0:
        logger.warning("ruff check %s:\n%s", path, checked.stdout + checked.stderr)
    subprocess.run([*ruff, "format", "--quiet", *settings, str(path)], check=False)  # noqa: S603


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> Literal[False]:
    """Autogenerate hook: a revision using one of our column types imports its module."""
    if type_ == "type" and type(obj).__module__ in _TYPE_MODULES:
        autogen_context.imports.add(f"import {type(obj).__module__}")
    return False  # Alembic's default rendering


def run_domain_env() -> None:
    """The body of the shared `env.py`: run the configured domain's own `env.py`."""
    domain: Domain = context.config.attributes["domain"]
    runpy.run_path(str(migrations_dir(domain) / "env.py"))


def _managed(metadata: MetaData) -> Callable[[str | None, str, Any], bool]:
    """Autogenerate hook: skip what a domain's migrations make by hand and its models cannot
    describe (`metadata.info["unmanaged"]`: names of tables, with their `name_*` shadow
    tables, and of indexes), e.g. an SQLite FTS5 table or a MySQL FULLTEXT index."""
    unmanaged: tuple[str, ...] = tuple(metadata.info.get("unmanaged", ()))

    def include(name: str | None, type_: str, _parent: Any) -> bool:
        if name is None or type_ not in ("table", "index"):
            return True
        return not any(name == u or name.startswith(f"{u}_") for u in unmanaged)

    return include


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
            render_item=render_item,
            include_name=_managed(target_metadata),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def is_current(domain: Domain, url: str | None = None) -> bool:
    """Whether a domain's database is at the head revision already, cheaply.

    Reads the version table and the revision files without Alembic's upgrade
    machinery (no env.py, no model imports); any doubt (no database yet, no
    version table, an error) answers False, and the caller upgrades as usual.
    """
    database_url = url or get_settings().database_url(domain)
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return False
    heads = set(ScriptDirectory.from_config(alembic_config(domain, database_url)).get_heads())
    engine = create_engine(sync_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception:  # unknown means "upgrade", which reports real errors
        return False
    finally:
        engine.dispose()
    return current == heads
