"""ASGI app of the payments subgraph: `uvicorn subgraphs.payments.app:app --port 4004`.

Besides GraphQL it serves WeChat Pay's notification callback, `POST /wechatpay/notify`.
"""

from common.app import create_subgraph_app
from common.auth.live import LiveSessions
from common.resources import AsyncClosable, Resources
from common.settings import Domain
from common.wechat.pay import WeChatPayClient
from subgraphs.payments import notify
from subgraphs.payments.live import StatusChannels
from subgraphs.payments.peers import Peers
from subgraphs.payments.schema import schema


def payments_components(resources: Resources) -> list[AsyncClosable]:
    return [
        WeChatPayClient(resources.settings),
        Peers(resources.settings),
        StatusChannels(resources.settings),
        LiveSessions(resources.settings),
    ]


app = create_subgraph_app(
    Domain.PAYMENTS, schema, components=payments_components, extra_routes=notify.routes
)
