// Service identity: with TLS_ENABLED the router calls subgraphs over HTTPS presenting its
// own certificate (mutual TLS), and trusts only the project's CA for theirs. Subgraphs
// refuse any caller without a certificate from that CA (see README, "Service identity").
//
// Files (cert-manager secret names): TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE; defaults
// are what `looklook certs` writes under DATA_DIR/certs/router/. Subgraph URLs must be
// https:// then (SUBGRAPH_<NAME>_URL): plain http:// upstreams get no certificate.
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { resolve } from 'node:path';
import type { GatewayConfig } from '@graphql-hive/gateway';
import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import WebSocket from 'ws';
import wsTransport from '@graphql-mesh/transport-ws';

const env = process.env;
// The truthy spellings pydantic accepts for the Python processes' TLS_ENABLED.
export const tlsEnabled = /^(1|true|t|yes|y|on)$/i.test(env.TLS_ENABLED ?? '');

function loadIdentity() {
  const dir = resolve(env.DATA_DIR ?? '../data', 'certs', 'router');
  const read = (variable: string, name: string) => readFileSync(env[variable] || resolve(dir, name));
  return { ca: read('TLS_CA_FILE', 'ca.crt'), cert: read('TLS_CERT_FILE', 'tls.crt'), key: read('TLS_KEY_FILE', 'tls.key') };
}

// Read once at start: a renewed certificate takes a restart (a rolling one).
const identity = tlsEnabled ? loadIdentity() : undefined;

// HTTP upstream (queries, mutations, entity fetches): Hive Gateway's `customAgent` gives
// every upstream fetch this keep-alive agent, so the handshake is paid once per socket.
const agent = identity ? new Agent({ ...identity, keepAlive: true }) : undefined;
export const upstreamAgent: GatewayConfig['customAgent'] = agent
  ? ({ url }) => (url.startsWith('https:') ? agent : undefined)
  : undefined;

// WebSocket upstream (subscriptions). `@graphql-mesh/transport-ws` spreads the transport
// entry's options into `buildGraphQLWSExecutor`, which ignores a `webSocketImpl` there
// (it always uses its own WebSocket class) but takes the object as a ready graphql-ws
// client when it has a `subscribe` method. Transport entries are printed into the
// supergraph, so functions cannot be configured there: the `ws` transport is wrapped
// instead and adds these methods to the entry's options at run time. They turn the
// merged options (url, headers, interpolated connectionParams, `on` hooks) into a
// graphql-ws client over a `ws` socket carrying the router's certificate, one per
// options object (the transport makes one per upstream URL, token and headers).
type MergedOptions = Pick<ClientOptions, 'url' | 'lazyCloseTimeout' | 'on'> & {
  headers?: Record<string, string>;
  connectionParams?: Record<string, unknown>;
  onClient?: (client: Client) => void;
};
const clients = new WeakMap<object, Client>();

function clientFor(options: MergedOptions): Client {
  let client = clients.get(options);
  if (!client) {
    const tlsOptions = { ...identity, headers: options.headers };
    class TlsWebSocket extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols, tlsOptions);
      }
    }
    client = createClient({
      url: options.url,
      webSocketImpl: TlsWebSocket,
      lazy: true,
      lazyCloseTimeout: options.lazyCloseTimeout ?? 0,
      connectionParams: options.connectionParams,
      on: options.on,
    });
    clients.set(options, client);
    options.onClient?.(client);
  }
  return client;
}

const asTlsClient = {
  subscribe(this: MergedOptions, ...args: Parameters<Client['subscribe']>) {
    return clientFor(this).subscribe(...args);
  },
  iterate(this: MergedOptions, ...args: Parameters<Client['iterate']>) {
    return clientFor(this).iterate(...args);
  },
  dispose(this: MergedOptions) {
    return clients.get(this)?.dispose();
  },
  terminate(this: MergedOptions) {
    clients.get(this)?.terminate();
  },
};

type WsGetSubgraphExecutor = typeof wsTransport.getSubgraphExecutor;
const tlsWsTransport = {
  getSubgraphExecutor(...[payload, ...rest]: Parameters<WsGetSubgraphExecutor>) {
    const { transportEntry } = payload;
    const options = { ...transportEntry.options, ...asTlsClient };
    return wsTransport.getSubgraphExecutor({ ...payload, transportEntry: { ...transportEntry, options } }, ...rest);
  },
};

// Every other transport kind loads as Hive Gateway's default getter loads it.
export const upstreamTransports: GatewayConfig['transports'] = identity
  ? (kind) => (kind === 'ws' ? tlsWsTransport : import(`@graphql-mesh/transport-${kind}`))
  : undefined;
