// Hive Gateway serving the looklook supergraph. Every value is an environment setting;
// see README.md beside this file.
import { resolve } from 'node:path';
import { defineConfig, type GatewayConfig, type GatewayPlugin } from '@graphql-hive/gateway';
import { GraphQLError, type ExecutionResult } from 'graphql';

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
// understood by the gateway's client). Headers do not travel on an upstream WebSocket,
// so the client's Authorization is passed in the connection_init payload instead.
const upstreamWebSocket = {
  options: {
    subscriptions: {
      kind: 'ws',
      location: '/graphql',
      options: { connectionParams: { authorization: '{context.headers.authorization}' } },
    },
  },
};

// graphql-js reports bad variables without a code; clients rely on BAD_USER_INPUT
// (the subgraphs code every other error themselves).
const codeBadVariables: GatewayPlugin = {
  onExecute() {
    return {
      onExecuteDone({ result, setResult }) {
        const single = result as ExecutionResult;
        if (!single?.errors?.some((e) => !e.extensions?.code)) return;
        setResult({
          ...single,
          errors: single.errors.map((error) =>
            error.extensions?.code || !error.message.startsWith('Variable "$')
              ? error
              : new GraphQLError(error.message, {
                  nodes: error.nodes,
                  source: error.source,
                  positions: error.positions,
                  path: error.path,
                  originalError: error.originalError,
                  extensions: { ...error.extensions, code: 'BAD_USER_INPUT' },
                }),
          ),
        });
      },
    };
  },
};

export const gatewayConfig: GatewayConfig = defineConfig({
  supergraph: resolve(env.SUPERGRAPH_PATH ?? '../schema/supergraph.graphql'),
  host: env.ROUTER_HOST ?? '127.0.0.1',
  port: int('ROUTER_PORT', 4000),
  graphqlEndpoint: '/graphql',
  healthCheckEndpoint: '/healthcheck',
  readinessCheckEndpoint: '/readiness',
  transportEntries: { '*.http': upstreamWebSocket, ...urlOverrides },
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const forwarded = request.headers.get('x-forwarded-for');
      return {
        authorization: request.headers.get('authorization') ?? undefined,
        traceparent: request.headers.get('traceparent') ?? undefined,
        tracestate: request.headers.get('tracestate') ?? undefined,
        'x-forwarded-for': forwarded ?? undefined,
      };
    },
  },
  upstreamTimeout: int('ROUTER_UPSTREAM_TIMEOUT_MS', 30_000),
  // Security limits built into the gateway.
  maxDepth: int('ROUTER_MAX_DEPTH', 12),
  maxTokens: int('ROUTER_MAX_TOKENS', 2000),
  blockFieldSuggestions: production,
  disableIntrospection: production,
  // A request a browser could send cross-site without a CORS preflight (a GET, a form
  // POST) must carry one of these non-simple headers; JSON POSTs are exempt already.
  csrfPrevention: { requestHeaders: ['x-graphql-csrf', 'authorization'] },
  graphiql: production ? false : { title: 'looklook GraphQL' },
  landingPage: !production,
  plugins: () => [codeBadVariables],
  prometheus: { endpoint: '/metrics', metrics: { graphql_envelop_request_time_summary: true } },
});
