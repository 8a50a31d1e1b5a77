"""`looklook revision`: new Alembic revisions from the shared template, lint-clean.

Every test writes into a temporary copy of a versions directory and a
throwaway SQLite database, so the repository's migrations stay untouched.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from common import migrations
from common.cli import main
from common.settings import PROJECT_ROOT, Domain, get_settings

DOMAIN = Domain.ORDERS


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "ruff", *args, "--config", str(PROJECT_ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        check=False,
    )


def assert_lint_clean(path: Path) -> None:
    checked = ruff("check", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = ruff("format", "--check", str(path))
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def head_of(versions: Path) -> str | None:
    config = migrations.alembic_config(DOMAIN, "sqlite://", versions=versions)
    return ScriptDirectory.from_config(config).get_current_head()


@pytest.fixture
def versions(tmp_path: Path) -> Path:
    """A copy of the domain's versions directory."""
    copy = tmp_path / "versions"
    shutil.copytree(
        migrations.versions_dir(DOMAIN), copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    return copy


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"


@pytest.fixture
def cli_on_copy(
    monkeypatch: pytest.MonkeyPatch, versions: Path, database_url: str
) -> Iterator[Path]:
    """`looklook revision` pointed at the copy and the throwaway database."""
    monkeypatch.setattr(migrations, "versions_dir", lambda domain: versions)
    monkeypatch.setenv(f"{DOMAIN.value.upper()}_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield versions
    monkeypatch.undo()
    get_settings.cache_clear()


def test_revision_at_head_is_empty_and_next_in_sequence(
    cli_on_copy: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    previous_head = head_of(cli_on_copy)
    assert previous_head is not None
    migrations.upgrade(DOMAIN, database_url)

    assert main(["revision", DOMAIN.value, "-m", "Test: nothing changed"]) == 0

    expected = f"{int(previous_head) + 1:04d}"
    path = cli_on_copy / f"{expected}_test_nothing_changed.py"
    assert f"wrote {path}" in capsys.readouterr().out
    source = path.read_text()
    assert f'revision: str = "{expected}"' in source
    assert f'down_revision: str | None = "{previous_head}"' in source
    assert "op." not in source  # nothing to migrate
    assert_lint_clean(path)
    assert head_of(cli_on_copy) == expected
    migrations.upgrade(DOMAIN, database_url)  # the new revision runs


def test_repository_is_untouched(cli_on_copy: Path, database_url: str) -> None:
    repository = PROJECT_ROOT / "subgraphs" / DOMAIN.value / "migrations" / "versions"
    before = sorted(p.name for p in repository.iterdir())
    migrations.upgrade(DOMAIN, database_url)
    assert main(["revision", DOMAIN.value, "-m", "test"]) == 0
    assert sorted(p.name for p in repository.iterdir()) == before


def test_autogenerate_writes_the_schema_with_our_column_types(
    tmp_path: Path, database_url: str
) -> None:
    empty = tmp_path / "empty_versions"
    empty.mkdir()

    path = migrations.revision(DOMAIN, "create orders tables", url=database_url, versions=empty)

    assert path == empty / "0001_create_orders_tables.py"
    source = path.read_text()
    assert "down_revision: str | None = None" in source
    assert "\nimport common.models\n" in source
    assert "common.models.UTCDateTime()" in source
    assert 'op.create_table(\n        "homestay_order",' in source
    assert_lint_clean(path)
    # The generated revision builds the domain's tables.
    command.upgrade(migrations.alembic_config(DOMAIN, database_url, versions=empty), "head")
    engine = create_engine(migrations.sync_url(database_url))
    try:
        assert "homestay_order" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_without_autogenerate_needs_no_database(cli_on_copy: Path) -> None:
    previous_head = head_of(cli_on_copy)
    assert previous_head is not None

    assert main(["revision", DOMAIN.value, "-m", "hand written", "--no-autogenerate"]) == 0

    expected = f"{int(previous_head) + 1:04d}"
    path = cli_on_copy / f"{expected}_hand_written.py"
    assert f'down_revision: str | None = "{previous_head}"' in path.read_text()
    assert_lint_clean(path)


def test_autogenerate_refuses_a_database_behind_head(
    cli_on_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(cli_on_copy.iterdir())

    assert main(["revision", DOMAIN.value, "-m", "too early"]) == 1

    assert f"looklook migrate {DOMAIN.value}" in capsys.readouterr().err
    assert sorted(cli_on_copy.iterdir()) == before


def test_is_current_only_at_head(tmp_path: Path, versions: Path, database_url: str) -> None:
    """`make dev` skips Alembic's upgrade on a database that is current, and only then."""
    assert not migrations.is_current(DOMAIN, database_url)  # no database file yet
    previous_head = head_of(versions)
    assert previous_head is not None
    migrations.upgrade(DOMAIN, database_url, revision=f"{int(previous_head) - 1:04d}")
    assert not migrations.is_current(DOMAIN, database_url)  # one revision behind
    migrations.upgrade(DOMAIN, database_url)
    assert migrations.is_current(DOMAIN, database_url)
