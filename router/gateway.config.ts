// Hive Gateway serving the looklook supergraph. Every value is an environment setting;
// see README.md beside this file.
import { resolve } from 'node:path';
import { defineConfig, type GatewayConfig, type GatewayPlugin } from '@graphql-hive/gateway';
import { GraphQLError, type ExecutionResult } from 'graphql';
import { upstreamAgent, upstreamTransports } from './tls.ts';
import { compressPages, graphiqlOptions, renderGraphiQL } from './graphiql.ts';
import { guardProcess, requestLimits } from './limits.ts';
import { prometheusOptions, readOperationNames, serveAdmin } from './metrics.ts';
import { nameSubgraphOperations } from './subgraph-names.ts';

const env = process.env;
const production = env.ENV === 'production';
const int = (name: string, fallback: number) => Number.parseInt(env[name] ?? '', 10) || fallback;

// SUBGRAPH_<NAME>_URL overrides the routing URL composed into the supergraph, so the
// same supergraph file serves dev, tests (random ports) and containers (service names).
const urlOverrides = Object.fromEntries(
  Object.entries(env)
    .filter(([key, value]) => /^SUBGRAPH_[A-Z0-9_]+_URL$/.test(key) && value)
    .map(([key, value]) => [key.slice('SUBGRAPH_'.length, -'_URL'.length).toLowerCase(), { location: value }]),
);

// Subscriptions reach Strawberry subgraphs over WebSocket (its SSE framing is not
// understood by the gateway's client). `propagateHeaders` does not apply to an upstream
// WebSocket, so the client's Authorization (its HTTP header for SSE, its `connection_init`
// payload for WebSocket) is passed in the upstream `connection_init` payload, and
// X-Forwarded-For as a header of the upgrade request. The gateway opens one upstream
// socket per distinct (url, payload, headers): tokens (and clients) never share a socket.
//
// Identical queries in flight to a subgraph at the same time are sent once and share the
// answer (Hive Gateway's default); ROUTER_DEDUPLICATE_INFLIGHT=false turns that off, so
// a benchmark sees every request reach the subgraph.
const upstreamHttp = {
  options: {
    deduplicateInflightRequests: env.ROUTER_DEDUPLICATE_INFLIGHT !== 'false',
    subscriptions: {
      kind: 'ws',
      location: '/graphql',
      headers: [['x-forwarded-for', '{context.forwardedFor}']],
      options: { connectionParams: { authorization: '{context.headers.authorization}' } },
    },
  },
};

// X-Forwarded-For for subgraphs: the client's header (if any) extended with the address
// of the peer this router talks to, as a proxy does; a subgraph reads the first hop as
// the client's address (for per-client rate limits).
function forwardedFor(forwarded: string | null | undefined, remote: string | undefined) {
  const peer = remote?.replace(/^::ffff:/, '');
  if (forwarded && peer) return `${forwarded}, ${peer}`;
  return forwarded || peer || undefined;
}

// Puts `forwardedFor` on every context (HTTP and WebSocket), and over WebSocket
// lower-cases the keys of `context.headers` (where the gateway merges the client's
// `connection_init` payload as sent), so `{"Authorization": …}` works like
// `{"authorization": …}`.
const clientContext: GatewayPlugin = {
  onContextBuilding({ context, extendContext }) {
    const ctx = context as Record<string, any>;
    const remote: string | undefined =
      ctx.req?.socket?.remoteAddress ?? ctx.extra?.request?.socket?.remoteAddress;
    if (!ctx.connectionParams) {
      const request = ctx.request as Request | undefined;
      extendContext({
        forwardedFor: forwardedFor(request?.headers.get('x-forwarded-for'), remote),
      } as any);
      return;
    }
    const headers: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(ctx.headers ?? {})) {
      if (value != null && value !== '') headers[key.toLowerCase()] = value;
    }
    const upgrade = ctx.req?.headers ?? ctx.extra?.request?.headers ?? {};
    extendContext({
      headers,
      forwardedFor: forwardedFor(upgrade['x-forwarded-for'], remote),
    } as any);
  },
};

// graphql-js: 'Variable "$input" got invalid value "X" at "input.rowType"; Value …'.
const BAD_VARIABLE = /^Variable "\$(\w+)" got invalid value .*? at "([\w.[\]]+)";/s;
const BAD_WHOLE_VARIABLE = /^Variable "\$(\w+)" got invalid value/;

// `variable` and `field` of a bad variable (the innermost named step of its path), so a
// client can point at its input, as the subgraphs do (common/errors.py).
function inputDetails(message: string): Record<string, string> {
  const nested = BAD_VARIABLE.exec(message);
  if (nested) {
    const names = nested[2].split(/[.[\]]/).filter((step) => step && !/^\d+$/.test(step));
    return { variable: nested[1], field: names.at(-1) ?? nested[1] };
  }
  const whole = BAD_WHOLE_VARIABLE.exec(message);
  return whole ? { variable: whole[1], field: whole[1] } : {};
}

// Errors the gateway reports without a code get the codes clients already handle:
// parse-time limits (maxDepth, maxTokens) GRAPHQL_VALIDATION_FAILED, like any refused
// document, and bad variables (graphql-js's `Variable "$x" got invalid value …`)
// BAD_USER_INPUT (the subgraphs code every other error themselves). On the final result
// (`onResultProcess`), so it holds for either query planner: the Rust runtime reports
// variable errors without going through `onExecute`'s `onExecuteDone`.
const LIMIT_ERROR = /depth limit|token limit/i;
function missingCode(message: string): string | undefined {
  if (LIMIT_ERROR.test(message)) return 'GRAPHQL_VALIDATION_FAILED';
  if (message.startsWith('Variable "$')) return 'BAD_USER_INPUT';
  return undefined;
}
function withCodes(result: unknown): ExecutionResult | undefined {
  const single = result as ExecutionResult;
  if (!single || !Array.isArray(single.errors)) return undefined;
  if (!single.errors.some((e) => !e.extensions?.code && missingCode(e.message))) return undefined;
  return {
    ...single,
    errors: single.errors.map((error) => {
      const code = error.extensions?.code ? undefined : missingCode(error.message);
      return code
        ? new GraphQLError(error.message, {
            nodes: error.nodes,
            source: error.source,
            positions: error.positions,
            path: error.path,
            originalError: error.originalError,
            extensions: {
              ...error.extensions,
              ...(code === 'BAD_USER_INPUT' ? inputDetails(error.message) : {}),
              code,
            },
          })
        : error;
    }),
  };
}
// Both hooks: `onExecuteDone` also sees operations sent over WebSocket, `onResultProcess`
// every HTTP result whichever planner produced it.
const codeErrors: GatewayPlugin = {
  onExecute() {
    return {
      onExecuteDone({ result, setResult }) {
        const coded = withCodes(result);
        if (coded) setResult(coded);
      },
    };
  },
  onResultProcess({ result, setResult }) {
    const coded = withCodes(result);
    if (coded) setResult(coded);
  },
};

// OpenTelemetry: traces exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set
// (standard OTEL_* variables apply, e.g. OTEL_SERVICE_NAME); trace context is taken from
// the client's traceparent and propagated to subgraphs.
const otlpEndpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
if (otlpEndpoint) {
  const [{ openTelemetrySetup }, { OTLPTraceExporter }, { AsyncLocalStorageContextManager }] =
    await Promise.all([
      import('@graphql-hive/gateway/opentelemetry/setup'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/context-async-hooks'),
    ]);
  openTelemetrySetup({
    contextManager: new AsyncLocalStorageContextManager(),
    resource: { serviceName: env.OTEL_SERVICE_NAME ?? 'router' },
    traces: { exporter: new OTLPTraceExporter() },
  });
}

// Response cache for anonymous queries only (ROUTER_RESPONSE_CACHE_TTL_MS; 0 or unset: off).
// A request carrying an Authorization header never reads or fills the cache, so a
// token's private data (`me`, orders) can never reach anyone else, and a revoked
// token is never answered from the cache. Mutations are never cached; results with
// errors are not cached. Off by default: a shared anonymous entry may be up to one
// TTL stale after a write, which end-to-end tests that write then read would see.
const responseCacheTtl = Math.max(Number.parseInt(env.ROUTER_RESPONSE_CACHE_TTL_MS ?? '', 10) || 0, 0);
const responseCaching: GatewayConfig['responseCaching'] =
  responseCacheTtl > 0
    ? {
        ttl: responseCacheTtl,
        // Anonymous requests share one entry (null = public); tokens bypass (see `enabled`).
        session: (request) => request.headers.get('authorization') ?? null,
        enabled: (request) => !request.headers.get('authorization'),
        // Belt and braces: never cache the viewer, even if `enabled` changes.
        ttlPerSchemaCoordinate: { 'Query.me': 0 },
        // Mutations pass through untouched: evicting entries by the ids a mutation returns
        // needs `__typename` added to every selection of the mutation, and the Rust planner
        // sends a root `Mutation.__typename` to a subgraph of its own (an extra call, to
        // `orders` for a `users` mutation). Entries live one TTL instead.
        invalidateViaMutation: false,
      }
    : undefined;

// A query or mutation a subgraph has not answered in this long fails with GATEWAY_TIMEOUT.
// A subscription is open-ended by nature: timing it out would cut off every payment-status
// watcher after the limit (and the gateway aborts an already finished subscription's
// iterator when the timer fires), so subscriptions get no upstream timeout.
const upstreamTimeoutMs = int('ROUTER_UPSTREAM_TIMEOUT_MS', 30_000);
const upstreamTimeout: GatewayConfig['upstreamTimeout'] = ({ executionRequest }) =>
  executionRequest?.operationType === 'subscription' ? undefined : upstreamTimeoutMs;

// Front door: bounded requests, bounded cost, metrics that clients cannot multiply, and
// a process that outlives any single request (see limits.ts and metrics.ts).
guardProcess((message, error) => console.error(`[router] ${message}:`, error));
const limits = requestLimits({
  maxBodyBytes: int('ROUTER_MAX_BODY_BYTES', 1024 * 1024),
  maxJsonDepth: int('ROUTER_MAX_JSON_DEPTH', 32),
  maxDocumentBytes: int('ROUTER_MAX_DOCUMENT_BYTES', 32 * 1024),
});
// Query cost (Hive Gateway's demandControl): every object returned costs 1, times the
// list sizes it is inside, from the subgraphs' @listSize (the `first` argument) or
// ROUTER_ASSUMED_LIST_SIZE for lists without it. Over ROUTER_MAX_COST: refused with
// COST_ESTIMATED_TOO_EXPENSIVE before the subgraph is called.
const demandControl: GatewayConfig['demandControl'] = {
  maxCost: int('ROUTER_MAX_COST', 5000),
  listSize: int('ROUTER_ASSUMED_LIST_SIZE', 50),
  // ROUTER_REPORT_COST=true adds `extensions.cost: {estimated, max}` to every response.
  includeExtensionMetadata: env.ROUTER_REPORT_COST === 'true',
};
// Query planner. `rust` (the default): @graphql-hive/router-runtime, the Hive Router's
// query planner (Rust, shipped as a native module in the npm package) and its executor,
// the same runtime as the CLI's `--hive-router-runtime`; about a third less router CPU
// per page than `js`, the gateway's own JavaScript planner (@graphql-tools/federation),
// which stays a setting. The Rust planner sends anonymous subgraph operations;
// subgraph-names.ts names them after the client's operation, as the JS planner does.
// See README.md beside this file.
const queryPlanner = env.ROUTER_QUERY_PLANNER || 'rust';
if (queryPlanner !== 'rust' && queryPlanner !== 'js') {
  throw new Error(`ROUTER_QUERY_PLANNER must be rust or js, not ${JSON.stringify(queryPlanner)}`);
}
const unifiedGraphHandler: GatewayConfig['unifiedGraphHandler'] =
  queryPlanner === 'rust' ? (await import('@graphql-hive/router-runtime')).unifiedGraphHandler : undefined;

const adminPort = int('ROUTER_ADMIN_PORT', production ? 4091 : 0);
const apiHost = env.ROUTER_HOST ?? '127.0.0.1';
const apiPort = int('ROUTER_PORT', 4000);
if (adminPort) {
  const local = apiHost === '0.0.0.0' || apiHost === '::' ? '127.0.0.1' : apiHost;
  serveAdmin(env.ROUTER_ADMIN_HOST ?? apiHost, adminPort, `http://${local}:${apiPort}`);
}
const operationNames = readOperationNames(
  resolve(env.ROUTER_OPERATION_NAMES_FILE ?? '../common/operation_names.txt'),
);

export const gatewayConfig: GatewayConfig = defineConfig({
  supergraph: resolve(env.SUPERGRAPH_PATH ?? '../schema/supergraph.graphql'),
  unifiedGraphHandler,
  host: apiHost,
  port: apiPort,
  graphqlEndpoint: '/graphql',
  healthCheckEndpoint: '/healthcheck',
  readinessCheckEndpoint: '/readiness',
  transportEntries: { '*.http': upstreamHttp, ...urlOverrides },
  propagateHeaders: {
    fromClientToSubgraphs({ request, context }) {
      // Over WebSocket (queries and mutations sent on the socket) the client's headers are
      // the upgrade request's merged with its `connection_init` payload.
      const ctx = context as { connectionParams?: unknown; headers?: Record<string, string> };
      const header = (name: string) =>
        (ctx.connectionParams ? ctx.headers?.[name] : request.headers.get(name)) ?? undefined;
      return {
        authorization: header('authorization'),
        traceparent: header('traceparent'),
        tracestate: header('tracestate'),
        'x-forwarded-for': (context as { forwardedFor?: string }).forwardedFor,
      };
    },
  },
  upstreamTimeout,
  // Mutual TLS to subgraphs (tls.ts): HTTPS fetches and the wss:// subscription upstream.
  customAgent: upstreamAgent,
  transports: upstreamTransports,
  // Security limits built into the gateway.
  maxDepth: int('ROUTER_MAX_DEPTH', 12),
  maxTokens: int('ROUTER_MAX_TOKENS', 2000),
  blockFieldSuggestions: production,
  disableIntrospection: production,
  // A request a browser could send cross-site without a CORS preflight (a GET, a form
  // POST) must carry one of these non-simple headers; JSON POSTs are exempt already.
  csrfPrevention: { requestHeaders: ['x-graphql-csrf', 'authorization'] },
  graphiql: production ? false : graphiqlOptions,
  renderGraphiQL,
  landingPage: !production,
  demandControl,
  plugins: () => [limits, codeErrors, clientContext, nameSubgraphOperations, compressPages],
  responseCaching,
  prometheus: prometheusOptions(operationNames, adminPort ? false : '/metrics'),
  openTelemetry: otlpEndpoint ? { traces: true } : undefined,
});
