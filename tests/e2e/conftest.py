"""End-to-end fixtures beyond the suite-wide stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import Stack


@pytest.fixture(scope="module")
def background_settings() -> dict[str, str]:
    """Settings of the module's worker and scheduler; a module overrides this to change them."""
    return {}


@pytest.fixture(scope="module")
def background_jobs(
    stack: Stack,
    tmp_path_factory: pytest.TempPathFactory,
    background_settings: dict[str, str],
) -> Iterator[None]:
    """The worker and the scheduler, running for one test module only.

    The scheduler's sweeper, reconciler and relays act on every order and
    payment in the shared test databases, so they run only where a module asks.
    """
    metrics_dir: Path = tmp_path_factory.mktemp("worker-metrics")
    background = stack.start_background(metrics_dir, **background_settings)
    try:
        yield
    finally:
        background.stop_all(grace_seconds=30)
