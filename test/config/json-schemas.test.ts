/**
 * The published JSON Schemas (schemas/*.json, issue 17 item 5): the committed files are what
 * `npm run schemas` writes from the TypeBox schemas, and every shipped example names its schema
 * by a relative path and validates against it as an editor would (no defaults filled in).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import YAML from 'yaml';
import { renderJsonSchemas } from '../../src/cli/json-schemas.js';
import { projectRoot } from '../support/test-server.js';

const HEADER = /^# yaml-language-server: \$schema=(\S+)\n/;

/** Every example a user copies, and the schema file it must name. */
const EXAMPLES: Record<string, string> = {
  'deploy/meridian.yaml': 'config.schema.json',
  'deploy/k8s/files/balancer.yaml': 'balancer.schema.json',
  'zones/example.com.policy.yaml': 'policy.schema.json',
  'deploy/demo/zones/demo.example.policy.yaml': 'policy.schema.json',
};
for (const f of fs.readdirSync(path.join(projectRoot, 'deploy/demo'))) {
  if (f.endsWith('.balancer.yaml')) EXAMPLES[`deploy/demo/${f}`] = 'balancer.schema.json';
}

const compiled = new Map<string, (value: unknown) => string[]>();
function validator(file: string): (value: unknown) => string[] {
  const known = compiled.get(file);
  if (known) return known;
  const schema = JSON.parse(fs.readFileSync(path.join(projectRoot, 'schemas', file), 'utf8')) as object;
  const validate = new Ajv({ allErrors: true }).compile(schema);
  const check = (value: unknown): string[] => (validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`));
  compiled.set(file, check);
  return check;
}

describe('published JSON Schemas', () => {
  it('schemas/ holds exactly what npm run schemas generates', () => {
    const rendered = renderJsonSchemas();
    assert.deepEqual(fs.readdirSync(path.join(projectRoot, 'schemas')).sort(), [...rendered.keys()].sort());
    for (const [file, text] of rendered) {
      assert.equal(fs.readFileSync(path.join(projectRoot, 'schemas', file), 'utf8'), text, `schemas/${file} is stale: run npm run schemas`);
    }
  });

  it('each shipped example names its schema by a path that resolves, and validates against it', () => {
    assert.ok(Object.keys(EXAMPLES).length >= 7);
    for (const [file, schemaFile] of Object.entries(EXAMPLES)) {
      const text = fs.readFileSync(path.join(projectRoot, file), 'utf8');
      const ref = HEADER.exec(text)?.[1];
      assert.ok(ref, `${file}: first line is not a yaml-language-server $schema comment`);
      const target = path.resolve(path.dirname(path.join(projectRoot, file)), ref);
      assert.equal(target, path.join(projectRoot, 'schemas', schemaFile), `${file}: $schema=${ref}`);
      const errors = validator(schemaFile)(YAML.parse(text));
      // its token is a placeholder left short on purpose, so the balancer refuses to start until it is set
      if (file === 'deploy/k8s/files/balancer.yaml') assert.ok(errors.length > 0 && errors.every((e) => e.startsWith('/admin/token ')), `${file}: ${errors.join('; ')}`);
      else assert.deepEqual(errors, [], file);
    }
  });

  it('the Kubernetes ConfigMaps hold a config and policies that validate', () => {
    const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(projectRoot, 'deploy/k8s/10-config.yaml'), 'utf8')).map((d) => d.toJS() as { data?: Record<string, string> });
    const config = validator('config.schema.json');
    const policy = validator('policy.schema.json');
    let checked = 0;
    for (const doc of docs) {
      for (const [key, text] of Object.entries(doc.data ?? {})) {
        const check = key === 'meridian.yaml' ? config : key.endsWith('.policy.yaml') ? policy : null;
        if (!check) continue;
        assert.deepEqual(check(YAML.parse(text)), [], `deploy/k8s/10-config.yaml ${key}`);
        checked++;
      }
    }
    assert.ok(checked >= 1);
  });

  it('a mistake an editor should flag fails the published schema', () => {
    assert.notDeepEqual(validator('policy.schema.json')({ targets: { a: { region: 'r', wieght: 1 } }, names: {} }), []);
    assert.notDeepEqual(validator('config.schema.json')({ dns: { workers: 0 } }), []);
    assert.notDeepEqual(validator('balancer.schema.json')({ listen: 8080 }), []);
    // a field with a default may be left out, as the loaders allow
    assert.deepEqual(validator('policy.schema.json')({ targets: { a: { region: 'r' } }, names: { www: { policy: [{ all: {} }] } } }), []);
  });
});
