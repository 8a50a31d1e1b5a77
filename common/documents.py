"""Bounds on a GraphQL document, checked around parsing and before validation.

graphql-core parses and validates recursively (selection sets, list values, fragment
spreads): a document nested a few hundred levels deep, or a chain of a few hundred
fragments, reaches Python's recursion limit. `DocumentLimits` refuses such documents
first, without recursion of its own:

- before parsing: the document's size (GRAPHQL_MAX_DOCUMENT_BYTES) and how deeply its
  brackets nest (GRAPHQL_MAX_NESTING), with GRAPHQL_PARSE_FAILED;
- after parsing, before validation: the nesting of selection sets *through* fragment
  spreads, each spread counting as a level (GRAPHQL_MAX_NESTING), with
  GRAPHQL_VALIDATION_FAILED.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from graphql import (
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from common.errors import ErrorCode
from common.limits import nesting_depth


@dataclass
class _Definition:
    """A definition's own selection depth and the fragments it spreads, by level."""

    depth: int = 0
    spreads: list[tuple[str, int]] = field(default_factory=list)


def _scan(selection_set: SelectionSetNode) -> _Definition:
    found = _Definition()
    pending: list[tuple[SelectionSetNode, int]] = [(selection_set, 1)]
    while pending:
        current, level = pending.pop()
        found.depth = max(found.depth, level)
        for selection in current.selections:
            if isinstance(selection, FragmentSpreadNode):
                found.spreads.append((selection.name.value, level))
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                pending.append((selection.selection_set, level + 1))
    return found


def effective_nesting(document: DocumentNode) -> int:
    """The deepest selection through fragment spreads (each spread is one more level).

    Iterative, memoised per fragment; a spread back into the fragments being expanded
    (a cycle, which validation reports) adds nothing.
    """
    definitions: dict[str, _Definition] = {}
    roots: list[_Definition] = []
    for definition in document.definitions:
        if isinstance(definition, ExecutableDefinitionNode):
            scanned = _scan(definition.selection_set)
            if isinstance(definition, FragmentDefinitionNode):
                definitions[definition.name.value] = scanned
            else:
                roots.append(scanned)
    depth_of: dict[str, int] = {}

    def resolve(name: str) -> int:
        # Post-order walk of the spread graph with an explicit stack.
        expanding: set[str] = {name}
        stack: list[tuple[str, Iterator[tuple[str, int]]]] = [
            (name, iter(definitions[name].spreads))
        ]
        while stack:
            current, spreads = stack[-1]
            for spread, _level in spreads:
                if spread in definitions and spread not in depth_of and spread not in expanding:
                    expanding.add(spread)
                    stack.append((spread, iter(definitions[spread].spreads)))
                    break
            else:
                stack.pop()
                expanding.discard(current)
                own = definitions[current]
                depth_of[current] = max(
                    [own.depth]
                    + [level + depth_of.get(s, 0) for s, level in own.spreads if s in definitions]
                )
        return depth_of[name]

    deepest = 0
    for root in roots:
        spread_depths = [level + resolve(s) for s, level in root.spreads if s in definitions]
        deepest = max(deepest, root.depth, *spread_depths)
    return deepest


def _refusal(message: str, code: ErrorCode) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code.value})


class DocumentLimits(SchemaExtension):
    """Refuse oversized or overly nested documents before graphql-core recurses into them.

    Configured by subclassing (schemas take extension classes): see `document_limits`.
    Place it before `ParserCache`, whose parse runs on entering `on_parse`.
    """

    max_bytes: ClassVar[int] = 32 * 1024
    max_nesting: ClassVar[int] = 40

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query or ""
        if len(query.encode()) > self.max_bytes:
            raise _refusal(
                f"The document is larger than {self.max_bytes} bytes.",
                ErrorCode.GRAPHQL_PARSE_FAILED,
            )
        if nesting_depth(query) > self.max_nesting:
            raise _refusal(
                f"The document nests deeper than {self.max_nesting} levels.",
                ErrorCode.GRAPHQL_PARSE_FAILED,
            )
        yield
        document = self.execution_context.graphql_document
        if document is not None and effective_nesting(document) > self.max_nesting:
            raise _refusal(
                f"The document nests deeper than {self.max_nesting} levels "
                "(fragment spreads included).",
                ErrorCode.GRAPHQL_VALIDATION_FAILED,
            )


def document_limits(max_bytes: int, max_nesting: int) -> type[DocumentLimits]:
    """`DocumentLimits` with the given bounds."""

    class BoundDocumentLimits(DocumentLimits):
        pass

    BoundDocumentLimits.max_bytes = max_bytes
    BoundDocumentLimits.max_nesting = max_nesting
    return BoundDocumentLimits
