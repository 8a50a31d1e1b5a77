"""Subscriptions stay authenticated for as long as they live, through the real router.

A WebSocket outlives its token: every subscribe re-checks it, logout ends the
user's running subscriptions, one user cannot take every slot of a process, and
auth failures reach the client as UNAUTHENTICATED on WebSocket and SSE alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from common.db import Database
from tests.support.graphql import GraphQLClient
from tests.support.payments import PAYMENT_STATUS, book, pay_init
from tests.support.stack import Stack
from tests.support.subscriptions import (
    LiveSubscription,
    SubscriptionError,
    subscribe_sse,
    subscribe_ws,
)
from tests.support.travel import Catalog, make_catalog
from tests.support.users import Account, register, wechat_account

pytestmark = pytest.mark.e2e

LOGOUT = "mutation { logout }"
# Each watched order books its own night, days ahead.
_nights = itertools.count(20)


@pytest.fixture(scope="module")
async def catalog(router: GraphQLClient, travel_db: Database) -> Catalog:
    landlord = await register(router, nickname="订阅房东")
    return await make_catalog(
        travel_db, [int(landlord.user_id)], homestays_per_business=4, title_prefix="订阅"
    )


async def _watched_order(
    router: GraphQLClient, stack: Stack, catalog: Catalog
) -> tuple[Account, str]:
    """A WeChat user with a payment started on their order: something to subscribe to."""
    payer = await wechat_account(router, stack.sandbox_url, "订阅住客")
    order = await book(router, payer, catalog.homestay_ids[0], start_in=next(_nights))
    assert (await pay_init(router, payer, order["sn"])).ok()
    return payer, order["sn"]


@asynccontextmanager
async def _socket(router_url: str, token: str) -> AsyncIterator[AsyncClientSession]:
    """One client WebSocket to the router, for several subscriptions."""
    transport = WebsocketsTransport(
        url=router_url.replace("http://", "ws://", 1),
        init_payload={"authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        yield session


class Ended(Exception):
    """The server completed the subscription without an error."""


@asynccontextmanager
async def _subscription(
    session: AsyncClientSession, order_sn: str
) -> AsyncIterator[LiveSubscription]:
    """A subscription on an open socket, its events and its end queued for the test."""
    live = LiveSubscription()

    async def pump() -> None:
        request = GraphQLRequest(PAYMENT_STATUS, variable_values={"sn": order_sn})
        try:
            async for data in session.subscribe(request):
                live.put(data)
            live.put(Ended())
        except TransportQueryError as error:
            live.put(SubscriptionError(list(error.errors or [])))

    task = asyncio.create_task(pump())
    try:
        yield live
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _refusal(live: LiveSubscription) -> list[str]:
    with pytest.raises(SubscriptionError) as refused:
        await live.next()
    return refused.value.codes


@pytest.mark.parametrize("transport", ["websocket", "sse"])
@pytest.mark.parametrize("token", [None, "not-a-jwt"])
async def test_anonymous_or_bad_token_subscription_is_unauthenticated(
    router: GraphQLClient, stack: Stack, catalog: Catalog, transport: str, token: str | None
) -> None:
    _, order_sn = await _watched_order(router, stack, catalog)
    subscribe = subscribe_ws if transport == "websocket" else subscribe_sse
    async with subscribe(router.url, PAYMENT_STATUS, {"sn": order_sn}, token=token) as live:
        assert await _refusal(live) == ["UNAUTHENTICATED"]


async def test_logout_ends_running_subscriptions_and_refuses_new_ones_on_the_socket(
    router: GraphQLClient, stack: Stack, catalog: Catalog
) -> None:
    payer, order_sn = await _watched_order(router, stack, catalog)
    bystander, bystander_sn = await _watched_order(router, stack, catalog)
    async with (
        _socket(router.url, payer.access_token) as socket,
        _socket(router.url, bystander.access_token) as other_socket,
        _subscription(socket, order_sn) as running,
        _subscription(other_socket, bystander_sn) as unaffected,
    ):
        assert (await running.next())["paymentStatus"]["payStatus"] == "WAITING"
        assert (await unaffected.next())["paymentStatus"]["payStatus"] == "WAITING"

        assert (await router.execute(LOGOUT, token=payer.access_token)).ok() == {"logout": True}

        # The running one ends at once (the logout is announced), not at the next re-check.
        assert await _refusal(running) == ["UNAUTHENTICATED"]
        async with _subscription(socket, order_sn) as second:
            assert await _refusal(second) == ["UNAUTHENTICATED"]
        # Another user's subscription goes on, and they can still open more.
        async with _subscription(other_socket, bystander_sn) as more:
            assert (await more.next())["paymentStatus"]["payStatus"] == "WAITING"
        with pytest.raises(TimeoutError):
            await unaffected.next(within=1.0)


async def test_one_user_holds_at_most_the_per_user_cap(
    router: GraphQLClient, stack: Stack, catalog: Catalog, settings: Any
) -> None:
    cap = settings.max_live_subscriptions_per_user
    payer, order_sn = await _watched_order(router, stack, catalog)
    other, other_sn = await _watched_order(router, stack, catalog)
    async with contextlib.AsyncExitStack() as held:
        socket = await held.enter_async_context(_socket(router.url, payer.access_token))
        for _ in range(cap):
            live = await held.enter_async_context(_subscription(socket, order_sn))
            assert (await live.next())["paymentStatus"]["payStatus"] == "WAITING"
        # Another socket of the same user does not get around the cap.
        extra_socket = await held.enter_async_context(_socket(router.url, payer.access_token))
        async with _subscription(extra_socket, order_sn) as one_too_many:
            assert await _refusal(one_too_many) == ["TOO_MANY_SUBSCRIPTIONS"]
        # Others are not affected.
        async with (
            _socket(router.url, other.access_token) as other_socket,
            _subscription(other_socket, other_sn) as theirs,
        ):
            assert (await theirs.next())["paymentStatus"]["payStatus"] == "WAITING"
    # Closed subscriptions give their slots back.
    async with (
        _socket(router.url, payer.access_token) as socket,
        _subscription(socket, order_sn) as again,
    ):
        assert (await again.next())["paymentStatus"]["payStatus"] == "WAITING"
