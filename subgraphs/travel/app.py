"""ASGI app of the travel subgraph: `uvicorn subgraphs.travel.app:app --port 4002`."""

from common.app import create_subgraph_app
from common.resources import Resources
from common.settings import Domain
from subgraphs.travel.cache import TravelCache
from subgraphs.travel.peers import OrdersClient
from subgraphs.travel.schema import schema


def _components(resources: Resources) -> list[TravelCache | OrdersClient]:
    return [TravelCache(resources), OrdersClient(resources.settings)]


app = create_subgraph_app(Domain.TRAVEL, schema, components=_components)
