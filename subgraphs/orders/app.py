"""ASGI app of the orders subgraph: `uvicorn subgraphs.orders.app:app --port 4003`."""

from common.app import create_subgraph_app
from common.resources import Resources
from common.settings import Domain
from subgraphs.orders.schema import schema
from subgraphs.orders.travel import TravelClient


def _components(resources: Resources) -> list[TravelClient]:
    return [TravelClient(resources.settings)]


app = create_subgraph_app(Domain.ORDERS, schema, components=_components)
