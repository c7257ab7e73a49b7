/**
 * Issue 14 item 7: without a token (the default of `npm start`), a web page in a browser on
 * the same machine must not drive the admin API or the balancer's admin listener: a
 * cross-site `text/plain` POST, a foreign Origin and a rebound Host (`evil.example:PORT`) are
 * refused with stable codes, over real HTTP. Before the fix a text/plain POST drained a region.
 * Requests a person or script makes (matching Host, no Origin or our own, JSON or no body)
 * still work, with and without a token.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BrowserGuard } from '../../src/admin/browser-guard.js';
import { request, startBackends, startBalancer, pool, type TestBackend, type TestBalancer } from '../l7/helpers.js';
import { RW_TOKEN, startMeridian, workspace, ZONE, type Meridian, type Workspace } from './helpers.js';

const PAGE = 'http://evil.example';

/** One HTTP/1.1 request with exactly these headers (Host included when given). */
async function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; json: { error?: string; field?: string } & Record<string, unknown> }> {
  const r = await request(`http://127.0.0.1:${port}${path}`, { method, headers, body });
  let json = {};
  try {
    json = JSON.parse(r.body) as object;
  } catch {
    // not JSON (the status page)
  }
  return { status: r.status, json };
}

/** The attacks a page can make, each against a write that would otherwise succeed. */
function attacks(port: number, path: string): Array<[string, Record<string, string>, string | undefined, number, string]> {
  const host = `127.0.0.1:${port}`;
  return [
    ['text/plain form POST', { host, 'content-type': 'text/plain', origin: PAGE }, '{"x":1}', 403, 'GSLB_ERR_API_CROSS_ORIGIN'],
    ['text/plain POST without Origin', { host, 'content-type': 'text/plain' }, '{"x":1}', 415, 'GSLB_ERR_API_CONTENT_TYPE'],
    ['urlencoded POST', { host, 'content-type': 'application/x-www-form-urlencoded' }, 'a=1', 415, 'GSLB_ERR_API_CONTENT_TYPE'],
    ['body without a type', { host }, '{}', 415, 'GSLB_ERR_API_CONTENT_TYPE'],
    ['JSON from a foreign Origin', { host, 'content-type': 'application/json', origin: PAGE }, '{}', 403, 'GSLB_ERR_API_CROSS_ORIGIN'],
    ['Origin null (sandboxed page)', { host, origin: 'null' }, undefined, 403, 'GSLB_ERR_API_CROSS_ORIGIN'],
    ['Origin on another port', { host, origin: `http://127.0.0.1:${port + 1}` }, undefined, 403, 'GSLB_ERR_API_CROSS_ORIGIN'],
    ['DNS rebinding', { host: `evil.example:${port}`, origin: `http://evil.example:${port}`, 'content-type': 'application/json' }, '{}', 403, 'GSLB_ERR_API_HOST_NOT_ALLOWED'],
    ['rebinding without Origin', { host: `evil.example:${port}` }, undefined, 403, 'GSLB_ERR_API_HOST_NOT_ALLOWED'],
    ['our address on another port', { host: `127.0.0.1:${port + 1}` }, undefined, 403, 'GSLB_ERR_API_HOST_NOT_ALLOWED'],
  ].map(([what, headers, body, status, code]) => [`${what} → ${path}`, headers as Record<string, string>, body as string | undefined, status as number, code as string]);
}

describe('admin API without a token: browser guard', () => {
  let ws: Workspace;
  let m: Meridian;
  before(async () => {
    ws = workspace('health: { stateFile: null }\nzones: { watch: false }\nadmin: { allowedHosts: [gslb.internal] }\n');
    m = await startMeridian(ws, { env: {} });
  });
  after(async () => {
    await m.stop();
    ws.remove();
  });

  const forced = async (): Promise<unknown> => {
    const h = await send(m.api, 'GET', '/v1/health', { host: `127.0.0.1:${m.api}` });
    return (h.json.targets as Array<{ id: string; forced: unknown }>).find((t) => t.id === 'adm.test/primary')!.forced;
  };

  it('refuses cross-site writes, foreign Origins and rebound Hosts, and nothing changes', async () => {
    for (const [what, headers, body, status, code] of attacks(m.api, '/v1/regions/one/drain')) {
      const r = await send(m.api, 'POST', '/v1/regions/one/drain', headers, body);
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error, code, what);
      assert.ok(['host', 'origin', 'content-type'].includes(r.json.field!), `${what}: field ${r.json.field}`);
    }
    const put = await send(m.api, 'PUT', `/v1/zones/${ZONE}/records/www/A`, { host: `127.0.0.1:${m.api}`, 'content-type': 'text/plain' }, '{"ttl":60,"rdata":["192.0.2.66"]}');
    assert.equal(put.status, 415);
    const read = await send(m.api, 'GET', '/v1/zones', { host: `evil.example:${m.api}` });
    assert.equal(read.status, 403, 'a rebound page cannot read either');
    assert.equal(await forced(), null, 'the region was never drained');
  });

  it('still serves scripts, the listener address, localhost, allowedHosts and the status page', async () => {
    const port = m.api;
    const ok: Array<[string, string, string, Record<string, string>, string | undefined]> = [
      ['curl -X POST (no body)', 'POST', '/v1/regions/one/drain', { host: `127.0.0.1:${port}` }, undefined],
      ['JSON write, same origin', 'POST', '/v1/regions/one/undrain', { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, 'content-type': 'application/json; charset=utf-8' }, '{}'],
      ['localhost', 'POST', '/v1/regions/one/drain', { host: `localhost:${port}`, origin: `http://localhost:${port}` }, undefined],
      ['allowedHosts name', 'POST', '/v1/regions/one/undrain', { host: `GSLB.internal.:${port}`, origin: `http://gslb.internal:${port}` }, undefined],
      ['JSON record write', 'PUT', `/v1/zones/${ZONE}/records/www/A`, { host: `127.0.0.1:${port}`, 'content-type': 'application/json' }, '{"ttl":60,"rdata":["192.0.2.66"]}'],
      ['status page', 'GET', '/dashboard', { host: `127.0.0.1:${port}` }, undefined],
      ['status data', 'GET', '/v1/dashboard', { host: `localhost:${port}` }, undefined],
    ];
    for (const [what, method, path, headers, body] of ok) {
      const r = await send(port, method, path, headers, body);
      assert.equal(r.status, 200, `${what}: ${r.status} ${JSON.stringify(r.json)}`);
    }
  });
});

describe('admin API with a token: the guard is off, the token decides', () => {
  it('accepts a token holder whatever the Host, and refuses the rest with 401', async () => {
    const ws = workspace('health: { stateFile: null }\nzones: { watch: false }\n');
    const m = await startMeridian(ws, { env: { MERIDIAN_ADMIN_TOKEN: RW_TOKEN } });
    try {
      const auth = { authorization: `Bearer ${RW_TOKEN}` };
      assert.equal((await send(m.api, 'POST', '/v1/regions/one/drain', { ...auth, host: `gslb.example.net:${m.api}`, 'content-type': 'application/json' }, '{}')).status, 200);
      assert.equal((await send(m.api, 'POST', '/v1/regions/one/undrain', { host: `127.0.0.1:${m.api}`, 'content-type': 'text/plain', origin: PAGE }, 'x')).status, 401);
    } finally {
      await m.stop();
      ws.remove();
    }
  });
});

describe('balancer admin listener without a token: browser guard', () => {
  let backends: TestBackend[];
  let lb: TestBalancer;
  let port: number;
  before(async () => {
    backends = await startBackends(1);
    lb = await startBalancer({ admin: { listen: '127.0.0.1:0', allowedHosts: ['lb.internal'] }, pools: { default: pool(backends) } });
    port = Number(new URL(lb.adminUrl).port);
  });
  after(async () => {
    await lb.close();
    for (const b of backends) await b.close();
  });

  it('refuses the same attacks, leaving the balancer undrained', async () => {
    for (const [what, headers, body, status, code] of attacks(port, '/drain')) {
      const r = await send(port, 'POST', '/drain', headers, body);
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error, code, what);
    }
    assert.equal((await send(port, 'GET', '/status', { host: `evil.example:${port}` })).status, 403);
    const status = await send(port, 'GET', '/status', { host: `127.0.0.1:${port}` });
    assert.equal(status.json.draining, false, 'never drained');
  });

  it('still serves scripts, localhost, allowedHosts, and /healthz to any Host', async () => {
    assert.equal((await send(port, 'GET', '/healthz', { host: `backend-region.example:${port}` })).status, 200, 'the DNS tier probe names any Host');
    assert.equal((await send(port, 'POST', '/drain', { host: `127.0.0.1:${port}`, 'content-type': 'application/json' }, '{"backend":"default/a"}')).status, 200);
    assert.equal((await send(port, 'POST', '/undrain', { host: `localhost:${port}` })).status, 200);
    assert.equal((await send(port, 'GET', '/metrics', { host: `lb.internal:${port}` })).status, 200);
  });
});

describe('browser guard on an IPv6 loopback listener', () => {
  it('accepts [::1] and localhost with the port, and nothing else', async () => {
    const guard = new BrowserGuard([]);
    const server = http.createServer((req, res) => {
      const refusal = guard.check(req);
      res.writeHead(refusal?.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify({ error: refusal?.code ?? null }));
    });
    await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
    const port = (server.address() as AddressInfo).port;
    const at = async (headers: Record<string, string>, method = 'GET'): Promise<number> => (await request(`http://[::1]:${port}/`, { method, headers })).status;
    try {
      assert.equal(await at({ host: `[::1]:${port}` }), 200);
      assert.equal(await at({ host: `[::1]:${port}`, origin: `http://[::1]:${port}` }, 'POST'), 200);
      assert.equal(await at({ host: `localhost:${port}` }), 200);
      assert.equal(await at({ host: `[::2]:${port}` }), 403);
      assert.equal(await at({ host: `127.0.0.1:${port}` }), 403, 'not the address it listens on');
      assert.equal(await at({ host: `[::1]` }), 403, 'port 80 is not this listener');
      assert.equal(await at({ host: `[::1]:${port}`, origin: `http://[::2]:${port}` }), 403);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
