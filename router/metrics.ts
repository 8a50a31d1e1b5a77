// Prometheus metrics whose labels a client cannot multiply, and the admin listener.
//
// Hive Gateway's defaults label metrics with the client's operation name (and the
// request URL, query string included): 2,000 made-up names made 2,000 series. Here the
// operation name becomes a label only if it is in the shared list of known operations
// (../common/operation_names.txt, the same list the subgraphs use); any other name
// counts as `other`, an unnamed operation as `anonymous`. No metric carries the URL or
// an error path (aliases make paths client-chosen too).
//
// ROUTER_ADMIN_PORT (default 4091 in production, unset in development): /metrics,
// /healthcheck and /readiness are served on that port, and /metrics is no longer
// served on the API port (in development, without an admin port, it stays there).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import {
  createCounter,
  createHistogram,
  type GatewayConfig,
} from '@graphql-hive/gateway';
import { register } from 'prom-client';

/** The operation names of the shared list (blank lines and `#` comments aside). */
export function readOperationNames(path: string): Set<string> {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    process.stderr.write(`operation names file ${path} not found: every name counts as other\n`);
  }
  const names = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  return new Set(names);
}

export function operationLabel(known: Set<string>) {
  return (name: string | null | undefined) => (!name ? 'anonymous' : known.has(name) ? name : 'other');
}

const OPERATION = ['operationName', 'operationType'] as const;
const SUBGRAPH = ['subgraphName', 'operationName', 'operationType'] as const;

/** The gateway's `prometheus` option with every operation-labelled metric redefined. */
export function prometheusOptions(known: Set<string>, endpoint: string | false): GatewayConfig['prometheus'] {
  const label = operationLabel(known);
  const registry = register;
  const operation = (params: any) => ({
    operationName: label(params.operationName),
    operationType: params.operationType ?? 'unknown',
  });
  const subgraph = ({ subgraphName, executionRequest }: any) => ({
    subgraphName,
    operationName: label(executionRequest?.operationName),
    operationType: executionRequest?.operationType ?? 'query',
  });
  const always = () => true;
  const histogram = (name: string, help: string, fill: (params: any, context: any) => any, labelNames: readonly string[] = OPERATION) =>
    createHistogram({ registry, histogram: { name, help, labelNames: [...labelNames] }, fillLabelsFn: fill, shouldObserve: always });
  const counter = (name: string, help: string, fill: (params: any, context: any) => any, labelNames: readonly string[] = OPERATION) =>
    createCounter({ registry, counter: { name, help, labelNames: [...labelNames] }, fillLabelsFn: fill, shouldObserve: always });

  return {
    endpoint: endpoint as string,
    metrics: {
      graphql_envelop_request: counter('graphql_envelop_request', 'GraphQL operations executed', operation),
      graphql_envelop_request_duration: histogram(
        'graphql_envelop_request_duration',
        'Time from parse to the end of execution',
        operation,
      ),
      // Off: per-request work no dashboard reads. A summary recomputes quantiles on
      // every observation, and the per-phase histograms add four observations per
      // request; request_duration (a histogram) already gives the quantiles, and
      // bench/router_costs.py measures what metrics cost per page.
      graphql_envelop_request_time_summary: false,
      graphql_envelop_error_result: counter(
        'graphql_envelop_error_result',
        'Errors reported, by phase',
        (params) => ({ ...operation(params), phase: params.errorPhase ?? 'unknown' }),
        [...OPERATION, 'phase'],
      ),
      graphql_envelop_phase_parse: false,
      graphql_envelop_phase_validate: false,
      graphql_envelop_phase_context: false,
      graphql_envelop_phase_execute: false,
      graphql_envelop_phase_subscribe: false,
      graphql_envelop_deprecated_field: false,
      graphql_envelop_execute_resolver: false,
      graphql_yoga_http_duration: histogram(
        'graphql_yoga_http_duration',
        'Time spent on HTTP requests',
        (params) => ({
          ...operation(params),
          method: params.request?.method ?? 'unknown',
          statusCode: params.response?.status ?? 0,
        }),
        [...OPERATION, 'method', 'statusCode'],
      ),
      graphql_gateway_subgraph_execute_duration: histogram(
        'graphql_gateway_subgraph_execute_duration',
        'Time spent on subgraph execution',
        subgraph,
        SUBGRAPH,
      ),
      graphql_gateway_subgraph_execute_errors: counter(
        'graphql_gateway_subgraph_execute_errors',
        'Errors of subgraph executions',
        subgraph,
        SUBGRAPH,
      ),
    } as any,
  };
}

/**
 * The admin listener: /metrics (this process's registry), /healthcheck (alive) and
 * /readiness (asks the API port's own readiness check).
 */
export function serveAdmin(host: string, port: number, apiUrl: string) {
  const server = createServer(async (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    try {
      if (path === '/metrics') {
        const body = await register.metrics();
        response.writeHead(200, { 'content-type': register.contentType }).end(body);
      } else if (path === '/healthcheck') {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      } else if (path === '/readiness') {
        const ready = await fetch(`${apiUrl}/readiness`).then((r) => r.ok, () => false);
        response.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ status: ready ? 'ok' : 'unavailable' }));
      } else {
        response.writeHead(404).end();
      }
    } catch {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    }
  });
  server.on('error', (error) => console.error(`[router] admin listener on ${host}:${port}:`, error));
  server.listen(port, host);
  server.unref();
  return server;
}
