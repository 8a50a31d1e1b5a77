"""Build a subgraph's federated schema with the project's extensions, the same way everywhere."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import strawberry
from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.types import ExecutionContext

from common.cost import query_cost_limit
from common.documents import document_limits
from common.errors import ErrorCodes, ProductionErrorCodes, code_request_errors, log_errors
from common.metrics import graphql_metrics_extension
from common.settings import get_settings

# Federation 2.9: Strawberry's default @link version is newer than composition accepts.
FEDERATION_VERSION: Final = "2.9"


class SubgraphSchema(strawberry.federation.Schema):
    """A federation schema that logs only unexpected errors, with their tracebacks."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Parse errors never reach extensions; this hook sees every error list.
        code_request_errors(errors)
        log_errors(errors)


def _validation_rules() -> list[type[ASTValidationRule]]:
    """Built once: rule classes rebuilt per request would defeat the validation cache."""
    settings = get_settings()
    rules: list[type[ASTValidationRule]] = [
        max_depth_rule(settings.graphql_max_depth, None, None),
        max_aliases_rule(settings.graphql_max_aliases),
    ]
    if settings.is_production:
        # The router composes from the committed SDL: nothing needs live introspection
        # (`_service { sdl }` is a plain field and keeps working).
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules


def schema_extensions(service: str) -> list[type[SchemaExtension] | Callable[[], SchemaExtension]]:
    settings = get_settings()
    rules = _validation_rules()
    return [
        # Before ParserCache, which parses on entering `on_parse`.
        document_limits(settings.graphql_max_document_bytes, settings.graphql_max_nesting),
        lambda: AddValidationRules(rules),
        lambda: ParserCache(maxsize=1000),
        lambda: ValidationCache(maxsize=1000),
        query_cost_limit(settings.graphql_max_cost),
        # Production hides "Did you mean …?" (it would reveal field names).
        ProductionErrorCodes if settings.is_production else ErrorCodes,
        graphql_metrics_extension(service),
    ]


def build_schema(
    service: str,
    *,
    query: type,
    mutation: type | None = None,
    subscription: type | None = None,
    types: Iterable[type] = (),
    extra_extensions: Sequence[type[SchemaExtension] | Callable[[], SchemaExtension]] = (),
    **kwargs: Any,
) -> SubgraphSchema:
    return SubgraphSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=types,
        extensions=[*schema_extensions(service), *extra_extensions],
        federation_version=FEDERATION_VERSION,
        **kwargs,
    )
