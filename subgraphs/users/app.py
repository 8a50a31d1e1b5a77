"""ASGI app of the users subgraph: `uvicorn subgraphs.users.app:app --port 4001`."""

from common.app import create_subgraph_app
from common.settings import Domain, Settings
from common.wechat.miniprogram import MiniProgramClient
from subgraphs.users.schema import schema


def _clients(settings: Settings) -> list[MiniProgramClient]:
    return [MiniProgramClient(settings)]


app = create_subgraph_app(Domain.USERS, schema, clients=_clients)
