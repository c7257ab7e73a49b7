/** DNS discovery as a pool source, against a real DNS server on loopback whose records the test changes. */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { parseBalancerConfig } from '../../src/l7/config.js';
import { resolveDiscovery } from '../../src/l7/discovery.js';
import { DnsStub } from './dns-stub.js';
import { json, request, startBackends, startBalancer, tally, waitFor, type TestBackend, type TestBalancer } from './helpers.js';

const fast = { type: 'tcp', intervalMs: 200, timeoutMs: 1000, rise: 1, fall: 1 };
const ids = (lb: TestBalancer): string[] =>
  lb.balancer.runtime.pools
    .get('default')!
    .backends.map((b) => b.id)
    .sort();
const served = async (lb: TestBalancer, n: number): Promise<string[]> => [...(await tally(`${lb.url}/`, n)).keys()].sort();

describe('DNS discovery', () => {
  let dns: DnsStub;
  let resolver: string;
  let backends: TestBackend[];
  before(async () => {
    dns = new DnsStub();
    resolver = await dns.start();
    backends = await startBackends(3);
  });
  after(async () => {
    await dns.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('SRV: the lowest priority group serves; the pool follows the zone; a failed resolution keeps the last good set', async () => {
    const [a, b, c] = backends as [TestBackend, TestBackend, TestBackend];
    const srv = (x: TestBackend, priority: number) => ({ type: 'SRV' as const, priority, weight: 1, port: x.port, target: '127.0.0.1' });
    dns.records.set('_http._tcp.web.test', [srv(a, 10), srv(b, 10), srv(c, 20)]);
    const lb = await startBalancer({ pools: { default: { backends: [], healthCheck: fast, discovery: { dns: '_http._tcp.web.test', resolver, intervalMs: 150 } } } });
    try {
      assert.deepEqual(ids(lb), [`dns-127.0.0.1-${a.port}`, `dns-127.0.0.1-${b.port}`].sort());
      assert.deepEqual(await served(lb, 8), ['a', 'b'], 'c is a fallback (priority 20)');

      dns.records.set('_http._tcp.web.test', [srv(b, 10), srv(c, 10)]);
      await waitFor(() => ids(lb).join() === [`dns-127.0.0.1-${b.port}`, `dns-127.0.0.1-${c.port}`].sort().join(), 10_000, 'the pool following the zone');
      assert.deepEqual(await served(lb, 8), ['b', 'c']);

      dns.failing = true;
      const failures = (): number => lb.balancer.metrics.discovery?.failures.get('default') ?? 0;
      await waitFor(() => failures() >= 2, 10_000, 'failed resolutions');
      assert.deepEqual(await served(lb, 8), ['b', 'c'], 'the last good set keeps serving');
      const metrics = (await request(`${lb.adminUrl}/metrics`)).body;
      assert.match(metrics, /meridian_l7_discovery_failures_total\{pool="default"\} [1-9]/);
      assert.match(metrics, /meridian_l7_discovery_backends\{pool="default"\} 2/);

      dns.failing = false;
      dns.records.set('_http._tcp.web.test', []); // the name exists with no SRV: kept as a failure, not an empty pool
      const before = failures();
      await waitFor(() => failures() > before, 10_000, 'an empty answer counted');
      assert.equal(ids(lb).length, 2);
    } finally {
      dns.failing = false;
      await lb.close();
    }
  });

  it('A: each address with the configured port, static backends kept, a new address checked before it serves, and a reload keeps what was found', async () => {
    // Two servers on one port at two loopback addresses, and a third address with nothing listening.
    const servers = ['127.0.0.2', '127.0.0.3'].map(() => http.createServer((_req, res) => res.end('x')));
    await new Promise<void>((resolve) => servers[0]!.listen(0, '127.0.0.2', resolve));
    const port = (servers[0]!.address() as AddressInfo).port;
    await new Promise<void>((resolve, reject) => servers[1]!.once('error', reject).listen(port, '127.0.0.3', resolve));
    for (const [i, s] of servers.entries()) s.removeAllListeners('request').on('request', (_req, res) => res.end(`ip${i + 2}`));
    const [a] = backends as [TestBackend];
    dns.records.set('web.test', [{ type: 'A', address: '127.0.0.2' }]);
    const lb = await startBalancer({
      pools: { default: { backends: [{ id: 'a', address: a.address }], healthCheck: fast, discovery: { dns: 'web.test', type: 'A', port, resolver, intervalMs: 150 } } },
    });
    try {
      assert.deepEqual(await served(lb, 6), ['a', 'ip2']);
      dns.records.set('web.test', [
        { type: 'A', address: '127.0.0.2' },
        { type: 'A', address: '127.0.0.3' },
        { type: 'A', address: '127.0.0.4' },
      ]);
      await waitFor(() => ids(lb).length === 4, 10_000, 'three discovered backends');
      const counts = await tally(`${lb.url}/`, 12);
      assert.deepEqual([...counts.keys()].sort(), ['a', 'ip2', 'ip3'], 'the dead address is never sent a request');
      assert.equal(counts.size, 3);

      lb.write({
        listen: '127.0.0.1:0',
        admin: { listen: '127.0.0.1:0' },
        pools: { default: { backends: [{ id: 'a', address: a.address }], healthCheck: fast, discovery: { dns: 'web.test', type: 'A', port, resolver, intervalMs: 150 } } },
      });
      assert.deepEqual(await lb.balancer.reload(), { ok: true });
      assert.equal(ids(lb).length, 4, 'discovered backends survive a reload of the file');
    } finally {
      await lb.close();
      for (const s of servers) s.closeAllConnections();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
  });

  it('starts with an empty pool while the name does not resolve (503), and serves once it does', async () => {
    const [a] = backends as [TestBackend];
    dns.records.delete('late.test');
    const lb = await startBalancer({ pools: { default: { backends: [], healthCheck: fast, discovery: { dns: 'late.test', type: 'A', port: a.port, resolver, intervalMs: 150 } } } }, 500);
    try {
      const r = await request(`${lb.url}/`);
      assert.equal(r.status, 503);
      assert.equal(r.headers['x-meridian-error'], 'L7_NO_BACKEND');
      assert.equal((await request(`${lb.adminUrl}/healthz`)).status, 503);
      dns.records.set('late.test', [{ type: 'A', address: '127.0.0.1' }]);
      await waitFor(async () => (await request(`${lb.url}/`)).body === 'a', 10_000, 'the pool serving what DNS found');
    } finally {
      await lb.close();
    }
  });

  it('a hostile answer: records that cannot be a backend are dropped (port 0, odd target names, unspecified, multicast and link-local addresses); start-up and reloads go on', async () => {
    const [a] = backends as [TestBackend];
    const srv = (port: number, target: string) => ({ type: 'SRV' as const, priority: 1, weight: 1, port, target });
    // port 0, names that are no host (':' would break HOST:PORT, ' ' and '/' a URL), and an address nobody should be sent to
    dns.records.set('_http._tcp.evil.test', [srv(a.port, '127.0.0.1'), srv(0, 'web.test'), srv(80, 'a:b'), srv(80, 'a b/c'), srv(80, '[x]'), srv(80, '169.254.169.254')]);
    const config = {
      listen: '127.0.0.1:0',
      admin: { listen: '127.0.0.1:0' },
      pools: { default: { backends: [], healthCheck: fast, discovery: { dns: '_http._tcp.evil.test', resolver, intervalMs: 150 } } },
    };
    const lb = await startBalancer(config);
    try {
      assert.deepEqual(ids(lb), [`dns-127.0.0.1-${a.port}`]);
      assert.equal((await request(`${lb.url}/`)).body, 'a');
      lb.write(config);
      assert.deepEqual(await lb.balancer.reload(), { ok: true }, 'a reload is not refused for what DNS said');
    } finally {
      await lb.close();
    }
    dns.records.set(
      'hostile-a.test',
      ['127.0.0.1', '0.0.0.0', '255.255.255.255', '224.0.0.1', '169.254.169.254'].map((address) => ({ type: 'A' as const, address })),
    );
    dns.records.set(
      'hostile-aaaa.test',
      ['::1', '::', 'ff02::1', 'fe80::1', '::ffff:a9fe:a9fe', '::ffff:0:0'].map((address) => ({ type: 'AAAA' as const, address })),
    );
    const d = (dns: string, type: 'A' | 'AAAA') => ({ dns, type, port: a.port, resolver, weight: 1, maxConnections: 1, maxRequests: 1, intervalMs: 1000, timeoutMs: 2000 });
    assert.deepEqual(
      (await resolveDiscovery(d('hostile-a.test', 'A'))).map((b) => b.address),
      [`127.0.0.1:${a.port}`],
    );
    assert.deepEqual(
      (await resolveDiscovery(d('hostile-aaaa.test', 'AAAA'))).map((b) => b.address),
      [`[::1]:${a.port}`],
    );
    dns.records.set('hostile-a.test', [{ type: 'A', address: '0.0.0.0' }]);
    await assert.rejects(resolveDiscovery(d('hostile-a.test', 'A')), /no usable A records/, 'nothing usable is a failure: the last good set stays');
  });

  it('runtime registration (PUT, DELETE) goes on beside a pool with discovered backends, which stay', async () => {
    const [a, b, c] = backends as [TestBackend, TestBackend, TestBackend];
    dns.records.set('found.test', [{ type: 'A', address: '127.0.0.1' }]);
    const lb = await startBalancer({
      pools: {
        default: { backends: [{ id: 'b', address: b.address }], healthCheck: fast },
        found: { backends: [], healthCheck: fast, discovery: { dns: 'found.test', type: 'A', port: a.port, resolver, intervalMs: 150 } },
      },
    });
    const at = (pool: string, id: string): string => `${lb.adminUrl}/pools/${pool}/backends/${id}`;
    const found = (): string[] =>
      lb.balancer.runtime.pools
        .get('found')!
        .backends.map((x) => x.id)
        .sort();
    try {
      const other = await json(at('default', 'c'), { method: 'PUT', body: { address: c.address } });
      assert.equal(other.status, 201, JSON.stringify(other.body));
      const beside = await json(at('found', 'c'), { method: 'PUT', body: { address: c.address } });
      assert.equal(beside.status, 201, JSON.stringify(beside.body));
      assert.deepEqual(found(), ['c', `dns-127.0.0.1-${a.port}`]);
      assert.equal((await json(at('found', 'c'), { method: 'DELETE' })).status, 200);
      assert.deepEqual(found(), [`dns-127.0.0.1-${a.port}`]);
      assert.equal((await json(at('found', `dns-127.0.0.1-${a.port}`), { method: 'PUT', body: { address: c.address } })).status, 400, "the dns- ids stay discovery's");
    } finally {
      await lb.close();
    }
  });

  it('refuses a discovery block without what it needs, naming the field', () => {
    const file = path.join(os.tmpdir(), 'lb.json');
    const load = (pool: object): string => {
      try {
        parseBalancerConfig(JSON.stringify({ pools: { p: pool } }), file);
      } catch (err) {
        return (err as Error).message;
      }
      return 'loaded';
    };
    assert.match(load({ backends: [] }), /pools\.p\.backends: a pool needs at least one backend, or discovery/);
    assert.match(load({ backends: [], discovery: { dns: 'web.test', type: 'A' } }), /pools\.p\.discovery\.port: is required with type A/);
    assert.match(load({ backends: [], discovery: { dns: 'web.test', port: 80 } }), /pools\.p\.discovery\.port: SRV records give the port/);
    assert.match(load({ backends: [], discovery: { dns: 'web.test', resolver: 'dns.example:53' } }), /pools\.p\.discovery\.resolver: "dns\.example:53" is not IP:PORT/);
    assert.match(
      load({ backends: [{ id: 'dns-x', address: '127.0.0.1:1' }], discovery: { dns: 'web.test' } }),
      /pools\.p\.backends\.0\.id: "dns-x": ids starting with dns- are for discovered backends/,
    );
    assert.match(load({ backends: [], discovery: { dns: 'bad name!' } }), /dns/);
    assert.equal(load({ backends: [], discovery: { dns: '_http._tcp.web.test', resolver: '[::1]:5353' } }), 'loaded');
  });
});
