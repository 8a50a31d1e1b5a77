// Subgraph operations carry the client's operation name.
//
// Why: each subgraph labels its metrics and logs with the operation name it receives
// (checked against the shared list, common/operation_names.txt). The JavaScript planner
// names the operations it sends after the client's operation; the Rust planner
// (@graphql-hive/router-runtime) sends anonymous ones, so every routed operation would
// count as `anonymous` at the subgraphs. This plugin names an anonymous subgraph
// operation after the client's operation, whichever planner made it.
//
// The client's name is read once per request from the operation the gateway executes
// (`onExecute`), not from the request body, so a document with one named operation and
// no `operationName` field is named too. Renamed documents are kept per planned
// document (the planner caches its fetch documents with its plans), so a request pays
// for a WeakMap lookup, and the HTTP transport's print cache sees the same object.
import type { GatewayPlugin } from '@graphql-hive/gateway';
import { getOperationAST, Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';

const clientOperationNames = new WeakMap<object, string>();
const namedDocuments = new WeakMap<DocumentNode, Map<string, DocumentNode>>();

/** `document` with its single anonymous operation named `name` (else `document`). */
export function withOperationName(document: DocumentNode, name: string): DocumentNode {
  let byName = namedDocuments.get(document);
  const known = byName?.get(name);
  if (known) return known;
  const operations = document.definitions.filter(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
  if (operations.length !== 1 || operations[0].name) return document;
  const named: DocumentNode = {
    ...document,
    definitions: document.definitions.map((definition) =>
      definition === operations[0] ? { ...operations[0], name: { kind: Kind.NAME, value: name } } : definition,
    ),
  };
  if (!byName) namedDocuments.set(document, (byName = new Map()));
  byName.set(name, named);
  return named;
}

export const nameSubgraphOperations: GatewayPlugin = {
  onExecute({ args }) {
    const name = getOperationAST(args.document, args.operationName)?.name?.value;
    if (name && args.contextValue) clientOperationNames.set(args.contextValue, name);
  },
  onSubgraphExecute({ executionRequest, setExecutionRequest }) {
    if (executionRequest.operationName || !executionRequest.context) return;
    const name = clientOperationNames.get(executionRequest.context);
    if (!name) return;
    const document = withOperationName(executionRequest.document, name);
    if (document !== executionRequest.document) {
      setExecutionRequest({ ...executionRequest, document, operationName: name });
    }
  },
};
