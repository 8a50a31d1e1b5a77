"""The committed SDL in schema/ must match the code: run `make compose` after changing types."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from common.cli import SCHEMA_DIR, export_sdl
from common.devrunner import ROUTER_DIR
from common.subgraphs import available_domains


@pytest.mark.parametrize("domain", available_domains(), ids=lambda d: d.value)
def test_subgraph_sdl_is_committed(domain) -> None:  # type: ignore[no-untyped-def]
    committed = (SCHEMA_DIR / f"{domain.value}.graphql").read_text()
    assert export_sdl(domain) == committed, "schema/ is stale: run `make compose`"


def test_supergraph_is_composed_from_the_committed_sdl(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is required to compose the supergraph"
    out = tmp_path / "supergraph.graphql"
    subprocess.run(  # noqa: S603
        [node, "compose.mjs", "--out", str(out)], cwd=ROUTER_DIR, check=True, capture_output=True
    )
    assert out.read_text() == (SCHEMA_DIR / "supergraph.graphql").read_text(), (
        "schema/supergraph.graphql is stale: run `make compose`"
    )
