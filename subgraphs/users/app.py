"""ASGI app of the users subgraph: `uvicorn subgraphs.users.app:app --port 4001`."""

from common.app import create_subgraph_app
from common.resources import Resources
from common.settings import Domain
from common.storage.client import ObjectStorage
from common.wechat.miniprogram import MiniProgramClient
from subgraphs.users import revocations
from subgraphs.users.cache import UsersCache
from subgraphs.users.schema import schema


def _components(resources: Resources) -> list[MiniProgramClient | UsersCache | ObjectStorage]:
    return [
        MiniProgramClient(resources.settings),
        UsersCache(resources),
        ObjectStorage(resources.settings),
    ]


app = create_subgraph_app(
    Domain.USERS,
    schema,
    components=_components,
    extra_routes=revocations.routes,
    token_versions=revocations.DatabaseRevocations,
)
