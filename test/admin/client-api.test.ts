/**
 * Issue 17 item 4: an admin API made for clients. Before: every response in /openapi.json was
 * "200 Default Response" (the linter found 31 errors), errors were `{"error","message"}` as
 * application/json, /v1/zones, /v1/health and /v1/latency sent everything at once, and there
 * was no PATCH (a PUT of a target without its ipv6 dropped it).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { addresses, call, RW_TOKEN, soaSerial, startMeridian, workspace, ZONE, type Meridian, type Reply, type Workspace } from './helpers.js';

let ws: Workspace;
let m: Meridian;
const P = `/v1/zones/${ZONE}/policy`;
const MERGE = { 'content-type': 'application/merge-patch+json' };

before(async () => {
  ws = workspace('health: { stateFile: null }\nzones: { watch: false }\n');
  m = await startMeridian(ws, { env: { MERIDIAN_ADMIN_TOKEN: RW_TOKEN } });
});
after(async () => {
  await m.stop();
  ws.remove();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

const redocly = path.resolve(import.meta.dirname, '../../../node_modules/@redocly/cli/bin/cli.js');

function lint(file: string): Promise<{ code: number | null; problems: Array<{ ruleId: string; severity: string; message: string }> }> {
  return new Promise((resolve, reject) => {
    // --format=json: the problems on stdout; the exit code is 1 when there is an error.
    execFile(
      process.execPath,
      [redocly, 'lint', file, '--format=json'],
      { cwd: path.dirname(file), timeout: 60_000, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } },
      (err, stdout) => {
        let problems: never[];
        try {
          problems = (JSON.parse(stdout) as { problems: never[] }).problems;
        } catch (e) {
          reject(new Error(`redocly printed no JSON: ${stdout} ${String(err)} ${String(e)}`));
          return;
        }
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, problems });
      },
    );
  });
}

/** The response schema the document gives `method path` for `status` and the reply's media type. */
function schemaFor(doc: Doc, method: string, route: string, r: Reply): unknown {
  const op = doc.paths[route]?.[method.toLowerCase()];
  assert.ok(op, `${method} ${route} is documented`);
  const res = op.responses[String(r.status)] ?? op.responses[`${String(r.status)[0]}XX`];
  assert.ok(res, `${method} ${route} documents ${r.status}`);
  const media = (r.headers.get('content-type') ?? '').split(';')[0]!;
  const s = res.content?.[media]?.schema;
  assert.ok(s, `${method} ${route} ${r.status} documents ${media}: ${JSON.stringify(res)}`);
  return s;
}

describe('admin API for clients', () => {
  let doc: Doc;
  it('serves an OpenAPI document the Redocly linter passes with no error or warning', async () => {
    const r = await call(m, 'GET', '/openapi.json');
    assert.equal(r.status, 200);
    doc = r.json;
    const file = path.join(ws.root, 'openapi.json');
    fs.writeFileSync(file, r.text);
    const out = await lint(file);
    assert.deepEqual(
      out.problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message}`),
      [],
    );
    assert.equal(out.code, 0);
    for (const [route, ops] of Object.entries(doc.paths as Record<string, Record<string, Doc>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const ok = Object.keys(op.responses).filter((s) => s.startsWith('2'));
        assert.ok(ok.length > 0 && ok.every((s) => op.responses[s].description !== 'Default Response'), `${method} ${route}: a documented 2xx`);
        assert.ok(op.responses['4XX']?.content?.['application/problem+json'], `${method} ${route}: 4XX problem documents`);
      }
    }
  });

  it('answers every documented route with what its schema says (successes and errors)', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    const calls: Array<[string, string, string, unknown?, Record<string, string>?]> = [
      ['GET', '/v1/zones', '/v1/zones'],
      ['GET', '/v1/zones?limit=1', '/v1/zones'],
      ['GET', `/v1/zones/${ZONE}`, '/v1/zones/{zone}'],
      ['GET', `/v1/zones/${ZONE}/records?limit=2`, '/v1/zones/{zone}/records'],
      ['GET', `/v1/zones/${ZONE}/records/www/A`, '/v1/zones/{zone}/records/{name}/{type}'],
      ['GET', `/v1/zones/${ZONE}/records/nothing/A`, '/v1/zones/{zone}/records/{name}/{type}'],
      ['PUT', `/v1/zones/${ZONE}/records/new/A`, '/v1/zones/{zone}/records/{name}/{type}', { ttl: 60, rdata: ['192.0.2.7'] }],
      ['PUT', `/v1/zones/${ZONE}/records/new/A`, '/v1/zones/{zone}/records/{name}/{type}', { ttl: 'x', rdata: ['192.0.2.7'] }],
      ['DELETE', `/v1/zones/${ZONE}/records/new/A`, '/v1/zones/{zone}/records/{name}/{type}'],
      ['POST', `/v1/zones/${ZONE}/records/batch`, '/v1/zones/{zone}/records/batch', { operations: [{ op: 'put', name: 'b', type: 'A', ttl: 60, rdata: ['192.0.2.8'] }] }],
      ['GET', P, '/v1/zones/{zone}/policy'],
      ['GET', `${P}/targets/primary`, '/v1/zones/{zone}/policy/{section}/{id}'],
      ['GET', `${P}/targets/absent`, '/v1/zones/{zone}/policy/{section}/{id}'],
      ['PATCH', `${P}/targets/heavy`, '/v1/zones/{zone}/policy/{section}/{id}', { weight: 2 }, MERGE],
      ['PUT', `${P}/targets/extra`, '/v1/zones/{zone}/policy/{section}/{id}', { region: 'x', ipv4: ['192.0.2.9'] }],
      ['DELETE', `${P}/targets/extra`, '/v1/zones/{zone}/policy/{section}/{id}'],
      ['GET', '/v1/health', '/v1/health'],
      ['POST', '/v1/targets/primary/drain', '/v1/targets/{id}/drain'],
      ['POST', '/v1/targets/primary/undrain', '/v1/targets/{id}/undrain'],
      ['POST', '/v1/targets/nobody/force-up', '/v1/targets/{id}/force-up'],
      ['POST', '/v1/regions/one/force-up', '/v1/regions/{id}/force-up'],
      ['POST', '/v1/regions/one/drain', '/v1/regions/{id}/drain'],
      ['POST', '/v1/regions/one/undrain', '/v1/regions/{id}/undrain'],
      ['GET', '/v1/explain?name=fo.adm.test&type=A&client=192.0.2.1', '/v1/explain'],
      ['GET', '/v1/explain?name=fo.adm.test&type=MX&client=192.0.2.1', '/v1/explain'],
      ['POST', '/v1/latency', '/v1/latency', { samples: [{ network: '192.0.2.0/24', region: 'one', ms: 5 }] }],
      ['GET', '/v1/latency', '/v1/latency'],
      ['POST', '/v1/reload', '/v1/reload'],
      ['GET', '/v1/status', '/v1/status'],
      ['POST', '/v1/simulate', '/v1/simulate', { drain: ['primary'], clients: [{ network: '192.0.2.0/24', weight: 1 }] }],
      ['GET', '/v1/dashboard', '/v1/dashboard'],
      ['POST', '/v1/zones', '/v1/zones', { name: 'made.test', soa: { mname: 'ns1.made.test.', rname: 'h.made.test.' }, ns: ['ns1.made.test.'] }],
      ['DELETE', '/v1/zones/made.test', '/v1/zones/{zone}'],
      ['PUT', P, '/v1/zones/{zone}/policy', { targets: {}, names: {}, bogus: 1 }],
      ['GET', '/v1/zones/none.test/policy', '/v1/zones/{zone}/policy'],
      ['DELETE', '/v1/zones/none.test/policy', '/v1/zones/{zone}/policy'],
    ];
    const seen = new Set<string>();
    for (const [method, url, route, body, headers] of calls) {
      const r = await call(m, method, url, body === undefined ? undefined : JSON.stringify(body), RW_TOKEN, headers);
      seen.add(`${method} ${route}`);
      if (r.status === 204) continue;
      const validate = ajv.compile(schemaFor(doc, method, route, r) as object);
      assert.ok(validate(r.json), `${method} ${url} ${r.status}: ${ajv.errorsText(validate.errors)}\n${r.text.slice(0, 500)}`);
    }
    const documented = Object.entries(doc.paths as Record<string, Doc>).flatMap(([route, ops]) => Object.keys(ops).map((mth) => `${mth.toUpperCase()} ${route}`));
    assert.deepEqual(
      documented.filter((d) => !seen.has(d)),
      [],
      'every documented operation is called',
    );
  });

  it('answers errors as RFC 9457 problem documents with the code, the field and the old members', async () => {
    const bad = await call(m, 'PUT', `/v1/zones/${ZONE}/records/x/A`, { ttl: -1, rdata: ['192.0.2.1'] });
    assert.equal(bad.status, 400);
    assert.match(bad.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(bad.json.type, 'urn:meridian:error:GSLB_ERR_API_INVALID');
    assert.equal(bad.json.status, 400);
    assert.equal(bad.json.code, 'GSLB_ERR_API_INVALID');
    assert.equal(bad.json.field, 'body.ttl');
    assert.equal(bad.json.instance, `/v1/zones/${ZONE}/records/x/A`);
    assert.match(bad.json.title, /invalid/);
    assert.match(bad.json.detail, /^body\.ttl: /);
    assert.equal(bad.json.error, bad.json.code);
    assert.equal(bad.json.message, bad.json.detail);
    const none = await call(m, 'GET', '/v1/nowhere');
    assert.equal(none.status, 404);
    assert.match(none.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(none.json.code, 'GSLB_ERR_API_NOT_FOUND');
    const anon = await call(m, 'GET', '/v1/zones', undefined, null);
    assert.equal(anon.status, 401);
    assert.equal(anon.json.code, 'GSLB_ERR_API_UNAUTHENTICATED');
    assert.equal(anon.json.status, 401);
  });

  it('pages every list route with limit and cursor', async () => {
    await call(m, 'POST', '/v1/zones', { name: 'second.test', soa: { mname: 'ns1.second.test.', rname: 'h.second.test.' }, ns: ['ns1.second.test.'] });
    await call(m, 'POST', '/v1/latency', {
      samples: [
        { network: '198.51.100.0/24', region: 'two', ms: 9 },
        { network: '203.0.113.0/24', region: 'one', ms: 3 },
      ],
    });
    const walk = async (url: string, member: string, key: (x: Doc) => string): Promise<string[]> => {
      const all = (await call(m, 'GET', url)).json[member].map(key);
      const paged: string[] = [];
      let cursor: string | null = null;
      do {
        const r: Reply = await call(m, 'GET', `${url}?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(r.status, 200, r.text);
        assert.ok(r.json[member].length <= 1);
        paged.push(...r.json[member].map(key));
        cursor = r.json.next;
      } while (cursor !== null);
      assert.ok(all.length >= 2, `${url}: ${all.length}`);
      assert.deepEqual(paged, all, url);
      return all;
    };
    await walk('/v1/zones', 'zones', (z) => z.zone);
    await walk('/v1/health', 'targets', (t) => t.id);
    await walk('/v1/latency', 'samples', (s) => `${s.region} ${s.network}`);
    for (const url of ['/v1/zones', '/v1/health', '/v1/latency', `/v1/zones/${ZONE}/records`]) {
      const r = await call(m, 'GET', `${url}?limit=0`);
      assert.equal(r.status, 400, url);
      assert.equal(r.json.field, 'limit', url);
    }
    const r = await call(m, 'GET', '/v1/zones?cursor=bm9wZQ');
    assert.equal(r.status, 400);
    assert.equal(r.json.field, 'cursor');
  });

  it('PATCHes one member of a target with a JSON merge patch, keeping the rest', async () => {
    await call(m, 'PUT', `${P}/targets/primary`, { region: 'one', ipv4: ['198.51.100.1'], ipv6: ['2001:db8::1'], weight: 5 });
    const etag = (await call(m, 'GET', `${P}/targets/primary`)).etag!;
    const r = await call(m, 'PATCH', `${P}/targets/primary`, '{"ipv4":["198.51.100.9"],"weight":null}', RW_TOKEN, { ...MERGE, 'if-match': etag });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual((await call(m, 'GET', `${P}/targets/primary`)).json, { region: 'one', ipv4: ['198.51.100.9'], ipv6: ['2001:db8::1'] });
    assert.deepEqual(await addresses(m, `fo.${ZONE}`), ['198.51.100.9']);
    assert.deepEqual(await addresses(m, `fo.${ZONE}`, 'AAAA'), ['2001:db8::1']);
    // the old ETag is stale now
    const stale = await call(m, 'PATCH', `${P}/targets/primary`, '{"weight":1}', RW_TOKEN, { ...MERGE, 'if-match': etag });
    assert.equal(stale.status, 412);
    assert.equal(stale.json.code, 'GSLB_ERR_API_STALE');
  });

  it('PATCHes a steered name and validates the merged result, naming the field', async () => {
    assert.equal((await call(m, 'PATCH', `${P}/names/fo`, '{"ttl":42}', RW_TOKEN, MERGE)).status, 200);
    const fo = (await call(m, 'GET', `${P}/names/fo`)).json;
    assert.equal(fo.ttl, 42);
    assert.deepEqual(fo.targets, ['primary', 'secondary']);
    const serial = await soaSerial(m);
    const file = fs.readFileSync(ws.policyFile, 'utf8');
    const bad = await call(m, 'PATCH', `${P}/targets/secondary`, '{"weight":"heavy"}', RW_TOKEN, MERGE);
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.field, 'targets.secondary.weight');
    const missing = await call(m, 'PATCH', `${P}/targets/absent`, '{"weight":1}', RW_TOKEN, MERGE);
    assert.equal(missing.status, 404);
    assert.equal(await soaSerial(m), serial);
    assert.equal(fs.readFileSync(ws.policyFile, 'utf8'), file);
  });

  it("keeps every member of concurrent PATCHes of one target (each reads its base in the writers' queue)", async () => {
    const patches = ['{"weight":7}', '{"ipv6":["2001:db8::b"]}', '{"location":{"lat":50.1,"lon":8.7}}', '{"ipv4":["198.51.100.21"]}'];
    const rs = await Promise.all(patches.map((b) => call(m, 'PATCH', `${P}/targets/heavy`, b, RW_TOKEN, MERGE)));
    assert.deepEqual(
      rs.map((r) => r.status),
      [200, 200, 200, 200],
      rs.map((r) => r.text).join('\n'),
    );
    assert.deepEqual((await call(m, 'GET', `${P}/targets/heavy`)).json, { region: 'three', ipv4: ['198.51.100.21'], ipv6: ['2001:db8::b'], weight: 7, location: { lat: 50.1, lon: 8.7 } });
  });

  it('refuses __proto__, constructor and prototype members and deep nesting in a patch, changing nothing', async () => {
    const serial = await soaSerial(m);
    const file = fs.readFileSync(ws.policyFile, 'utf8');
    // deep enough to overflow the stack of a recursive merge (the body stays under 1 MiB)
    const deep = '{"a":'.repeat(150_000) + '1' + '}'.repeat(150_000);
    for (const body of [deep, '{"__proto__":{"weight":9}}', '{"constructor":{"prototype":{"x":1}}}', '{"constructor":1}', '{"healthCheck":{"__proto__":1}}', '{"prototype":{}}']) {
      const r = await call(m, 'PATCH', `${P}/targets/secondary`, body, RW_TOKEN, MERGE);
      assert.equal(r.status, 400, `${body.slice(0, 40)}: ${r.text}`);
      assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
    }
    assert.equal(({} as Record<string, unknown>).weight, undefined);
    assert.equal(await soaSerial(m), serial);
    assert.equal(fs.readFileSync(ws.policyFile, 'utf8'), file);
    assert.deepEqual((await call(m, 'GET', `${P}/targets/secondary`)).json, { region: 'two', ipv4: ['198.51.100.2'] });
  });
});
