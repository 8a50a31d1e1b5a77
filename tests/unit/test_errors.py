"""The error model: coded domain errors pass, bugs are masked and logged."""

from __future__ import annotations

import logging

import pytest
import strawberry
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError

from common.errors import BadUserInput
from common.schema import build_schema


@strawberry.type
class Node:
    @strawberry.field
    def child(self) -> Node:
        return Node()


@strawberry.type
class Query:
    @strawberry.field
    def node(self) -> Node:
        return Node()

    @strawberry.field
    def domain_failure(self) -> str:
        raise BadUserInput("Dates are reversed.", field="liveEndDate")

    @strawberry.field
    def bug(self) -> str:
        raise RuntimeError("secret connection string leaked")

    @strawberry.field
    def fine(self) -> str:
        return "ok"


schema = build_schema("errors-test", query=Query)


async def test_domain_error_keeps_message_and_code() -> None:
    result = await schema.execute("{ domainFailure }")
    assert result.errors
    error = result.errors[0].formatted
    assert error["message"] == "Dates are reversed."
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "liveEndDate"}


async def test_unexpected_error_is_masked_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="looklook.errors"):
        result = await schema.execute("{ bug fine }")
    assert result.data is None  # a non-null field failed, so nothing is returned
    error = result.errors[0].formatted if result.errors else {}
    assert error["message"] == "Internal server error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "secret connection string" not in str(error)
    assert any("secret connection string leaked" in r.getMessage() for r in caplog.records)
    assert any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    ("query", "code"),
    [("{ fine", "GRAPHQL_PARSE_FAILED"), ("{ nope }", "GRAPHQL_VALIDATION_FAILED")],
)
async def test_request_errors_get_codes(query: str, code: str) -> None:
    result = await schema.execute(query)
    assert result.errors and result.errors[0].formatted["extensions"]["code"] == code


async def test_too_deep_queries_are_refused() -> None:
    def nested(depth: int) -> str:
        inner = "__typename"
        for _ in range(depth - 1):
            inner = f"child {{ {inner} }}"
        return f"{{ node {{ {inner} }} }}"

    assert not (await schema.execute(nested(12))).errors
    result = await schema.execute(nested(13))
    assert result.errors and "exceeds maximum operation depth" in result.errors[0].message


@strawberry.type
class OutageQuery:
    @strawberry.field
    def redis_down(self) -> str:
        raise RedisConnectionError("Error 111 connecting to 10.0.0.7:6379. Connection refused.")

    @strawberry.field
    def database_gone(self) -> str:
        raise OperationalError("SELECT secret", {}, Exception("(2003) Can't connect to db-host"))


outage_schema = build_schema("errors-outage-test", query=OutageQuery)


@pytest.mark.parametrize("field", ["redisDown", "databaseGone"])
async def test_an_outage_is_service_unavailable_without_details(field: str) -> None:
    result = await outage_schema.execute(f"{{ {field} }}")
    error = result.errors[0].formatted if result.errors else {}
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE"}
    assert "10.0.0.7" not in str(error) and "db-host" not in str(error)
