// The router's own configuration with parts of it switched off, for `python -m bench.router_costs`
// only (never served): BENCH_ROUTER_OFF is a comma-separated list of the parts below.
// Each part is an option Hive Gateway offers or a plugin of ours; nothing is patched.
import { gatewayConfig as base } from '../router/gateway.config.ts';

const off = new Set((process.env.BENCH_ROUTER_OFF ?? '').split(',').filter(Boolean));
// The order of the plugins in gateway.config.ts: limits, codeErrors,
// clientContext, nameSubgraphOperations, compressPages.
const PLUGINS = ['limits', 'codeErrors', 'clientContext', 'subgraphNames', 'compressPages'];

export const gatewayConfig = {
  ...base,
  prometheus: off.has('prometheus') ? false : base.prometheus,
  demandControl: off.has('demandControl') ? undefined : base.demandControl,
  csrfPrevention: off.has('csrfPrevention') ? false : base.csrfPrevention,
  maxDepth: off.has('maxDepth') ? undefined : base.maxDepth,
  maxTokens: off.has('maxTokens') ? undefined : base.maxTokens,
  upstreamTimeout: off.has('upstreamTimeout') ? undefined : base.upstreamTimeout,
  propagateHeaders: off.has('propagateHeaders') ? undefined : base.propagateHeaders,
  plugins: (context: any) =>
    (base.plugins?.(context) ?? []).filter((_plugin: unknown, index: number) => !off.has(PLUGINS[index])),
} as typeof base;
