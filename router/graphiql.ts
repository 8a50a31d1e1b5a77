// GraphiQL, the developers' explorer at GET /graphql (never in production).
//
// The page is @graphql-yoga/render-graphiql: GraphiQL, its editors' workers and the docs
// explorer bundled into one HTML page (≈ 9 MB uncompressed, no CDN), so it works offline.
// It reads the schema from this router by introspection. Subscriptions go over SSE: an
// SSE request is an ordinary HTTP request carrying the Headers editor's headers
// (Authorization included), which the router passes on to the subgraph; over WebSocket
// GraphiQL would not send them in `connection_init`.
//
// The page is sent compressed (brotli or gzip, as the browser accepts) from a copy
// compressed once, on first use: compressing 9 MB on every load would cost the router
// 0.4–1.6 s of CPU each time. Only GET text/html responses are touched; GraphQL results are not.
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import type { GatewayConfig, GatewayPlugin } from '@graphql-hive/gateway';
import { renderGraphiQL as renderBundledGraphiQL } from '@graphql-yoga/render-graphiql';

type GraphiQLOptions = Exclude<NonNullable<GatewayConfig['graphiql']>, boolean | ((...args: never[]) => unknown)>;

// The mini-program's home page on the demo data (README: `make dev` seeds it).
export const HOME_PAGE_QUERY = `# The mini-program's home page. Ctrl+Enter runs it;
# the book icon on the left opens the docs.
# Signed in? Put the token in Headers below:
#   {"Authorization": "Bearer <accessToken>"}
query HomePage {
  preferredHomestays(first: 5) {
    edges {
      node {
        id
        title
        subTitle
        homestayPrice
        business { title star }
        landlord { nickname }
        comments(first: 3) {
          edges { node { content star user { nickname } } }
        }
      }
    }
  }
}
`;

export const graphiqlOptions: GraphiQLOptions = {
  title: 'looklook GraphQL',
  defaultQuery: HOME_PAGE_QUERY,
  subscriptionsProtocol: 'SSE',
  // GraphiQL sends an SSE subscription as a GET; without a token it would carry no
  // non-simple header and CSRF prevention would refuse it before the subgraph could say
  // UNAUTHENTICATED. A same-origin page may add one (a cross-site form cannot).
  additionalHeaders: { 'x-graphql-csrf': 'graphiql' },
  defaultEditorToolsVisibility: 'headers',
};

// One page per options object (the options are static): rendered once, not per request.
const rendered = new Map<string, string>();
export function renderGraphiQL(options?: GraphiQLOptions): string {
  const key = JSON.stringify(options ?? {});
  let page = rendered.get(key);
  if (page === undefined) {
    page = renderBundledGraphiQL(options);
    rendered.set(key, page);
  }
  return page;
}

type Encoding = 'br' | 'gzip';
const compressors: Record<Encoding, (page: string) => Promise<Buffer>> = {
  // GraphiQL's 9.0 MB page: brotli quality 9 → 1.94 MB in ≈ 1.6 s (11: 1.80 MB in ≈ 21 s);
  // gzip level 9 → 2.51 MB in ≈ 0.4 s. Paid once, on the first load that asks for it.
  br: (page) => promisify(brotliCompress)(page, { params: { [zlib.BROTLI_PARAM_QUALITY]: 9 } }),
  gzip: (page) => promisify(gzip)(page, { level: 9 }),
};

/** The first encoding the request accepts (`br` preferred), ignoring q=0. */
export function acceptedEncoding(acceptEncoding: string | null): Encoding | undefined {
  const accepted = new Set(
    (acceptEncoding ?? '')
      .split(',')
      .map((part) => part.trim().toLowerCase())
      .filter((part) => part && !/;\s*q=0(\.0*)?$/.test(part))
      .map((part) => part.split(';')[0]!.trim()),
  );
  return (['br', 'gzip'] as const).find((encoding) => accepted.has(encoding));
}

const compressed = new Map<string, Promise<Buffer>>();
const MAX_COMPRESSED_PAGES = 8; // a few pages (GraphiQL, the landing page) × encodings

function compressedPage(page: string, encoding: Encoding): Promise<Buffer> {
  // V8 hashes a long string by its length only, and a hit compares it to the page in
  // memory: cheap next to compressing it again.
  const key = `${encoding}:${page}`;
  let body = compressed.get(key);
  if (body === undefined) {
    if (compressed.size >= MAX_COMPRESSED_PAGES) compressed.clear();
    body = compressors[encoding](page);
    body.catch(() => compressed.delete(key));
    compressed.set(key, body);
  }
  return body;
}

export const compressPages: GatewayPlugin = {
  async onResponse({ request, response, setResponse, fetchAPI }) {
    if (request.method !== 'GET' || response.status !== 200 || !response.body) return;
    if (!response.headers.get('content-type')?.startsWith('text/html')) return;
    if (response.headers.get('content-encoding')) return;
    const encoding = acceptedEncoding(request.headers.get('accept-encoding'));
    const headers = new fetchAPI.Headers(response.headers);
    headers.append('vary', 'Accept-Encoding');
    if (!encoding) {
      setResponse(new fetchAPI.Response(response.body, { status: response.status, headers }));
      return;
    }
    const body = await compressedPage(await response.text(), encoding);
    headers.set('content-encoding', encoding);
    headers.set('content-length', String(body.byteLength));
    setResponse(new fetchAPI.Response(body, { status: response.status, headers }));
  },
};
