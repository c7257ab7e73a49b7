/**
 * Issue #5, authentication on every route, driven by the routes the server itself lists in
 * GET /openapi.json (public), so a route added without auth fails here: no token or a wrong
 * one → 401 with a JSON body and WWW-Authenticate; a read-only token reads but gets 403 on
 * every write route, which changes nothing. And the API refuses a non-loopback address
 * without a token, before serving.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { addresses, call, RO_TOKEN, runMeridian, RW_TOKEN, startMeridian, workspace, ZONE, type Meridian, type Reply, type Workspace } from './helpers.js';

let ws: Workspace;
let m: Meridian;

const CONFIG = `health: { stateFile: null }
zones: { watch: false }
admin:
  tokens:
    - { name: ro, token: ${RO_TOKEN}, access: read }
    - { name: rw, token: ${RW_TOKEN}, access: write }
`;

/** Every route the API must have (issue #5); the OpenAPI document may list more, never fewer. */
const KNOWN = [
  'GET /v1/zones',
  'POST /v1/zones',
  'GET /v1/zones/{zone}',
  'DELETE /v1/zones/{zone}',
  'GET /v1/zones/{zone}/records',
  'GET /v1/zones/{zone}/records/{name}/{type}',
  'PUT /v1/zones/{zone}/records/{name}/{type}',
  'DELETE /v1/zones/{zone}/records/{name}/{type}',
  'POST /v1/zones/{zone}/records/batch',
  'GET /v1/zones/{zone}/policy',
  'PUT /v1/zones/{zone}/policy',
  'DELETE /v1/zones/{zone}/policy',
  'GET /v1/zones/{zone}/policy/{section}/{id}',
  'PUT /v1/zones/{zone}/policy/{section}/{id}',
  'DELETE /v1/zones/{zone}/policy/{section}/{id}',
  'GET /v1/health',
  'POST /v1/targets/{id}/drain',
  'POST /v1/targets/{id}/undrain',
  'POST /v1/targets/{id}/force-up',
  'POST /v1/regions/{id}/drain',
  'POST /v1/regions/{id}/undrain',
  'POST /v1/regions/{id}/force-up',
  'GET /v1/explain',
  'GET /v1/latency',
  'POST /v1/latency',
  'POST /v1/reload',
  'GET /v1/status',
];

/** Fills path parameters with values that exist, so a wrongly open route would really act. */
function fill(p: string, method: string): string {
  const section = p.includes('{section}');
  return (
    p
      .replace('{zone}', ZONE)
      .replace('{name}', 'www')
      .replace('{type}', 'A')
      .replace('{section}', 'targets')
      .replace('{id}', section ? 'primary' : p.includes('/regions/') ? 'one' : 'primary') + (p === '/v1/explain' && method === 'GET' ? '?name=fo.adm.test&type=A&client=192.0.2.1' : '')
  );
}

/** A body that would be valid for the route, so only auth can stop it. */
function bodyFor(method: string, p: string): unknown {
  if (method === 'GET' || method === 'DELETE' || method === 'HEAD') return undefined;
  if (p === '/v1/zones') return { name: 'sneaky.test', soa: { mname: 'ns1.sneaky.test.', rname: 'h.sneaky.test.' }, ns: ['ns1.sneaky.test.'] };
  if (p.endsWith('/records/{name}/{type}')) return { ttl: 60, rdata: ['192.0.2.66'] };
  if (p.endsWith('/batch')) return { operations: [{ op: 'put', name: 'sneaky', type: 'A', ttl: 60, rdata: ['192.0.2.66'] }] };
  if (p.endsWith('/{section}/{id}')) return { region: 'one', ipv4: ['192.0.2.66'] };
  if (p.endsWith('/policy')) return { targets: {}, names: {} };
  if (p === '/v1/latency') return { samples: [{ network: '192.0.2.0/24', region: 'one', ms: 1 }] };
  return {};
}

let routes: Array<[string, string]> = [];

before(async () => {
  ws = workspace(CONFIG);
  m = await startMeridian(ws);
  const spec = await call(m, 'GET', '/openapi.json', undefined, null);
  assert.equal(spec.status, 200, 'the OpenAPI document is public');
  routes = Object.entries(spec.json.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
    Object.keys(ops)
      .filter((k) => ['get', 'put', 'post', 'delete', 'patch'].includes(k))
      .map((k) => [k.toUpperCase(), p.replace(/\{([^}]+)\}/g, '{$1}')] as [string, string]),
  );
  // /metrics is hidden from the document; it is an API route all the same.
  routes.push(['GET', '/metrics']);
});
after(async () => {
  await m.stop();
  ws.remove();
});

function assertUnauthenticated(r: Reply, what: string): void {
  assert.equal(r.status, 401, `${what}: ${r.status} ${r.text}`);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="meridian"', `${what}: WWW-Authenticate`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, `${what}: a problem document`);
  assert.equal(r.json.error, 'GSLB_ERR_API_UNAUTHENTICATED', what);
  assert.match(r.json.message, /bearer token/i, what);
}

describe('admin API: auth on every route', () => {
  it('lists every route of the API in /openapi.json', () => {
    const listed = new Set(routes.map(([mth, p]) => `${mth} ${p}`));
    assert.deepEqual(
      KNOWN.filter((k) => !listed.has(k)),
      [],
      'routes missing from /openapi.json',
    );
  });

  it('answers 401 with a JSON body and WWW-Authenticate without a token or with a wrong one', async () => {
    const before = { zone: fs.readFileSync(ws.zoneFile), policy: fs.readFileSync(ws.policyFile) };
    const bad: Array<[string, Record<string, string>]> = [
      ['no Authorization', {}],
      ['a wrong token', { authorization: 'Bearer not-the-right-token-at-all-0000' }],
      ['a token that is a prefix of the real one', { authorization: `Bearer ${RW_TOKEN.slice(0, -1)}` }],
      ['the real token with another scheme', { authorization: `Basic ${RW_TOKEN}` }],
      ['the real token without a scheme', { authorization: RW_TOKEN }],
      ['an empty bearer', { authorization: 'Bearer ' }],
    ];
    for (const [method, p] of routes) {
      const url = fill(p, method);
      for (const [label, headers] of bad) {
        assertUnauthenticated(await call(m, method, url, bodyFor(method, p), null, headers), `${method} ${url} with ${label}`);
      }
    }
    // HEAD (fastify adds it for every GET) and unknown paths are not a way around it either.
    const head = await fetch(`http://127.0.0.1:${m.api}/v1/zones`, { method: 'HEAD' });
    assert.equal(head.status, 401);
    assertUnauthenticated(await call(m, 'GET', '/v1/no-such-route', undefined, null), 'an unknown route');
    assert.ok(fs.readFileSync(ws.zoneFile).equals(before.zone) && fs.readFileSync(ws.policyFile).equals(before.policy), 'nothing written');
  });

  it('lets a read-only token read, and refuses it every write with 403', async () => {
    const before = { zone: fs.readFileSync(ws.zoneFile), policy: fs.readFileSync(ws.policyFile) };
    const status = (await call(m, 'GET', '/v1/status', undefined, RO_TOKEN)).json;
    for (const [method, p] of routes) {
      const url = fill(p, method);
      const r = await call(m, method, url, bodyFor(method, p), RO_TOKEN);
      if (method === 'GET') {
        assert.equal(r.status, 200, `${method} ${url} with the read-only token: ${r.text.slice(0, 300)}`);
      } else {
        assert.equal(r.status, 403, `${method} ${url} with the read-only token: ${r.text}`);
        assert.equal(r.json.error, 'GSLB_ERR_API_FORBIDDEN');
        assert.match(r.json.message, /"ro" is read-only/);
      }
    }
    // nothing changed: files, answers, drains, latency samples, zones
    assert.ok(fs.readFileSync(ws.zoneFile).equals(before.zone), 'zone file unchanged');
    assert.ok(fs.readFileSync(ws.policyFile).equals(before.policy), 'policy file unchanged');
    assert.deepEqual(fs.readdirSync(ws.zones).sort(), ['adm.test.policy.yaml', 'adm.test.zone']);
    assert.deepEqual(await addresses(m, 'www.adm.test'), ['192.0.2.80']);
    assert.deepEqual(await addresses(m, 'fo.adm.test'), ['198.51.100.1'], 'primary not drained');
    assert.deepEqual((await call(m, 'GET', '/v1/latency', undefined, RO_TOKEN)).json.samples, []);
    const health = (await call(m, 'GET', '/v1/health', undefined, RO_TOKEN)).json.targets as Array<{ forced: unknown }>;
    assert.ok(
      health.every((t) => t.forced === null),
      'no target forced',
    );
    assert.equal((await call(m, 'GET', '/v1/status', undefined, RO_TOKEN)).json.snapshot, status.snapshot, 'no reload, no new snapshot');
  });

  it('lets the read-write token write', async () => {
    const r = await call(m, 'PUT', `/v1/zones/${ZONE}/records/rw/A`, { ttl: 60, rdata: ['192.0.2.77'] }, RW_TOKEN);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await addresses(m, 'rw.adm.test'), ['192.0.2.77']);
    const metrics = await fetch(`http://127.0.0.1:${m.api}/metrics`, { headers: { authorization: `bearer ${RO_TOKEN}` } });
    assert.equal(metrics.status, 200, 'the scheme is case-insensitive');
    await metrics.text();
  });
});

describe('admin API: refuses to serve off loopback without a token', () => {
  it('exits non-zero with a clear message for 0.0.0.0, [::] and a LAN address', async () => {
    const bare = workspace(); // no tokens in the config, none in the environment
    try {
      // port 0: the refusal comes before any bind; a regression would bind and serve (no exit), failing on the timeout
      const admins = ['0.0.0.0:0', '[::]:0', '192.0.2.1:0'];
      const runs = await Promise.all(admins.map(async (admin) => runMeridian(['serve', '--config', bare.config, '--zones', bare.zones, '--listen', '127.0.0.1:0', '--admin', admin])));
      runs.forEach((r, i) => {
        const admin = admins[i]!;
        assert.notEqual(r.code, 0, `--admin ${admin}: ${r.stdout}`);
        assert.match(r.stderr, new RegExp(`refusing to serve the admin API on ${admin.replace(/[[\].]/g, '\\$&')} without a token`), r.stderr);
        assert.match(r.stderr, /MERIDIAN_ADMIN_TOKEN/, 'says how to fix it');
        assert.doesNotMatch(r.stdout, /meridian is serving/);
      });
    } finally {
      bare.remove();
    }
  });

  it('refuses a MERIDIAN_ADMIN_TOKEN shorter than 16 characters', async () => {
    const bare = workspace();
    try {
      const r = await runMeridian(['serve', '--config', bare.config, '--zones', bare.zones, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'], {
        MERIDIAN_ADMIN_TOKEN: 'short',
      });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /MERIDIAN_ADMIN_TOKEN: must be at least 16 characters/);
    } finally {
      bare.remove();
    }
  });
});
