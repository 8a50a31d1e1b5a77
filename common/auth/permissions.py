"""Permission classes, declared on the fields they guard."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from common.context import Info
from common.errors import ErrorCode


class IsAuthenticated(BasePermission):
    """The caller must present a valid access token."""

    message = "Please log in."
    error_extensions = {"code": ErrorCode.UNAUTHENTICATED.value}  # noqa: RUF012

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return await info.context.viewer.user_id() is not None
