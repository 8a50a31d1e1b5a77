"""The README's walkthroughs, run as written through the router, the subgraphs, the worker,
the scheduler and the WeChat sandbox (see "Walkthroughs that run" in the README).

A renamed field, a changed sandbox endpoint, a wrong Headers JSON or a step that no longer
leads to the next fails here, so the README cannot drift from the product.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from common.db import Database
from common.settings import PROJECT_ROOT, Settings
from tests.support import walkthrough
from tests.support.graphql import GraphQLClient
from tests.support.stack import Stack
from tests.support.travel import make_catalog
from tests.support.users import register

README = PROJECT_ROOT / "README.md"
STORIES = walkthrough.parse(README.read_text())


def _port(url: str) -> str:
    return str(urlsplit(url).port)


def _default_port(process: str) -> str:
    return str(Settings.model_fields[f"{process}_port"].default)


def _dev_ports(stack: Stack) -> dict[str, str]:
    """`make dev`'s ports (the settings' defaults) -> where the test stack listens."""
    ports = {
        _default_port("router"): _port(stack.router_url),
        _default_port("sandbox"): _port(stack.sandbox_url),
    }
    for domain, url in stack.subgraph_urls.items():
        ports[_default_port(domain.value)] = _port(url)
    return ports


@pytest.mark.usefixtures("background_jobs")  # the worker applies payments, sends messages
@pytest.mark.parametrize("name", sorted(STORIES))
async def test_the_readme_walkthrough_runs_as_written(
    name: str, stack: Stack, router: GraphQLClient, travel_db: Database
) -> None:
    # `make dev` seeds the catalog; the test stack starts empty, so the home page gets one.
    landlord = await register(router, nickname="README房东")
    await make_catalog(travel_db, [int(landlord.user_id)], homestays_per_business=1, preferred=1)
    run = walkthrough.Walkthrough(
        router_url=stack.router_url, ports=_dev_ports(stack), env=stack.env
    )
    await run.run(STORIES[name])
