"""ASGI app of the travel subgraph: `uvicorn subgraphs.travel.app:app --port 4002`."""

from common.app import create_subgraph_app
from common.resources import Resources
from common.settings import Domain
from common.storage.client import ObjectStorage
from subgraphs.travel.cache import TravelCache
from subgraphs.travel.peers import OrdersClient
from subgraphs.travel.schema import schema


def _components(resources: Resources) -> list[TravelCache | OrdersClient | ObjectStorage]:
    # Orders: reviews check the guest's stay. Object storage: landlords attach uploaded
    # covers and banners (coverKey, bannerKey).
    return [
        TravelCache(resources),
        OrdersClient(resources.settings),
        ObjectStorage(resources.settings),
    ]


app = create_subgraph_app(Domain.TRAVEL, schema, components=_components)
