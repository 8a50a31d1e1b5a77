"""The error model: stable `extensions.code` for expected failures, a mask for the rest.

Resolvers and services raise `DomainError` subclasses; clients branch on the code,
never on the message. Anything else is a bug: it is logged with its trace id by
`log_unexpected_errors` and reaches the client only as `INTERNAL_SERVER_ERROR`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import MaskErrors

logger = logging.getLogger("looklook.errors")


class ErrorCode(StrEnum):
    """Every code a client may see in `errors[].extensions.code`."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    HOMESTAY_UNAVAILABLE = "HOMESTAY_UNAVAILABLE"
    ORDER_NOT_PAYABLE = "ORDER_NOT_PAYABLE"
    CHECK_IN_NOT_OPEN = "CHECK_IN_NOT_OPEN"
    NOT_REFUNDABLE = "NOT_REFUNDABLE"
    WECHAT_ACCOUNT_REQUIRED = "WECHAT_ACCOUNT_REQUIRED"
    WECHAT_LOGIN_FAILED = "WECHAT_LOGIN_FAILED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    BAD_REQUEST = "BAD_REQUEST"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    COST_ESTIMATED_TOO_EXPENSIVE = "COST_ESTIMATED_TOO_EXPENSIVE"
    TOO_MANY_UNPAID_ORDERS = "TOO_MANY_UNPAID_ORDERS"
    TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class DomainError(Exception):
    """An expected failure with a client-facing message and a stable code."""

    code: ErrorCode = ErrorCode.INTERNAL_SERVER_ERROR
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)
        # graphql-core copies `extensions` of the original error into the response.
        self.extensions: dict[str, Any] = {"code": self.code.value, **details}


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED
    default_message = "Please log in."


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN
    default_message = "You are not allowed to do this."


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND
    default_message = "Not found."


class BadUserInput(DomainError):
    """Invalid input; `field` names the offending input field when there is one."""

    code = ErrorCode.BAD_USER_INPUT
    default_message = "Invalid input."

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        details = {"field": field} if field else {}
        super().__init__(message, **details)


class Conflict(DomainError):
    code = ErrorCode.CONFLICT
    default_message = "This conflicts with existing data."


class TooManyRequests(DomainError):
    code = ErrorCode.TOO_MANY_REQUESTS
    default_message = "Too many attempts, please try again later."

    def __init__(self, message: str | None = None, *, retry_after: int) -> None:
        super().__init__(message, retryAfter=retry_after)


class TooManySubscriptions(DomainError):
    code = ErrorCode.TOO_MANY_SUBSCRIPTIONS
    default_message = "You have too many live subscriptions open; close one first."


class PeerError(DomainError):
    """An expected error another subgraph answered an internal call with, passed on as is."""

    def __init__(self, message: str, code: ErrorCode, **details: Any) -> None:
        self.code = code
        super().__init__(message, **details)


class ServiceUnavailable(DomainError):
    code = ErrorCode.SERVICE_UNAVAILABLE
    default_message = "A dependent service is unavailable, please try again."


# A dependency that did not answer (Redis down or out of connections, the database
# unreachable or gone away): the request may well succeed later, so the client is told
# SERVICE_UNAVAILABLE, not that we have a bug.
OUTAGES: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, OperationalError)


def is_outage(error: GraphQLError) -> bool:
    return isinstance(error.original_error, OUTAGES)


def _intended_code(error: GraphQLError) -> str | None:
    """The code an error was raised with on purpose, or None for a bug."""
    original = error.original_error
    if isinstance(original, DomainError):
        return original.code.value
    if original is None or isinstance(original, GraphQLError):
        extensions: Mapping[str, Any] = error.extensions or {}
        code = extensions.get("code")
        return str(code) if code else None
    return None


def _is_request_error(error: GraphQLError) -> bool:
    """Raised by graphql-core or Strawberry about the request itself (parse, validation,
    input coercion), never by a resolver: such an error carries no exception of a bug."""
    return error.original_error is None or isinstance(error.original_error, GraphQLError)


# graphql-core: "Variable '$input' has invalid value at .liveStartDate: …" (or no path).
_VARIABLE_ERROR = re.compile(
    r"^Variable '\$(?P<variable>\w+)' (?:has|got) invalid value(?: at '?(?P<path>[\w.\[\]]+))?"
)


def _request_error_code(error: GraphQLError) -> ErrorCode:
    """Classify errors graphql-core raises before any resolver runs."""
    if isinstance(error, GraphQLSyntaxError):
        return ErrorCode.GRAPHQL_PARSE_FAILED
    if (
        error.message.startswith("Variable '$")
        or isinstance(error, StrawberryInputCoercionError)
        or isinstance(error.original_error, StrawberryInputCoercionError)
    ):
        # A value a scalar cannot parse (a `Date` of "2031-02-30", a number for a string…).
        return ErrorCode.BAD_USER_INPUT
    return ErrorCode.GRAPHQL_VALIDATION_FAILED


def _input_details(error: GraphQLError) -> dict[str, str]:
    """`variable` and `field` of a bad variable, so a client can point at its input."""
    match = _VARIABLE_ERROR.match(error.message)
    if match is None:
        return {}
    steps = [step for step in re.split(r"[.\[\]]", match["path"] or "") if step]
    names = [step for step in steps if not step.isdigit()]
    field = names[-1] if names else match["variable"]
    return {"variable": match["variable"], "field": field}


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors that come from a bug or an outage rather than the request."""
    return not _is_request_error(error) and _intended_code(error) is None


class ErrorCodes(MaskErrors):
    """Give every error a code; replace unexpected ones by a masked internal error."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message="Internal server error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        if is_outage(error):  # an outage says what it is, but no more (no hosts, no SQL)
            masked.message = ServiceUnavailable.default_message
            masked.extensions = {"code": ErrorCode.SERVICE_UNAVAILABLE.value}
        else:
            masked.extensions = {"code": ErrorCode.INTERNAL_SERVER_ERROR.value}
        return masked

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        code_request_errors(processed)
        return processed


# graphql-core's suggestions: 'Cannot query field "x" on type "User". Did you mean "y"?'
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


class ProductionErrorCodes(ErrorCodes):
    """`ErrorCodes` that also drops graphql-core's "Did you mean …?" suggestions, which
    would reveal the names of fields (and so the schema) to anyone probing."""

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        for error in processed:
            if "Did you mean" in error.message:
                error.message = _SUGGESTION.sub("", error.message)
        return processed


def code_request_errors(errors: list[GraphQLError]) -> None:
    """Give parse, validation and variable errors their code (graphql-core sets none)."""
    for error in errors:
        if _is_request_error(error) and not (error.extensions or {}).get("code"):
            code = _request_error_code(error)
            details = _input_details(error) if code is ErrorCode.BAD_USER_INPUT else {}
            error.extensions = {**(error.extensions or {}), **details, "code": code.value}


def log_errors(errors: list[GraphQLError]) -> None:
    """Log bugs with their traceback; expected errors only at debug level."""
    for error in errors:
        if is_unexpected(error):
            original = error.original_error
            logger.error(
                "unexpected error at %s: %s",
                ".".join(str(p) for p in error.path or ()),
                original,
                exc_info=(type(original), original, original.__traceback__)
                if original is not None
                else None,
            )
        else:
            logger.debug("request error: %s", error.message)
