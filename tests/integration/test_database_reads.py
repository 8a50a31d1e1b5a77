"""Reads on the real database: a single read sends no transaction around it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event, text

from common.db import Database, is_sqlite


@pytest.fixture
def statements(travel_db: Database) -> Iterator[list[str]]:
    """Every statement sent to the travel database during the test, BEGIN included."""
    seen: list[str] = []

    def record(_c: object, _cur: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(travel_db.engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(travel_db.engine.sync_engine, "before_cursor_execute", record)


async def test_reads_run_without_a_transaction(travel_db: Database, statements: list[str]) -> None:
    async with travel_db.read() as connection:
        assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    assert statements == ["SELECT 1"]

    statements.clear()
    async with travel_db.write_session() as session:
        await session.execute(text("SELECT 1"))
    expected = ["BEGIN IMMEDIATE", "SELECT 1"] if is_sqlite(travel_db.url) else ["SELECT 1"]
    assert statements == expected
