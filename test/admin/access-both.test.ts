/**
 * Issue #18 item 3: the admin API and the balancer's admin listener check access with one
 * module (src/admin/auth.ts), so the same hostile request gets the same answer from both:
 * status, code, field and WWW-Authenticate, over real HTTP on loopback. With a token: every
 * malformed or wrong credential is 401 GSLB_ERR_API_UNAUTHENTICATED (the balancer said
 * L7_UNAUTHENTICATED without WWW-Authenticate before, and checked only after reading the
 * body); without one: the browser guard's refusals. Each write is one that would succeed, and
 * the state is checked unchanged after.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request, startBackends, startBalancer, pool, type TestBackend, type TestBalancer } from '../l7/helpers.js';
import { RW_TOKEN, startMeridian, workspace, type Meridian, type Workspace } from './helpers.js';

interface Answer {
  status: number;
  error: string | null;
  field: string | null;
  wwwAuthenticate: string | null;
}

async function send(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const r = await request(`http://127.0.0.1:${port}${path}`, { method, headers, body });
  let json: { error?: string; field?: string | null } = {};
  try {
    json = JSON.parse(r.body) as typeof json;
  } catch {
    // not JSON
  }
  const www = r.headers['www-authenticate'];
  return { status: r.status, error: json.error ?? null, field: json.field ?? null, wwwAuthenticate: typeof www === 'string' ? www : null };
}

/** Credentials that must not let a write in, each with the request's other headers right. */
function badCredentials(port: number): Array<[string, Record<string, string>, string | undefined]> {
  const host = `127.0.0.1:${port}`;
  const json = { host, 'content-type': 'application/json' };
  return [
    ['no Authorization', json, '{}'],
    ['a wrong token', { ...json, authorization: 'Bearer not-the-right-token-at-all-0000' }, '{}'],
    ['a prefix of the token', { ...json, authorization: `Bearer ${RW_TOKEN.slice(0, -1)}` }, '{}'],
    ['the token and more', { ...json, authorization: `Bearer ${RW_TOKEN}x` }, '{}'],
    ['two tokens', { ...json, authorization: `Bearer ${RW_TOKEN} ${RW_TOKEN}` }, '{}'],
    ['another scheme', { ...json, authorization: `Basic ${RW_TOKEN}` }, '{}'],
    ['no scheme', { ...json, authorization: RW_TOKEN }, '{}'],
    ['an empty bearer', { ...json, authorization: 'Bearer ' }, '{}'],
    ['a body the route would refuse', json, '{"nonsense": ['],
    ['a page with a form', { host, 'content-type': 'text/plain', origin: 'http://evil.example' }, 'x'],
    ['a rebound Host', { host: `evil.example:${port}`, 'content-type': 'application/json' }, '{}'],
  ];
}

/** What only a web page sends, refused when no token is set. */
function pageRequests(port: number): Array<[string, Record<string, string>, string | undefined]> {
  const host = `127.0.0.1:${port}`;
  return [
    ['a text/plain form', { host, 'content-type': 'text/plain', origin: 'http://evil.example' }, '{}'],
    ['text/plain without Origin', { host, 'content-type': 'text/plain' }, '{}'],
    ['a urlencoded form', { host, 'content-type': 'application/x-www-form-urlencoded' }, 'a=1'],
    ['multipart', { host, 'content-type': 'multipart/form-data; boundary=x' }, '--x--'],
    ['a body without a type', { host }, '{}'],
    ['Origin null', { host, origin: 'null' }, undefined],
    ['a foreign Origin', { host, origin: 'http://evil.example', 'content-type': 'application/json' }, '{}'],
    ['Origin on another port', { host, origin: `http://127.0.0.1:${port + 1}` }, undefined],
    ['a rebound Host', { host: `evil.example:${port}` }, undefined],
    ['a rebound Host with a trailing dot', { host: `evil.example.:${port}` }, undefined],
    ['a malformed Host', { host: `127.0.0.1:${port}:1` }, undefined],
    ['our address on another port', { host: `127.0.0.1:${port + 1}` }, undefined],
  ];
}

/** The admin API (a meridian process) and a balancer's admin listener, both with `token` or both without, for one describe block. */
function bothListeners(token: string | null): { m: Meridian; lb: TestBalancer; lbPort: number } {
  const both = {} as { m: Meridian; lb: TestBalancer; lbPort: number; ws: Workspace; backends: TestBackend[] };
  before(async () => {
    both.backends = await startBackends(1);
    both.ws = workspace();
    both.m = await startMeridian(both.ws, { env: token === null ? {} : { MERIDIAN_ADMIN_TOKEN: token } });
    both.lb = await startBalancer({ admin: { listen: '127.0.0.1:0', ...(token !== null && { token }) }, pools: { default: pool(both.backends) } });
    both.lbPort = Number(new URL(both.lb.adminUrl).port);
  });
  after(async () => {
    await both.m?.stop();
    both.ws?.remove();
    await both.lb?.close();
    for (const b of both.backends ?? []) await b.close();
  });
  return both;
}

describe('one access check for the admin API and the balancer admin listener', () => {
  describe('with a token', () => {
    const both = bothListeners(RW_TOKEN);

    it('both refuse every bad credential alike: 401 GSLB_ERR_API_UNAUTHENTICATED with WWW-Authenticate', async () => {
      for (const [what, headers, body] of badCredentials(both.m.api)) {
        const api = await send(both.m.api, 'POST', '/v1/regions/one/drain', headers, body);
        const bal = await send(both.lbPort, 'POST', '/drain', { ...headers, host: headers.host!.replace(String(both.m.api), String(both.lbPort)) }, body);
        assert.deepEqual(api, { status: 401, error: 'GSLB_ERR_API_UNAUTHENTICATED', field: null, wwwAuthenticate: 'Bearer realm="meridian"' }, `admin API, ${what}`);
        assert.deepEqual(bal, api, `balancer, ${what}`);
      }
      for (const [path, method] of [
        ['/pools/default/backends/x', 'PUT'],
        ['/pools/default/backends/a', 'DELETE'],
        ['/reload', 'POST'],
        ['/undrain', 'POST'],
      ] as const) {
        const r = await send(both.lbPort, method, path, { host: `127.0.0.1:${both.lbPort}`, 'content-type': 'application/json' }, method === 'PUT' ? '{"address":"127.0.0.1:9"}' : undefined);
        assert.equal(r.status, 401, `${method} ${path}`);
        assert.equal(r.error, 'GSLB_ERR_API_UNAUTHENTICATED', `${method} ${path}`);
      }
      const status = JSON.parse((await request(`${both.lb.adminUrl}/status`)).body) as { draining: boolean; pools: Array<{ backends: unknown[] }> };
      assert.equal(status.draining, false, 'the balancer never drained');
      assert.equal(status.pools[0]!.backends.length, 1, 'no backend registered or removed');
      const health = JSON.parse((await request(`http://127.0.0.1:${both.m.api}/v1/health`, { headers: { authorization: `Bearer ${RW_TOKEN}` } })).body) as {
        targets: Array<{ region: string; forced: unknown }>;
      };
      assert.ok(
        health.targets.filter((t) => t.region === 'one').every((t) => t.forced === null),
        'the region never drained',
      );
    });

    it('both let the token in, in any letter case of the scheme and whatever the Host', async () => {
      for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
        const auth = { authorization: `${scheme} ${RW_TOKEN}`, 'content-type': 'application/json' };
        assert.equal((await send(both.m.api, 'POST', '/v1/regions/one/undrain', { ...auth, host: `gslb.example.net:${both.m.api}` }, '{}')).status, 200, scheme);
        assert.equal((await send(both.lbPort, 'POST', '/undrain', { ...auth, host: `lb.example.net:${both.lbPort}` }, '{}')).status, 200, scheme);
      }
    });
  });

  describe('without a token', () => {
    const both = bothListeners(null);

    it('both refuse what only a web page sends, with the same status, code and field', async () => {
      for (const [what, headers, body] of pageRequests(both.m.api)) {
        const api = await send(both.m.api, 'POST', '/v1/regions/one/drain', headers, body);
        const swap = (v: string): string => v.replaceAll(String(both.m.api), String(both.lbPort)).replaceAll(String(both.m.api + 1), String(both.lbPort + 1));
        const bal = await send(both.lbPort, 'POST', '/drain', Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, swap(v)])), body);
        assert.ok([403, 415].includes(api.status), `admin API, ${what}: ${JSON.stringify(api)}`);
        assert.ok(api.error?.startsWith('GSLB_ERR_API_'), `admin API, ${what}`);
        assert.deepEqual(bal, api, `balancer, ${what}`);
      }
      assert.equal(JSON.parse((await request(`${both.lb.adminUrl}/status`)).body).draining, false, 'the balancer never drained');
    });

    it('both leave their probe routes open to any Host', async () => {
      assert.equal((await send(both.m.api, 'GET', '/livez', { host: `pod-ip.example:${both.m.api}` })).status, 200);
      assert.equal((await send(both.lbPort, 'GET', '/healthz', { host: `region.example:${both.lbPort}` })).status, 200);
    });
  });
});
