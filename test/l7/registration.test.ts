/**
 * Runtime registration through the admin listener: PUT adds or re-weights a backend, DELETE
 * removes one, hostile names are refused with the field named, and a reload replaces what was
 * registered with what the file says.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { json, request, startBackends, startBalancer, tally, type TestBackend, type TestBalancer } from './helpers.js';

describe('runtime registration', () => {
  let backends: TestBackend[];
  let lb: TestBalancer;
  let fileConfig: Record<string, unknown>;
  before(async () => {
    backends = await startBackends(3);
    fileConfig = { pools: { default: { algorithm: 'weighted-round-robin', backends: [{ id: 'a', address: backends[0]!.address }] } } };
    lb = await startBalancer(fileConfig);
  });
  after(async () => {
    await lb.close();
    await Promise.all(backends.map((b) => b.close()));
  });
  const at = (pool: string, id: string) => `${lb.adminUrl}/pools/${pool}/backends/${id}`;

  it('adds a backend, re-weights it and removes another', async () => {
    const added = await json(at('default', 'b'), { method: 'PUT', body: { address: backends[1]!.address } });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.backend.id, 'b');
    assert.deepEqual([...(await tally(`${lb.url}/`, 4)).entries()].sort(), [
      ['a', 2],
      ['b', 2],
    ]);

    const reweighted = await json(at('default', 'b'), { method: 'PUT', body: { address: backends[1]!.address, weight: 3 } });
    assert.equal(reweighted.status, 200);
    assert.equal(reweighted.body.backend.weight, 3);
    assert.deepEqual([...(await tally(`${lb.url}/`, 8)).entries()].sort(), [
      ['a', 2],
      ['b', 6],
    ]);

    assert.equal((await json(at('default', 'a'), { method: 'DELETE' })).status, 200);
    assert.deepEqual([...(await tally(`${lb.url}/`, 3)).entries()], [['b', 3]]);
    const last = await json(at('default', 'b'), { method: 'DELETE' });
    assert.equal(last.status, 409);
    assert.equal(last.body.error, 'L7_CONFLICT');
    assert.equal((await request(`${lb.url}/`)).body, 'b', 'a refused change leaves the pool serving');
  });

  it('answers 404 for an unknown pool or backend', async () => {
    assert.equal((await json(at('nope', 'x'), { method: 'PUT', body: { address: '127.0.0.1:1' } })).status, 404);
    const gone = await json(at('default', 'zz'), { method: 'DELETE' });
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error, 'L7_NO_SUCH_BACKEND');
    // an RFC 9457 problem document, as the admin API's errors
    const raw = await fetch(at('default', 'zz'), { method: 'DELETE' });
    assert.match(raw.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const p = (await raw.json()) as { code: string; status: number; type: string };
    assert.deepEqual([p.code, p.status, p.type], ['L7_NO_SUCH_BACKEND', 404, 'urn:meridian:error:L7_NO_SUCH_BACKEND']);
  });

  it('refuses hostile names and bad specs, naming the field, and changes nothing', async () => {
    const before = (await json(`${lb.adminUrl}/status`)).body;
    for (const [pool, id] of [
      ['default', '__proto__'],
      ['__proto__', 'x'],
      ['constructor', 'x'],
      ['default', 'a%2Fb'],
      ['default', '..'],
      ['default', 'x'.repeat(64)],
      ['default', '%00x'],
    ]) {
      const r = await json(at(pool!, id!), { method: 'PUT', body: { address: backends[2]!.address } });
      assert.ok(r.status === 400 || r.status === 404, `${pool}/${id}: ${r.status}`);
    }
    const badAddress = await json(at('default', 'c'), { method: 'PUT', body: { address: 'not-an-address' } });
    assert.equal(badAddress.status, 400);
    assert.match(badAddress.body.message, /pools\.default\.backends\.\d+\.address: "not-an-address" is not HOST:PORT/);
    const badWeight = await json(at('default', 'c'), { method: 'PUT', body: { address: backends[2]!.address, weight: 0 } });
    assert.equal(badWeight.status, 400);
    assert.match(badWeight.body.message, /weight/);
    const extra = await json(at('default', 'c'), { method: 'PUT', body: { address: backends[2]!.address, admin: true } });
    assert.equal(extra.status, 400);
    // Bodies a JSON.stringify never writes: an own __proto__ key, and one far past any spec's size.
    for (const raw of [`{"address":"${backends[2]!.address}","__proto__":{"weight":0}}`, `{"address":"${backends[2]!.address}","weight":1${' '.repeat(2_000_000)}}`]) {
      const r = await fetch(at('default', 'c'), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: raw });
      assert.ok(r.status === 400 || r.status === 413, `${raw.slice(0, 60)}: ${r.status}`);
      await r.arrayBuffer();
    }
    assert.deepEqual(
      (await json(`${lb.adminUrl}/status`)).body.pools.map((p: { backends: { id: string }[] }) => p.backends.map((b) => b.id)),
      before.pools.map((p: { backends: { id: string }[] }) => p.backends.map((b) => b.id)),
    );
  });

  it('needs the bearer token when one is set', async () => {
    const token = 'a-token-of-sixteen-chars';
    const guarded = await startBalancer({ admin: { listen: '127.0.0.1:0', token }, pools: { default: { backends: [{ id: 'a', address: backends[0]!.address }] } } });
    try {
      const url = `${guarded.adminUrl}/pools/default/backends/b`;
      assert.equal((await json(url, { method: 'PUT', body: { address: backends[1]!.address } })).status, 401);
      assert.equal((await json(url, { method: 'PUT', body: { address: backends[1]!.address }, token: 'wrong-token-of-sixteen' })).status, 401);
      assert.equal((await json(url, { method: 'PUT', body: { address: backends[1]!.address }, token })).status, 201);
    } finally {
      await guarded.close();
    }
  });

  it('keeps every one of concurrent registrations (each builds on the one before)', async () => {
    const ids = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    const answers = await Promise.all(ids.map((id, i) => json(at('default', id), { method: 'PUT', body: { address: backends[i % 3]!.address } })));
    assert.deepEqual(
      answers.map((r) => r.status),
      ids.map(() => 201),
    );
    const pool = (await json(`${lb.adminUrl}/status`)).body.pools.find((p: { name: string }) => p.name === 'default');
    for (const id of ids)
      assert.ok(
        pool.backends.some((b: { id: string }) => b.id === id),
        `${id} is registered: ${JSON.stringify(pool.backends.map((b: { id: string }) => b.id))}`,
      );
    await Promise.all(ids.map((id) => json(at('default', id), { method: 'DELETE' })));
  });

  it('is replaced by the file on reload', async () => {
    assert.equal((await json(at('default', 'c'), { method: 'PUT', body: { address: backends[2]!.address } })).status, 201);
    lb.write({ listen: '127.0.0.1:0', admin: { listen: '127.0.0.1:0' }, ...fileConfig });
    assert.equal((await json(`${lb.adminUrl}/reload`, { method: 'POST' })).status, 200);
    assert.deepEqual([...(await tally(`${lb.url}/`, 3)).entries()], [['a', 3]]);
  });
});

describe('runtime registration during a file reload', () => {
  it('builds on the reloaded file, not on the config the reload is replacing', async () => {
    const backends = await startBackends(2);
    // a health check that takes a while, so the reload waits for its first round
    const slow = http.createServer((_req, res) => void setTimeout(() => res.end('ok'), 700));
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const slowAddress = `127.0.0.1:${(slow.address() as AddressInfo).port}`;
    const fileConfig = { pools: { default: { backends: [{ id: 'a', address: backends[0]!.address }] } } };
    const lb = await startBalancer(fileConfig);
    try {
      lb.write({
        listen: '127.0.0.1:0',
        admin: { listen: '127.0.0.1:0' },
        pools: { ...fileConfig.pools, added: { healthCheck: { type: 'http', path: '/', timeoutMs: 3000 }, backends: [{ id: 's', address: slowAddress }] } },
      });
      const reload = json(`${lb.adminUrl}/reload`, { method: 'POST' });
      await new Promise((resolve) => setTimeout(resolve, 200)); // the reload is waiting for its first check
      const registered = await json(`${lb.adminUrl}/pools/default/backends/r`, { method: 'PUT', body: { address: backends[1]!.address } });
      assert.equal((await reload).status, 200);
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
      const pools = (await json(`${lb.adminUrl}/status`)).body.pools as Array<{ name: string; backends: Array<{ id: string }> }>;
      const seen = Object.fromEntries(pools.map((p) => [p.name, p.backends.map((b) => b.id).sort()]));
      assert.deepEqual(seen, { default: ['a', 'r'], added: ['s'] }, 'the reloaded pool and the registered backend both serve');
    } finally {
      await lb.close();
      await Promise.all(backends.map((b) => b.close()));
      await new Promise((resolve) => slow.close(resolve));
    }
  });
});
