"""Query cost: the number of objects an operation may return, refused above a maximum.

The router estimates cost with Hive Gateway's `demandControl` from the `@listSize`
directives of the schema; each subgraph defends itself the same way, because it can be
called without the router (or the router misconfigured). The estimate follows the
gateway's model: every field returning an object costs 1, multiplied by the sizes of
the lists it is inside. A list's size is its page (`first`, default 10, capped at 50,
as `common.pagination` serves it), applied to `edges` of a connection; `_entities`
counts its representations; any other list of objects counts as a full page.

Runs on execution (variables are known then), after validation, iteratively: a
rejected request costs one walk of its document and no resolver.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
    is_composite_type,
    value_from_ast,
)
from strawberry.extensions import SchemaExtension

from common.errors import ErrorCode
from common.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

COST_ESTIMATED_TOO_EXPENSIVE = ErrorCode.COST_ESTIMATED_TOO_EXPENSIVE


def _is_list(type_: GraphQLOutputType) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _argument(field: GraphQLField, node: FieldNode, name: str, variables: Mapping[str, Any]) -> Any:
    definition = field.args.get(name)
    if definition is None:
        return None
    for argument in node.arguments or ():
        if argument.name.value == name:
            return value_from_ast(argument.value, definition.type, dict(variables))
    return definition.default_value


def _page(first: Any) -> int:
    if not isinstance(first, int) or isinstance(first, bool):
        return DEFAULT_PAGE_SIZE
    return max(1, min(first, MAX_PAGE_SIZE))


def _list_size(field: GraphQLField, node: FieldNode, variables: Mapping[str, Any]) -> int:
    if "first" in field.args:
        return _page(_argument(field, node, "first", variables))
    if node.name.value == "_entities":
        representations = _argument(field, node, "representations", variables)
        return max(len(representations), 1) if isinstance(representations, list) else 1
    return MAX_PAGE_SIZE


def estimate_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    """Objects the operation may return at most (iterative walk over its selections)."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    cost = 0
    # (selection set, its type, objects it is evaluated for, size of its `edges` if sized)
    pending: list[tuple[SelectionSetNode, GraphQLCompositeType, int, int | None]] = [
        (operation.selection_set, root, 1, None)
    ]
    while pending:
        selection_set, parent, times, edges_size = pending.pop()
        for selection in selection_set.selections:
            if isinstance(selection, FragmentSpreadNode | InlineFragmentNode):
                condition: NamedTypeNode | None
                if isinstance(selection, FragmentSpreadNode):
                    fragment = fragments.get(selection.name.value)
                    if fragment is None:
                        continue
                    condition, inner = fragment.type_condition, fragment.selection_set
                else:
                    condition, inner = selection.type_condition, selection.selection_set
                narrowed = schema.get_type(condition.name.value) if condition else parent
                if is_composite_type(narrowed):
                    pending.append((inner, narrowed, times, edges_size))
                continue
            if not isinstance(selection, FieldNode) or not isinstance(
                parent, GraphQLObjectType | GraphQLInterfaceType
            ):
                continue
            field = parent.fields.get(selection.name.value)
            if field is None or selection.selection_set is None:
                continue  # scalars and __typename cost nothing
            named = get_named_type(field.type)
            if not is_composite_type(named):
                continue
            objects = times
            inner_edges: int | None = None
            if edges_size is not None and selection.name.value == "edges":
                objects = times * edges_size
            elif "first" in field.args and not _is_list(field.type):
                # A connection: its page sizes `edges`.
                inner_edges = _list_size(field, selection, variables)
            elif _is_list(field.type):
                objects = times * _list_size(field, selection, variables)
            cost += objects
            pending.append((selection.selection_set, named, objects, inner_edges))
    return cost


class QueryCostLimit(SchemaExtension):
    """Refuse operations whose estimated cost exceeds `max_cost`, before any resolver runs.

    Configured by subclassing (schemas take extension classes): see `query_cost_limit`.
    """

    max_cost: ClassVar[int] = 5000

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = get_operation_ast(document, context.operation_name) if document else None
        if document is not None and operation is not None:
            definitions = document.definitions
            fragments = {
                d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)
            }
            variables = context.variables or {}
            cost = estimate_cost(context.schema._schema, operation, fragments, variables)
            if cost > self.max_cost:
                raise GraphQLError(
                    f"Operation estimated cost {cost} exceeded configured maximum {self.max_cost}.",
                    extensions={
                        "code": COST_ESTIMATED_TOO_EXPENSIVE.value,
                        "cost": {"estimated": cost, "max": self.max_cost},
                    },
                )
        yield


def query_cost_limit(max_cost: int) -> type[QueryCostLimit]:
    """`QueryCostLimit` with the given maximum."""

    class BoundQueryCostLimit(QueryCostLimit):
        pass

    BoundQueryCostLimit.max_cost = max_cost
    return BoundQueryCostLimit
