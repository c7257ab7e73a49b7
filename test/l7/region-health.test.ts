/**
 * What the balancer tells the DNS tier (issue 15, item 4): active checks are on by default, a
 * backend is healthy only once a check passed, and `meridian serve`'s balancer probe pulls a
 * region whose backends are all dead, with one balancer process or with workers.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { mergeHealth } from '../../src/l7/cluster.js';
import { stopHttp } from '../health/probes/servers.js';
import { udp } from '../support/dns-client.js';
import { freePort, servingPorts, startCliServer } from '../support/process.js';
import { json, startBackend, startBalanceCli, startBalancer, tally, waitFor, type TestBackend } from './helpers.js';

describe('the DNS tier and a region whose backends are all dead', { timeout: 120_000 }, () => {
  it('meridian serve stops answering a region whose `meridian balance --workers 2` has only dead backends (no healthCheck configured), and answers it again once they are back', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-region-health-'));
    const deadPorts = [await freePort(), await freePort()];
    const live = await startBackend('live');
    const revived: TestBackend[] = [];
    const stops: (() => Promise<unknown>)[] = [];
    try {
      const balancerFile = (name: string, addresses: string[]): { file: string } => {
        const file = path.join(dir, `${name}.json`);
        const backends = addresses.map((address, i) => ({ id: `${name}${i + 1}`, address }));
        fs.writeFileSync(file, JSON.stringify({ listen: '127.0.0.1:0', admin: { listen: '127.0.0.1:0' }, pools: { default: { backends } } }));
        return { file };
      };
      const dead = balancerFile(
        'dead',
        deadPorts.map((p) => `127.0.0.1:${p}`),
      );
      const alive = balancerFile('alive', [live.address]);
      const deadLb = await startBalanceCli(dead.file, ['--workers', '2']);
      stops.push(() => deadLb.stop());
      const aliveLb = await startBalanceCli(alive.file);
      stops.push(() => aliveLb.stop());

      // The balancer says so itself: nothing passed a check, so nothing is healthy.
      const h = await json(`${deadLb.adminUrl}/healthz`);
      assert.equal(h.status, 503);
      assert.deepEqual(h.body, { up: false, healthy: 0, total: 2, capacity: 0, draining: false, drained: false });
      assert.equal((await json(`${aliveLb.adminUrl}/healthz`)).status, 200);

      const zones = path.join(dir, 'zones');
      fs.mkdirSync(zones);
      fs.writeFileSync(path.join(zones, 'rh.test.zone'), '$TTL 60\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n');
      fs.writeFileSync(
        path.join(zones, 'rh.test.policy.yaml'),
        `probes:
  deadlb: { type: balancer, port: ${new URL(deadLb.adminUrl).port}, interval: 1, timeout: 500, fall: 1, rise: 1, jitter: 0 }
  alivelb: { type: balancer, port: ${new URL(aliveLb.adminUrl).port}, interval: 1, timeout: 500, fall: 1, rise: 1, jitter: 0 }
targets:
  dead: { region: one, ipv4: [192.0.2.1], probe: deadlb, probeAddress: 127.0.0.1 }
  alive: { region: two, ipv4: [192.0.2.2], probe: alivelb, probeAddress: 127.0.0.1 }
names:
  www:
    ttl: 5
    policy:
      - health: {}
      - failover:
          groups: [{ targets: [dead] }, { targets: [alive] }]
`,
      );
      const serve = await startCliServer(['--listen', '127.0.0.1:0', '--zones', zones]);
      const dnsPort = servingPorts(serve.output()).dns;
      stops.push(() => serve.stop());
      const answer = async (): Promise<string> => String((await udp(dnsPort, 'www.rh.test', 'A')).msg.answers[0]?.data);
      await waitFor(async () => (await answer()) === '192.0.2.2', 5000, 'the dead region to leave the answers');

      // Its backends come back: each worker's checks see them (rise 2), the probe puts the region back.
      for (const p of deadPorts) revived.push(await startBackend(`back${p}`, p));
      await waitFor(async () => (await json(`${deadLb.adminUrl}/healthz`)).body.healthy === 2, 10_000, 'the region to report both backends up');
      assert.deepEqual((await json(`${deadLb.adminUrl}/healthz`)).body, { up: true, healthy: 2, total: 2, capacity: 1, draining: false, drained: false });
      await waitFor(async () => (await answer()) === '192.0.2.1', 5000, 'the region back in the answers');
    } finally {
      for (const stop of stops.reverse()) await stop();
      await Promise.all([live, ...revived].map((b) => b.close()));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a backend counts as healthy only once a check passed', () => {
  it('is not healthy while its first check is pending, and start-up waits for that check', async () => {
    // A backend whose health endpoint answers only when the test says so.
    const held: http.ServerResponse[] = [];
    const backend = http.createServer((req, res) => (req.url === '/healthz' ? held.push(res) : res.end('ok')));
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(backend.address() as AddressInfo).port}`;
    const quick = await startBackend('quick');
    // Start-up waits only 100 ms here, so the balancer serves while the slow check is still pending.
    const lb = await startBalancer({ pools: { default: { backends: [{ id: 'slow', address }], healthCheck: { path: '/healthz', timeoutMs: 10_000 } } } }, 100);
    try {
      await waitFor(() => held.length === 1, 3000, 'the first check to be sent');
      const pending = await json(`${lb.adminUrl}/healthz`);
      assert.equal(pending.status, 503, 'no check has passed yet');
      assert.deepEqual(pending.body, { up: false, healthy: 0, total: 1, capacity: 0, draining: false, drained: false });
      const s = (await json(`${lb.adminUrl}/status`)).body.pools[0].backends[0];
      assert.equal(s.health, 'unknown');
      held.shift()!.end('ok');
      await waitFor(async () => (await json(`${lb.adminUrl}/healthz`)).status === 200, 3000, 'the first check to pass');
    } finally {
      for (const r of held) r.end();
      await lb.close();
      await stopHttp(backend);
    }
    // With the default check (TCP, every 2 s) a healthy region is up as soon as start-up returns,
    // not one interval later: the first check runs at once and start-up waits for it.
    const started = Date.now();
    const lb2 = await startBalancer({ pools: { default: { backends: [{ id: 'quick', address: quick.address }] } } });
    try {
      const h = await json(`${lb2.adminUrl}/healthz`);
      assert.equal(h.status, 200);
      assert.equal(h.body.healthy, 1);
      assert.ok(Date.now() - started < 2000, `up ${Date.now() - started} ms after start`);
    } finally {
      await lb2.close();
      await quick.close();
    }
  });

  it('a reload keeps the health of the backends it keeps, and checks added ones before they take requests', async () => {
    const [a, c] = [await startBackend('a'), await startBackend('c')];
    const deadPort = await freePort();
    const lb = await startBalancer({ pools: { default: { backends: [{ id: 'a', address: a.address }] } } });
    try {
      const before = lb.balancer.runtime.pools.get('default')!.find('a')!.health;
      assert.equal(before.status, 'up');
      lb.write({
        listen: '127.0.0.1:0',
        admin: { listen: '127.0.0.1:0' },
        pools: {
          default: {
            backends: [
              { id: 'a', address: a.address },
              { id: 'b', address: `127.0.0.1:${deadPort}` },
              { id: 'c', address: c.address },
            ],
          },
        },
      });
      assert.deepEqual((await json(`${lb.adminUrl}/reload`, { method: 'POST' })).body, { reloaded: true });
      // Right after the reload: a kept its state, b (dead) and c (alive) were checked before the swap.
      const h = await json(`${lb.adminUrl}/healthz`);
      assert.deepEqual(h.body, { up: true, healthy: 2, total: 3, capacity: 0.667, draining: false, drained: false });
      const backends = (await json(`${lb.adminUrl}/status`)).body.pools[0].backends as { id: string; health: string }[];
      assert.deepEqual(
        backends.map((x) => [x.id, x.health]),
        [
          ['a', 'up'],
          ['b', 'down'],
          ['c', 'up'],
        ],
      );
      assert.equal(lb.balancer.runtime.pools.get('default')!.find('a')!.health.since, before.since, 'a never went back to unknown');
      const counts = await tally(`${lb.url}/`, 6);
      assert.deepEqual([...counts.keys()].sort(), ['a', 'c'], 'the dead added backend takes no request');
    } finally {
      await lb.close();
      await a.close();
      await c.close();
    }
  });
});

describe('--workers N: the merged /healthz', () => {
  it('is down when no worker answers (all being replaced), not an error', () => {
    assert.deepEqual(mergeHealth([]), { up: false, healthy: 0, total: 0, capacity: 0, draining: false, drained: false });
  });
});
