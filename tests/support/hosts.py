"""A landlord's catalogue through the public API: the operations and a few shortcuts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from common.clock import china_today
from tests.support.graphql import GraphQLClient, Result

BUSINESS_FIELDS = "id title info tags cancellationPolicy boss { id }"
HOMESTAY_FIELDS = """id title subTitle info peopleNum rowType foodInfo foodPrice homestayPrice
  marketHomestayPrice onSale business { id } landlord { id }"""

MY_BUSINESS = f"query MyHomestayBusiness {{ myHomestayBusiness {{ {BUSINESS_FIELDS} }} }}"
MY_HOMESTAYS = "query MyHomestays { myHomestays(first: 50) { edges { node { id onSale } } } }"
OPEN_BUSINESS = f"""mutation OpenHomestayBusiness($input: HomestayBusinessInput!) {{
  openHomestayBusiness(input: $input) {{ {BUSINESS_FIELDS} }} }}"""
UPDATE_BUSINESS = f"""mutation UpdateHomestayBusiness($input: UpdateHomestayBusinessInput!) {{
  updateHomestayBusiness(input: $input) {{ {BUSINESS_FIELDS} }} }}"""
CREATE_HOMESTAY = f"""mutation CreateHomestay($input: HomestayInput!) {{
  createHomestay(input: $input) {{ {HOMESTAY_FIELDS} }} }}"""
UPDATE_HOMESTAY = f"""mutation UpdateHomestay($id: ID!, $input: UpdateHomestayInput!) {{
  updateHomestay(id: $id, input: $input) {{ {HOMESTAY_FIELDS} }} }}"""
SET_ON_SALE = f"""mutation SetHomestayOnSale($id: ID!, $onSale: Boolean!) {{
  setHomestayOnSale(id: $id, onSale: $onSale) {{ {HOMESTAY_FIELDS} }} }}"""
HOMESTAY = f"query Homestay($id: ID!) {{ homestay(id: $id) {{ {HOMESTAY_FIELDS} }} }}"
BOOK = """mutation CreateHomestayOrder($input: CreateHomestayOrderInput!) {
  createHomestayOrder(input: $input) { sn homestayTotalPrice orderTotalPrice } }"""


def homestay_input(**overrides: Any) -> dict[str, Any]:
    """A valid `HomestayInput`, with `overrides` applied."""
    return {
        "title": "苍山脚下的小院",
        "subTitle": "推窗见山",
        "info": "两间卧室\n一个院子",
        "peopleNum": 4,
        "rowType": "PER_ROOM",
        "foodInfo": "早餐",
        "foodPrice": 2000,
        "homestayPrice": 30000,
        "marketHomestayPrice": 40000,
        **overrides,
    }


async def open_business(client: GraphQLClient, token: str, **fields: Any) -> dict[str, Any]:
    result = await client.execute(
        OPEN_BUSINESS, {"input": {"title": "大理的家", **fields}}, token=token
    )
    business: dict[str, Any] = result.ok()["openHomestayBusiness"]
    return business


async def create_homestay(client: GraphQLClient, token: str, **overrides: Any) -> dict[str, Any]:
    result = await client.execute(
        CREATE_HOMESTAY, {"input": homestay_input(**overrides)}, token=token
    )
    homestay: dict[str, Any] = result.ok()["createHomestay"]
    return homestay


async def set_on_sale(
    client: GraphQLClient, token: str, homestay_id: str, on_sale: bool = True
) -> dict[str, Any]:
    result = await client.execute(SET_ON_SALE, {"id": homestay_id, "onSale": on_sale}, token=token)
    homestay: dict[str, Any] = result.ok()["setHomestayOnSale"]
    return homestay


async def book(
    client: GraphQLClient, token: str, homestay_id: str, *, start_in: int, people: int = 2
) -> Result:
    """One night, `start_in` days from today (China time)."""
    start = china_today() + timedelta(days=start_in)
    stay = {
        "homestayId": homestay_id,
        "liveStartDate": start.isoformat(),
        "liveEndDate": (start + timedelta(days=1)).isoformat(),
        "livePeopleNum": people,
    }
    return await client.execute(BOOK, {"input": stay}, token=token)
