"""What `make dev` asks of its SQLite files at start, answered with the standard library.

Is a database at its head revision? `make dev` asks this of every database before it
starts the subgraphs. The full check
(`common.migrations.is_current`) imports Alembic, SQLAlchemy and every revision module:
about 2 CPU-seconds, spent before any other Python process may start. Here the head
comes from the revision files' text (`revision` / `down_revision`, as the shared script
template writes them) and the current revision from `alembic_version` through `sqlite3`.
Anything unusual (another database, a missing file, an unreadable revision) answers None
and the caller falls back to the full check, so a wrong "current" cannot come from here.
Likewise whether the catalog has homestays (the demo seed's question) is one `SELECT`,
not SQLAlchemy's import competing for the CPU with the subgraphs starting beside it.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

from common.settings import PROJECT_ROOT, Domain

_REVISION = re.compile(r"""^revision(?::[^=\n]*)?=\s*["']([^"'\n]+)["']\s*$""", re.M)
_DOWN_REVISION = re.compile(r"""^down_revision(?::[^=\n]*)?=\s*(.+?)\s*$""", re.M)
_QUOTED = re.compile(r"""["']([^"'\n]+)["']""")
# travel's homestay table (`subgraphs.travel.models.Homestay`, not imported: SQLAlchemy).
HOMESTAY_TABLE = "homestay"
_ANY_HOMESTAY = f"SELECT 1 FROM {HOMESTAY_TABLE} LIMIT 1"  # noqa: S608 - a constant
_SQLITE_URL = re.compile(r"^sqlite(?:\+\w+)?:///(?P<path>[^?]+)$")


def versions_dir(domain: Domain) -> Path:
    return PROJECT_ROOT / "subgraphs" / domain.value / "migrations" / "versions"


def heads(versions: Path) -> set[str] | None:
    """The head revisions of a versions directory, or None when a file is not plain."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        text = script.read_text(encoding="utf-8")
        revision = _REVISION.findall(text)
        down = _DOWN_REVISION.findall(text)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        parents.update(_QUOTED.findall(down[0]))  # None, "0001" or ("0001", "0002")
    return (revisions - parents) or None


def _sqlite_path(database_url: str) -> Path | None:
    match = _SQLITE_URL.match(database_url)
    if match is None or match["path"] == ":memory:":
        return None
    return Path(match["path"])


def sqlite_has_homestays(database_url: str) -> bool | None:
    """Whether travel's SQLite file has any homestay row; None when this cannot tell."""
    path = _sqlite_path(database_url)
    if path is None or not path.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            return connection.execute(_ANY_HOMESTAY).fetchone() is not None
    except sqlite3.Error:
        return None


def sqlite_is_current(database_url: str, versions: Path) -> bool | None:
    """True/False for a SQLite file database; None when this cannot tell."""
    path = _sqlite_path(database_url)
    if path is None:
        return None
    if not path.is_file():
        return False
    expected = heads(versions)
    if expected is None:
        return None
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error:
        return None
    return {row[0] for row in rows} == expected
