/**
 * The JSON Schemas published under schemas/ for editors (issue 17, item 5): the TypeBox
 * schemas the loaders validate with, as plain JSON. `npm run schemas` writes them
 * (tools/gen-schemas.ts); test/config/json-schemas.test.ts fails when a committed file differs.
 */
import type { TSchema } from '@sinclair/typebox';
import { ConfigSchema } from '../config/schema.js';
import { BalancerConfigSchema } from '../l7/config.js';
import { PolicyFileSchema } from '../steer/policy-schema.js';

interface Published {
  file: string;
  title: string;
  schema: TSchema;
}

const PUBLISHED: readonly Published[] = [
  { file: 'config.schema.json', title: 'meridian serve config (meridian.yaml)', schema: ConfigSchema },
  { file: 'policy.schema.json', title: 'meridian steering policy (zones/<zone>.policy.yaml)', schema: PolicyFileSchema },
  { file: 'balancer.schema.json', title: 'meridian balance config (<region>.balancer.yaml)', schema: BalancerConfigSchema },
];

/**
 * The loaders validate with ajv's useDefaults, which fills a missing field that has a default
 * before checking `required`; an editor does not, so such a field is dropped from `required`.
 */
function optionalDefaults(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) optionalDefaults(item);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const o = node as { required?: string[]; properties?: Record<string, { default?: unknown }> };
  if (Array.isArray(o.required) && o.properties) {
    const props = o.properties;
    o.required = o.required.filter((k) => props[k]?.default === undefined);
    if (o.required.length === 0) delete o.required;
  }
  for (const v of Object.values(node)) optionalDefaults(v);
}

/** File name → file text. JSON.stringify drops TypeBox's symbol keys, leaving plain draft-07 JSON Schema. */
export function renderJsonSchemas(): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of PUBLISHED) {
    const body = JSON.parse(JSON.stringify(p.schema)) as object;
    optionalDefaults(body);
    const doc = { $schema: 'http://json-schema.org/draft-07/schema#', title: p.title, ...body };
    out.set(p.file, `${JSON.stringify(doc, null, 2)}\n`);
  }
  return out;
}
