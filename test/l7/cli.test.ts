/** `meridian balance` as users run it: config errors, SIGHUP reload, SIGTERM with a request in flight, and --workers. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../support/process.js';
import { childPids, json, request, startBalanceCli as startCli, startBackends, tally, waitFor, type TestBackend } from './helpers.js';

describe('meridian balance', () => {
  let backends: TestBackend[];
  let dir: string;
  before(async () => {
    backends = await startBackends(2);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-balance-cli-'));
  });
  after(async () => {
    await Promise.all(backends.map((b) => b.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const writeConfig = async (name: string, pools: object, extra: object = {}): Promise<string> => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, JSON.stringify({ listen: '127.0.0.1:0', admin: { listen: '127.0.0.1:0' }, pools, ...extra }, null, 2));
    return file;
  };

  it('refuses a bad config naming file, line and field (exit 2)', async () => {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'pools:\n  web:\n    algorithm: round-robin\n    backends:\n      - id: a\n        address: not-an-address\n');
    const r = await runCli(['balance', '--config', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yaml:6: pools\.web\.backends\.0\.address: "not-an-address" is not HOST:PORT/);
    const w = await runCli(['balance', '--config', file, '--workers', 'many']);
    assert.equal(w.code, 2);
    assert.match(w.stderr, /--workers: "many"/);
  });

  it('reloads on SIGHUP, and on SIGTERM finishes the request in flight before exiting 0', async () => {
    const [a, b] = backends as [TestBackend, TestBackend];
    const file = await writeConfig('one.json', { default: { backends: [{ id: 'a', address: a.address }] } });
    const lb = await startCli(file);
    try {
      assert.deepEqual([...(await tally(`${lb.url}/`, 3)).entries()], [['a', 3]]);
      const config = JSON.parse(fs.readFileSync(file, 'utf8'));
      config.pools.default.backends.push({ id: 'b', address: b.address });
      fs.writeFileSync(file, JSON.stringify(config));
      lb.child.kill('SIGHUP');
      await waitFor(async () => (await tally(`${lb.url}/`, 2)).has('b'), 5000, 'b added by the reload');

      let release!: () => void;
      a.handler = (_req, res) => {
        release = () => res.end('finished');
      };
      b.handler = a.handler;
      const pending = request(`${lb.url}/`);
      await waitFor(() => release !== undefined, 3000, 'a request in flight');
      const exited = lb.stop();
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(lb.child.exitCode, null, 'still running while a request is in flight');
      release();
      assert.equal((await pending).body, 'finished');
      assert.equal(await exited, 0);
    } finally {
      a.handler = (_req, res) => res.end('a');
      b.handler = (_req, res) => res.end('b');
      await lb.stop();
    }
  });

  it('--workers 2 shares the port over two worker processes driven by one admin listener', async () => {
    const file = await writeConfig('workers.json', { default: { algorithm: 'round-robin', backends: backends.map((x) => ({ id: x.id, address: x.address })) } });
    const lb = await startCli(file, ['--workers', '2']);
    const workers = childPids(lb.child.pid!);
    try {
      assert.equal(workers.length, 2, 'two worker processes');
      const counts = await tally(`${lb.url}/`, 20);
      assert.equal((counts.get('a') ?? 0) + (counts.get('b') ?? 0), 20);
      const status = await json(`${lb.adminUrl}/status`);
      const served = status.body.pools[0].backends.reduce((n: number, x: { requests: number }) => n + x.requests, 0);
      assert.equal(served, 20, 'the status sums every worker');
      assert.deepEqual((await json(`${lb.adminUrl}/healthz`)).body.healthy, 2);
      await json(`${lb.adminUrl}/drain`, { method: 'POST' });
      const drained = await tally(`${lb.url}/`, 10);
      assert.deepEqual([...drained.entries()], [['HTTP 503', 10]], 'every worker drains');
      // A worker that dies during a drain is replaced by one that drains too, so /healthz can say drained.
      process.kill(workers[0]!, 'SIGKILL');
      await waitFor(() => lb.output().includes('balancer worker replaced'), 30_000, 'the dead worker to be replaced');
      workers.push(...childPids(lb.child.pid!).filter((p) => !workers.includes(p)));
      const after = await tally(`${lb.url}/`, 10);
      assert.deepEqual([...after.entries()], [['HTTP 503', 10]], 'the new worker drains too');
      assert.deepEqual((await json(`${lb.adminUrl}/healthz`)).body, { up: false, healthy: 2, total: 2, capacity: 0, draining: true, drained: true });
      const metrics = (await request(`${lb.adminUrl}/metrics`)).body;
      assert.match(metrics, /meridian_l7_requests_total\{pool="default",backend="a"\} \d+/);
    } finally {
      assert.equal(await lb.stop(), 0);
    }
    for (const pid of workers) assert.throws(() => process.kill(pid, 0), 'worker exited');
  });

  it('--workers 2 share the rate-limit buckets: a limit holds for the balancer, not once per worker', async () => {
    const pools = { default: { backends: backends.map((x) => ({ id: x.id, address: x.address })) } };
    const file = await writeConfig('limits.json', pools, { rateLimit: { perClient: { ratePerSec: 0.01, burst: 10 } } });
    const lb = await startCli(file, ['--workers', '2']);
    try {
      // Fresh connections, spread over both workers: each alone would let 10 through.
      const counts = await tally(`${lb.url}/`, 30);
      assert.equal(counts.get('HTTP 429'), 20, `10 of 30 through: ${JSON.stringify([...counts])}`);
    } finally {
      assert.equal(await lb.stop(), 0);
    }
  });
});
