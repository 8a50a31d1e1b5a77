"""`make dev`'s stdlib checks of SQLite files agree with Alembic, and doubts fall back."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from common.dev_probes import (
    HOMESTAY_TABLE,
    heads,
    sqlite_has_homestays,
    sqlite_is_current,
    versions_dir,
)
from common.migrations import alembic_config
from common.settings import Domain


def _database_at(path: Path, *revisions: str) -> str:
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        connection.executemany("INSERT INTO alembic_version VALUES (?)", [(r,) for r in revisions])
        connection.commit()
    return f"sqlite+aiosqlite:///{path}"


@pytest.mark.parametrize("domain", list(Domain))
def test_the_heads_are_alembics(domain: Domain) -> None:
    script = ScriptDirectory.from_config(alembic_config(domain, "sqlite:///unused.db"))
    assert heads(versions_dir(domain)) == set(script.get_heads())


def test_current_behind_and_missing(tmp_path: Path) -> None:
    versions = versions_dir(Domain.ORDERS)
    [head] = heads(versions) or set()
    assert sqlite_is_current(_database_at(tmp_path / "head.db", head), versions) is True
    assert sqlite_is_current(_database_at(tmp_path / "old.db", "0001"), versions) is False
    assert sqlite_is_current(f"sqlite+aiosqlite:///{tmp_path / 'none.db'}", versions) is False


def test_doubt_falls_back_to_alembic(tmp_path: Path) -> None:
    versions = versions_dir(Domain.ORDERS)
    assert sqlite_is_current("mysql+aiomysql://root@127.0.0.1/x", versions) is None
    (tmp_path / "empty.db").touch()  # no version table
    assert sqlite_is_current(f"sqlite:///{tmp_path / 'empty.db'}", versions) is None
    odd = tmp_path / "versions"
    odd.mkdir()
    (odd / "0001_x.py").write_text("revision = make_revision()\ndown_revision = None\n")
    assert heads(odd) is None


def test_has_homestays(tmp_path: Path) -> None:
    path = tmp_path / "travel.db"
    url = _database_at(path)
    assert sqlite_has_homestays(url) is None  # no such table: ask the real check
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(f"CREATE TABLE {HOMESTAY_TABLE} (id INTEGER PRIMARY KEY)")
        connection.commit()
        assert sqlite_has_homestays(url) is False
        connection.execute(f"INSERT INTO {HOMESTAY_TABLE} VALUES (1)")  # noqa: S608
        connection.commit()
    assert sqlite_has_homestays(url) is True
    assert sqlite_has_homestays("mysql+aiomysql://root@127.0.0.1/x") is None


def test_the_homestay_table_is_travels() -> None:
    from subgraphs.travel.models import Homestay

    assert Homestay.__tablename__ == HOMESTAY_TABLE
