"""The seed's progress bar: rows written so far, and which table they went to."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from tqdm import tqdm  # type: ignore[import-untyped]


class Progress:
    """A tqdm bar on stderr; silent when disabled or when stderr is not a terminal (CI, pipes)."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self._bar: Any = tqdm(
            total=total,
            desc="demo data",
            unit=" rows",
            # None lets tqdm turn itself off when its stream is not a terminal.
            disable=None if enabled else True,
        )

    def advance(self, rows: int, table: str) -> None:
        self._bar.set_postfix_str(table, refresh=False)
        self._bar.update(rows)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._bar.close()
