"""End-to-end fixtures beyond the suite-wide stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import Stack


@pytest.fixture(scope="module")
def background_jobs(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The worker and the scheduler, running for one test module only.

    The scheduler's sweeper and relay act on every order in the shared test
    databases, so they run only where a module asks for them.
    """
    metrics_dir: Path = tmp_path_factory.mktemp("worker-metrics")
    background = stack.start_background(metrics_dir)
    try:
        yield
    finally:
        background.stop_all(grace_seconds=30)
