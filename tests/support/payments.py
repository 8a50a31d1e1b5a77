"""Paying in tests: book, pay-init, and the payer's side played by the WeChat sandbox."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from common.clock import china_today
from tests.support.graphql import GraphQLClient, Result
from tests.support.users import Account

BOOK = """mutation($input: CreateHomestayOrderInput!) {
  createHomestayOrder(input: $input) { sn orderTotalPrice } }"""
PAY = """mutation($sn: ID!) { wxPayHomestayOrder(orderSn: $sn) {
  appId timeStamp nonceStr package signType paySign paymentSn } }"""
ORDER_WITH_PAYMENT = """query($sn: ID!) { homestayOrder(sn: $sn) {
  sn tradeState tradeCode orderTotalPrice
  payment { sn payStatus payTotal transactionId payTime } } }"""
PAYMENT_STATUS = """subscription($sn: ID!) { paymentStatus(orderSn: $sn) {
  sn orderSn payStatus payTotal transactionId payTime } }"""


async def book(
    router: GraphQLClient, guest: Account, homestay_id: int, *, start_in: int, nights: int = 1
) -> dict[str, Any]:
    start = china_today() + timedelta(days=start_in)
    variables = {
        "input": {
            "homestayId": str(homestay_id),
            "liveStartDate": start.isoformat(),
            "liveEndDate": (start + timedelta(days=nights)).isoformat(),
            "livePeopleNum": 1,
        }
    }
    order: dict[str, Any] = (await router.execute(BOOK, variables, token=guest.access_token)).ok()[
        "createHomestayOrder"
    ]
    return order


async def pay_init(router: GraphQLClient, guest: Account, order_sn: str) -> Result:
    return await router.execute(PAY, {"sn": order_sn}, token=guest.access_token)


def prepay_id(params: dict[str, Any]) -> str:
    package: str = params["package"]
    assert package.startswith("prepay_id=")
    return package[len("prepay_id=") :]


def verify_pay_sign(params: dict[str, Any], merchant_public_key: Path) -> None:
    """WeChat's JSAPI rule: RSA-SHA256 over appId, timeStamp, nonceStr and package lines."""
    key = serialization.load_pem_public_key(merchant_public_key.read_bytes())
    assert isinstance(key, rsa.RSAPublicKey)
    message = "".join(
        f"{params[name]}\n" for name in ("appId", "timeStamp", "nonceStr", "package")
    ).encode()
    key.verify(base64.b64decode(params["paySign"]), message, padding.PKCS1v15(), hashes.SHA256())


async def sandbox_pay(sandbox_url: str, prepay: str, *, notify: bool = True) -> dict[str, Any]:
    """The payer confirms in WeChat; with notify=False WeChat's notification is lost."""
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{sandbox_url}/sandbox/pay", json={"prepay_id": prepay, "notify": notify}
        )
    response.raise_for_status()
    paid: dict[str, Any] = response.json()
    return paid


async def sandbox_messages(sandbox_url: str, openid: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{sandbox_url}/sandbox/messages", params={"touser": openid})
    response.raise_for_status()
    body = response.json()
    messages: list[dict[str, Any]] = body["messages"] if isinstance(body, dict) else body
    return messages


async def pay_and_settle(
    router: GraphQLClient, sandbox_url: str, guest: Account, order_sn: str, *, within: float = 20.0
) -> dict[str, Any]:
    """Pay the order as its guest in the WeChat sandbox, then wait until it is WAIT_USE
    (the notification, the outbox relay and the worker must be running: `background_jobs`).
    Returns the order as its guest sees it (`ORDER_WITH_PAYMENT`)."""
    params = (await pay_init(router, guest, order_sn)).ok()["wxPayHomestayOrder"]
    await sandbox_pay(sandbox_url, prepay_id(params))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await router.execute(
            ORDER_WITH_PAYMENT, {"sn": order_sn}, token=guest.access_token
        )
        order: dict[str, Any] = result.ok()["homestayOrder"]
        if order["tradeState"] == "WAIT_USE":
            return order
        assert loop.time() < deadline, f"order {order_sn} stayed {order['tradeState']}"
        await asyncio.sleep(0.2)
