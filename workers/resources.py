"""Connections of one worker process, made on first use and closed at shutdown.

Dramatiq runs every async actor of a process on one event loop, which pools
and clients are bound to; so each process makes its own, lazily, and actors
share them. Nothing connects at import: a worker for one domain never opens
another domain's database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.db import Database
from common.redis import process_redis
from common.settings import Domain, get_settings
from common.signals import install_publisher
from common.telemetry import instrument_engine

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from common.wechat.messages import SubscribeMessenger
    from common.wechat.pay import WeChatPayClient
    from subgraphs.orders.payments import PaymentsClient

# Small pools: a worker process runs a few actors at a time.
POOL_SIZE = 4

_databases: dict[Domain, Database] = {}
_redis: Redis | None = None
_wechat_pay: WeChatPayClient | None = None
_messenger: SubscribeMessenger | None = None
_payments: PaymentsClient | None = None


def database(domain: Domain) -> Database:
    if domain not in _databases:
        db = Database(get_settings().database_url(domain), pool_size=POOL_SIZE)
        instrument_engine(db.engine)  # a span per statement, as in the subgraphs
        _databases[domain] = db
    return _databases[domain]


def redis() -> Redis:
    global _redis
    if _redis is None:
        _redis = process_redis(get_settings())
    return _redis


def wechat_pay() -> WeChatPayClient:
    global _wechat_pay
    if _wechat_pay is None:
        from common.wechat.pay import WeChatPayClient

        _wechat_pay = WeChatPayClient(get_settings())
    return _wechat_pay


def messenger() -> SubscribeMessenger:
    global _messenger
    if _messenger is None:
        from common.wechat.messages import SubscribeMessenger

        _messenger = SubscribeMessenger(get_settings(), redis())
    return _messenger


def payments_client() -> PaymentsClient:
    """Orders' internal client to payments (the close job asks it before cancelling)."""
    global _payments
    if _payments is None:
        from subgraphs.orders.payments import PaymentsClient

        _payments = PaymentsClient(get_settings())
    return _payments


# Commits made by actors (an order paid, a refund staged) signal through this process's Redis.
install_publisher(redis)


async def dispose() -> None:
    """Close everything opened so far (tests call this between event loops)."""
    global _redis, _wechat_pay, _messenger, _payments
    for db in _databases.values():
        await db.dispose()
    _databases.clear()
    if _wechat_pay is not None:
        await _wechat_pay.aclose()
        _wechat_pay = None
    if _messenger is not None:
        await _messenger.aclose()
        _messenger = None
    if _payments is not None:
        await _payments.aclose()
        _payments = None
    if _redis is not None:
        await _redis.aclose()
        _redis = None
