"""Permission classes, declared on the fields they guard."""

from __future__ import annotations

import hmac
from typing import Any

import strawberry
from strawberry.permission import BasePermission

from common.context import Info
from common.errors import ErrorCode
from common.internal import INTERNAL_TOKEN_HEADER


class IsAuthenticated(BasePermission):
    """The caller must present a valid access token."""

    message = "Please log in."
    error_extensions = {"code": ErrorCode.UNAUTHENTICATED.value}  # noqa: RUF012

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return await info.context.viewer.user_id() is not None


class IsInternalCaller(BasePermission):
    """Another subgraph or a worker, proven by the shared INTERNAL_TOKEN.

    Guards internal writes (settle or close an order's payment, take a payment)
    that are also hidden from the public API (`inaccessible`): the router never
    routes them, and a caller that reaches the subgraph directly needs the secret.
    """

    message = "Internal call refused."
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}  # noqa: RUF012

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        presented = info.context.request.headers.get(INTERNAL_TOKEN_HEADER, "")
        expected = info.context.resources.settings.internal_token
        return hmac.compare_digest(presented.encode(), expected.encode())


def internal_field(*, description: str) -> Any:
    """A field only our own processes may use: hidden from the router (`inaccessible`)
    and refused without INTERNAL_TOKEN. One decorator, so no internal field can carry
    one half of that and not the other."""
    return strawberry.federation.field(
        inaccessible=True, permission_classes=[IsInternalCaller], description=description
    )


# Strawberry's mutation decorator is its field decorator; the name says which root it is on.
internal_mutation = internal_field
