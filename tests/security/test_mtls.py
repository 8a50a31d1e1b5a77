"""Service identity: with TLS on, a subgraph talks only to holders of the project's certificates.

A separate stack (its own sandbox, subgraphs served by `looklook serve` with
TLS_ENABLED, and a router presenting its certificate) so the rest of the suite
keeps its plain stack. Each refusal is checked next to the same client with our
certificate being served, so a subgraph without mutual TLS fails these tests.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from common.certs import Authority, Identity, Role, ensure_certificates
from common.db import Database
from common.settings import Domain, Settings, TlsFiles
from common.tls import client_context
from tests.support.graphql import GraphQLClient
from tests.support.payments import PAYMENT_STATUS, book, pay_init, prepay_id, sandbox_pay
from tests.support.subscriptions import subscribe_ws
from tests.support.tls_stack import TlsStack
from tests.support.travel import Catalog, make_catalog
from tests.support.users import Account, register, wechat_account

pytestmark = pytest.mark.e2e

SETTLE_SECONDS = 20.0
PAYMENT_BY_ORDER = """query($sn: ID!) {
  paymentByOrder(orderSn: $sn) { sn payStatus transactionId } }"""
ORDER_ACROSS_SUBGRAPHS = """query($sn: ID!) { homestayOrder(sn: $sn) {
  sn tradeState homestay { id title } user { id nickname } } }"""


@pytest.fixture(scope="module")
def certs_dir(backend_env: dict[str, str]) -> Path:
    directory = Path(backend_env["DATA_DIR"]) / "certs"
    ensure_certificates(directory)
    return directory


@pytest.fixture(scope="module")
def tls_stack(backend_env: dict[str, str], certs_dir: Path) -> Iterator[TlsStack]:
    running = TlsStack(env={**os.environ, **backend_env, "TLS_ENABLED": "true"})
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def tls_router(tls_stack: TlsStack) -> GraphQLClient:
    return GraphQLClient(tls_stack.router_url)


@pytest.fixture(scope="module")
async def catalog(tls_router: GraphQLClient, travel_db: Database) -> Catalog:
    landlord = await register(tls_router, nickname="证书房东")
    return await make_catalog(
        travel_db, [int(landlord.user_id)], homestays_per_business=3, title_prefix="喜洲"
    )


def _identity(certs_dir: Path, name: str) -> TlsFiles:
    own = certs_dir / name
    return TlsFiles(ca=own / "ca.crt", cert=own / "tls.crt", key=own / "tls.key")


def _trusting_our_ca(certs_dir: Path) -> ssl.SSLContext:
    """A client that checks the subgraph's certificate but presents none of its own."""
    return ssl.create_default_context(cafile=str(certs_dir / "ca.crt"))


def _get_healthz(url: str, context: ssl.SSLContext) -> bytes:
    """One HTTP request over TLS; what the server answered (b"" if it closed)."""
    address = urlsplit(url)
    assert address.hostname and address.port
    with (
        socket.create_connection((address.hostname, address.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=address.hostname) as tls,
    ):
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: subgraph\r\nConnection: close\r\n\r\n")
        return tls.recv(4096)


def _assert_refused(url: str, context: ssl.SSLContext) -> None:
    """The handshake fails: a TLS alert, a reset or a closed socket, never an HTTP answer.

    (With TLS 1.3 the client's side of the handshake ends before the server has checked
    its certificate, so the refusal shows on the first read.)
    """
    try:
        answer = _get_healthz(url, context)
    except (ssl.SSLError, ConnectionResetError):
        return
    assert not answer, f"a subgraph answered a client it should refuse: {answer[:80]!r}"


def test_a_client_without_a_certificate_fails_the_handshake(
    tls_stack: TlsStack, certs_dir: Path
) -> None:
    url = tls_stack.subgraph_urls[Domain.USERS]
    with_ours = _trusting_our_ca(certs_dir)
    router = _identity(certs_dir, "router")
    with_ours.load_cert_chain(router.cert, router.key)
    assert _get_healthz(url, with_ours).startswith(b"HTTP/1.1 200")

    _assert_refused(url, _trusting_our_ca(certs_dir))


def test_a_certificate_from_another_ca_is_refused(
    tls_stack: TlsStack, certs_dir: Path, tmp_path: Path
) -> None:
    """A look-alike CA issuing a certificate named like the router's is not ours."""
    impostor = Authority.create("looklook development CA")
    impostor.write_identity(tmp_path / "router", Identity("router", Role.CLIENT))
    context = _trusting_our_ca(certs_dir)
    context.load_cert_chain(tmp_path / "router" / "tls.crt", tmp_path / "router" / "tls.key")
    for domain in (Domain.TRAVEL, Domain.PAYMENTS):
        url = tls_stack.subgraph_urls[domain]
        assert _get_healthz(url, client_context(_identity(certs_dir, "router")))
        _assert_refused(url, context)


async def test_our_processes_certificates_are_accepted(
    tls_stack: TlsStack, certs_dir: Path
) -> None:
    """The router's, a peer subgraph's and the background processes' certificates."""
    for name in ("router", "payments", "worker"):
        async with httpx.AsyncClient(verify=client_context(_identity(certs_dir, name))) as http:
            response = await http.post(
                tls_stack.subgraph_urls[Domain.ORDERS], json={"query": "{ __typename }"}
            )
        assert response.json() == {"data": {"__typename": "Query"}}, name


async def test_the_plain_port_serves_probes_but_never_graphql(tls_stack: TlsStack) -> None:
    plain = tls_stack.plain_urls[Domain.PAYMENTS]
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{plain}/readyz")).status_code == 200
        assert (await http.get(f"{plain}/metrics")).status_code == 200
        graphql = await http.post(f"{plain}/graphql", json={"query": "{ __typename }"})
        assert graphql.status_code == 404
        assert "__typename" not in graphql.text
        # The callback answers (a bad signature is refused by its own check, not hidden).
        notify = await http.post(f"{plain}/wechatpay/notify", json={})
        assert notify.status_code == 401
        assert (
            await http.post(f"{tls_stack.plain_urls[Domain.USERS]}/wechatpay/notify", json={})
        ).status_code == 404


async def test_booking_through_the_router_over_mutual_tls(
    tls_router: GraphQLClient, catalog: Catalog, settings: Settings
) -> None:
    """Booking makes orders ask travel for the price (an internal mTLS call); reading the
    order back joins orders, travel and users through the router."""
    guest = await register(tls_router, nickname="证书住客")
    order = await book(tls_router, guest, catalog.homestay_ids[0], start_in=40)
    assert order["orderTotalPrice"] > 0
    result = await tls_router.execute(
        ORDER_ACROSS_SUBGRAPHS, {"sn": order["sn"]}, token=guest.access_token
    )
    read = result.ok()["homestayOrder"]
    assert read["tradeState"] == "WAIT_PAY"
    assert read["homestay"]["id"] == str(catalog.homestay_ids[0])
    assert read["homestay"]["title"].startswith("喜洲")
    assert read["user"] == {"id": guest.user_id, "nickname": "证书住客"}


async def test_pay_over_mutual_tls_with_wechat_calling_back_in_plain(
    tls_router: GraphQLClient, tls_stack: TlsStack, catalog: Catalog
) -> None:
    """Pay-init (payments asks orders and users), the status subscription over the
    router's wss:// upstream, and WeChat's notification on the plain listener."""
    payer: Account = await wechat_account(tls_router, tls_stack.sandbox_url, "证书付款人")
    order = await book(tls_router, payer, catalog.homestay_ids[1], start_in=41)
    params = (await pay_init(tls_router, payer, order["sn"])).ok()["wxPayHomestayOrder"]
    async with subscribe_ws(
        tls_router.url, PAYMENT_STATUS, {"sn": order["sn"]}, token=payer.access_token
    ) as live:
        first = (await live.next())["paymentStatus"]
    assert first == {
        "sn": params["paymentSn"],
        "orderSn": order["sn"],
        "payStatus": "WAITING",
        "payTotal": order["orderTotalPrice"],
        "transactionId": None,
        "payTime": None,
    }
    # The sandbox, playing WeChat, notifies payments at its plain /wechatpay/notify; the
    # payment is SUCCESS once it has (the wake-up of subscribers is the worker's job).
    paid = await sandbox_pay(tls_stack.sandbox_url, prepay_id(params))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    while True:
        result = await tls_router.execute(
            PAYMENT_BY_ORDER, {"sn": order["sn"]}, token=payer.access_token
        )
        payment = result.ok()["paymentByOrder"]
        if payment["payStatus"] != "WAITING" or loop.time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert payment == {
        "sn": params["paymentSn"],
        "payStatus": "SUCCESS",
        "transactionId": paid["transaction_id"],
    }
