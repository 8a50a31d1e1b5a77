// Compose schema/supergraph.graphql from the subgraph SDL files listed in supergraph.yaml.
//   node compose.mjs [--out <path>]       (SUPERGRAPH_CONFIG overrides ../supergraph.yaml)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';
import YAML from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const configPath = resolve(process.env.SUPERGRAPH_CONFIG ?? resolve(here, '..', 'supergraph.yaml'));
const outFlag = process.argv.indexOf('--out');
if (outFlag >= 0 && !process.argv[outFlag + 1]) fail('--out needs a path');
const outPath =
  outFlag >= 0 ? resolve(process.argv[outFlag + 1]) : resolve(here, '..', 'schema', 'supergraph.graphql');

function fail(message) {
  console.error(message);
  process.exit(1);
}

let config;
try {
  config = YAML.parse(readFileSync(configPath, 'utf8'));
} catch (error) {
  fail(`cannot read ${configPath}: ${error.message}`);
}
// Sorted by name so the output does not depend on the order of the YAML file.
const services = Object.entries(config?.subgraphs ?? {})
  .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  .map(([name, subgraph]) => {
    const file = subgraph?.schema?.file;
    if (!subgraph?.routing_url || !file) fail(`subgraph ${name}: needs routing_url and schema.file`);
    const path = resolve(dirname(configPath), file);
    try {
      return { name, url: subgraph.routing_url, typeDefs: parse(readFileSync(path, 'utf8')) };
    } catch (error) {
      return fail(`subgraph ${name}: ${path}: ${error.message}`);
    }
  });

if (services.length === 0) {
  console.error(`no subgraphs in ${configPath}`);
  process.exit(1);
}

const result = composeServices(services);
if (result.errors?.length) {
  console.error('composition failed:');
  for (const error of result.errors) console.error(`  - ${error.message}`);
  process.exit(1);
}
writeFileSync(outPath, `${result.supergraphSdl.trimEnd()}\n`);
console.log(`composed ${services.map((s) => s.name).join(', ')} into ${outPath}`);
