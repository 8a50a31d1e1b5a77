// Request bounds: no single request may take the router down or make it hold much memory.
//
// Why: custom scalars (`Date`, `DateTime`, `_Any`) accept any JSON in variables, so a
// `Date` variable nested 5,000 levels deep used to pass the router. During the subgraph
// call the gateway's logger copies log attributes recursively (`unwrapAttrVal` in
// @graphql-hive/logger), the variables among them, and overflowed the stack: the
// executor threw synchronously. The upstream-timeout plugin (`useUpstreamTimeout`)
// had already armed a deferred promise that its timer rejects; it only races that
// promise when the executor returns a promise, so after a synchronous throw nothing
// awaited it: when the timer fired (30 s later) the rejection was unhandled and Node
// exited. So, before any work:
//
// - bodies above ROUTER_MAX_BODY_BYTES: 413 PAYLOAD_TOO_LARGE (by Content-Length, or
//   while reading a chunked body: nothing beyond the limit is buffered);
// - JSON nested deeper than ROUTER_MAX_JSON_DEPTH: 400 BAD_REQUEST, checked on the raw
//   text before JSON.parse and again on the variables of every operation (HTTP and
//   WebSocket), without recursion;
// - documents above ROUTER_MAX_DOCUMENT_BYTES: 413 PAYLOAD_TOO_LARGE;
// - and `guardProcess` keeps an unhandled rejection from exiting the process.
import type { GatewayPlugin } from '@graphql-hive/gateway';
import { GraphQLError } from 'graphql';

export interface RequestLimits {
  maxBodyBytes: number;
  maxJsonDepth: number;
  maxDocumentBytes: number;
}

type Refusal = { status: number; code: string; message: string };

function refusalBody({ code, message }: Refusal) {
  return JSON.stringify({ errors: [{ message, extensions: { code } }] });
}

function refusalError({ status, code, message }: Refusal) {
  return new GraphQLError(message, { extensions: { code, http: { status } } });
}

const OPEN_BRACKET = new Set([0x5b, 0x7b]); // [ {
const CLOSE_BRACKET = new Set([0x5d, 0x7d]); // ] }

/** True if a JSON text nests arrays/objects deeper than `limit` (a scan, no parse). */
export function jsonTextDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (OPEN_BRACKET.has(c)) {
      if (++depth > limit) return true;
    } else if (CLOSE_BRACKET.has(c)) {
      depth--;
    }
  }
  return false;
}

/** True if a parsed JSON value nests deeper than `limit` (an explicit stack, no recursion). */
export function valueDepthExceeds(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 0]];
  while (pending.length) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > limit) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
    }
  }
  return false;
}

const DRAIN_FACTOR = 8;

/** The body as text, or null once it grows past `max` bytes (nothing more is kept). */
async function readBounded(request: Request, max: number): Promise<string | null> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      // Read (and drop) up to DRAIN_FACTOR times the limit, so a client still sending
      // reads the 413 instead of a reset connection; beyond that, stop reading.
      while (size <= max * DRAIN_FACTOR) {
        const next = await reader.read();
        if (next.done) return null;
        size += next.value.byteLength;
      }
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(body);
}

export function requestLimits(limits: RequestLimits): GatewayPlugin {
  const tooLarge: Refusal = {
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    message: `The request body is larger than ${limits.maxBodyBytes} bytes.`,
  };
  const tooDeep: Refusal = {
    status: 400,
    code: 'BAD_REQUEST',
    message: `The request nests deeper than ${limits.maxJsonDepth} levels.`,
  };
  const documentTooLarge: Refusal = {
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    message: `The document is larger than ${limits.maxDocumentBytes} bytes.`,
  };

  // Variables of an operation however it arrived (HTTP, WebSocket): checked before
  // execution, so nothing downstream (logger, planner, subgraph call) sees them.
  const checkVariables = ({ args, setResultAndStopExecution }: any) => {
    if (valueDepthExceeds(args.variableValues, limits.maxJsonDepth)) {
      setResultAndStopExecution({ errors: [refusalError(tooDeep)] });
    }
  };

  return {
    onRequest({ request, endResponse, fetchAPI }) {
      const declared = Number(request.headers.get('content-length') ?? '');
      if (declared > limits.maxBodyBytes) {
        endResponse(
          new fetchAPI.Response(refusalBody(tooLarge), {
            status: 413,
            // Up to DRAIN_FACTOR times the limit, Node reads and drops the unread body
            // after this answer, so the client, still sending, can read it; beyond
            // that the connection is closed.
            headers: {
              'content-type': 'application/json',
              ...(declared > limits.maxBodyBytes * DRAIN_FACTOR ? { connection: 'close' } : {}),
            },
          }),
        );
      }
    },
    onRequestParse({ request, setRequestParser, fetchAPI }) {
      const type = request.headers.get('content-type') ?? '';
      if (request.method !== 'POST' || !/json/i.test(type)) return;
      const refuse = (refusal: Refusal) =>
        new fetchAPI.Response(refusalBody(refusal), {
          status: refusal.status,
          headers: { 'content-type': 'application/json' },
        });
      setRequestParser(async (incoming: Request) => {
        const text = await readBounded(incoming, limits.maxBodyBytes);
        if (text === null) return refuse(tooLarge);
        if (jsonTextDepthExceeds(text, limits.maxJsonDepth)) return refuse(tooDeep);
        try {
          return JSON.parse(text);
        } catch {
          return refuse({ status: 400, code: 'BAD_REQUEST', message: 'The body is not valid JSON.' });
        }
      });
    },
    // An answer, not a throw: over WebSocket a thrown error closes the client's socket.
    onParams({ params, setResult }) {
      const query = typeof params.query === 'string' ? params.query : '';
      if (Buffer.byteLength(query) > limits.maxDocumentBytes) {
        setResult({ errors: [refusalError(documentTooLarge)] });
      } else if (valueDepthExceeds(params.variables, limits.maxJsonDepth)) {
        setResult({ errors: [refusalError(tooDeep)] });
      }
    },
    onExecute: checkVariables,
    onSubscribe: checkVariables,
  };
}

/**
 * Node exits on an unhandled promise rejection. A stateless router must not: log it and
 * keep serving (every request's own errors are still answered by the gateway).
 */
export function guardProcess(log: (message: string, error: unknown) => void) {
  process.on('unhandledRejection', (reason) => log('unhandled rejection (kept running)', reason));
}
