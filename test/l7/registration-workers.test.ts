/** Runtime registration with `meridian balance --workers 2`: applied by every worker before it is acknowledged, and kept by a worker that replaces a dead one. */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/process.js';
import { childPids, json, startBackends, startBalanceCli, tally, waitFor, type TestBackend } from './helpers.js';

describe('runtime registration with --workers 2', () => {
  let backends: TestBackend[];
  let dir: string;
  before(async () => {
    backends = await startBackends(3);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-reg-workers-'));
  });
  after(async () => {
    await Promise.all(backends.map((b) => b.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every worker applies a PUT or DELETE before it is acknowledged, a replaced worker starts with them, and a reload replaces them', async () => {
    const [a, b, c] = backends as [TestBackend, TestBackend, TestBackend];
    const file = path.join(dir, 'lb.json');
    const fileConfig = { listen: `127.0.0.1:${await freePort()}`, admin: { listen: `127.0.0.1:${await freePort()}` }, pools: { default: { backends: [{ id: 'a', address: a.address }] } } };
    fs.writeFileSync(file, JSON.stringify(fileConfig));
    const lb = await startBalanceCli(file, ['--workers', '2']);
    const at = (id: string): string => `${lb.adminUrl}/pools/default/backends/${id}`;
    try {
      const added = await json(at('b'), { method: 'PUT', body: { address: b.address } });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.equal(added.body.backend.id, 'b');
      const removed = await json(at('a'), { method: 'DELETE' });
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      // Fresh connections land on both workers: a worker that missed either change would answer "a".
      assert.deepEqual([...(await tally(`${lb.url}/`, 12)).entries()], [['b', 12]]);
      const refused = await json(at('b'), { method: 'DELETE' });
      assert.equal(refused.status, 409, 'the last backend, on every worker');
      assert.equal(refused.body.error, 'L7_CONFLICT');
      assert.equal((await json(at('x'), { method: 'PUT', body: { address: 'nope' } })).status, 400);
      const [victim] = childPids(lb.child.pid!);
      process.kill(victim!, 'SIGKILL');
      await waitFor(() => lb.output().includes('"msg":"balancer worker replaced"'), 30_000, 'a replacement worker');
      assert.deepEqual([...(await tally(`${lb.url}/`, 12)).entries()], [['b', 12]], 'the new worker serves with the registrations, never with the file alone');
      const third = await json(at('c'), { method: 'PUT', body: { address: c.address } });
      assert.equal(third.status, 201, 'registration works with the replacement too');
      assert.deepEqual([...(await tally(`${lb.url}/`, 12)).entries()].sort(), [
        ['b', 6],
        ['c', 6],
      ]);

      assert.equal((await json(`${lb.adminUrl}/reload`, { method: 'POST' })).status, 200);
      assert.deepEqual([...(await tally(`${lb.url}/`, 6)).entries()], [['a', 6]], 'the file replaces what was registered');
    } finally {
      await lb.stop();
    }
  });

  it('a worker that replaces a dead one while a reload is made (it read the file before) takes the reload before it serves', async () => {
    const [a, b] = backends as [TestBackend, TestBackend];
    // A resolver that never answers: each worker's start waits on it, which holds the replacement between reading the file and serving.
    const silent = dgram.createSocket('udp4');
    let queries = 0;
    silent.on('message', () => queries++);
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const file = path.join(dir, 'lb-race.json');
    const config = (backend: TestBackend): object => ({
      listen,
      admin: { listen: adminListen },
      pools: {
        default: { backends: [{ id: backend.id, address: backend.address }] },
        found: { backends: [], discovery: { dns: 'never.test', type: 'A', port: 80, resolver: `127.0.0.1:${silent.address().port}`, timeoutMs: 1500 } },
      },
    });
    const listen = `127.0.0.1:${await freePort()}`;
    const adminListen = `127.0.0.1:${await freePort()}`;
    fs.writeFileSync(file, JSON.stringify(config(a)));
    // Closed however the start goes: an open socket would keep this test file running for ever.
    const lb = await startBalanceCli(file, ['--workers', '2']).catch((err: unknown) => {
      silent.close();
      throw err;
    });
    try {
      assert.deepEqual([...(await tally(`${lb.url}/`, 6)).entries()], [['a', 6]]);
      const before = queries;
      const [victim] = childPids(lb.child.pid!);
      process.kill(victim!, 'SIGKILL');
      await waitFor(() => queries > before, 30_000, 'the replacement to have read the file and started resolving');
      fs.writeFileSync(file, JSON.stringify(config(b)));
      assert.equal((await json(`${lb.adminUrl}/reload`, { method: 'POST' })).status, 200);
      await waitFor(() => lb.output().includes('"msg":"balancer worker replaced"'), 30_000, 'a replacement worker');
      assert.deepEqual([...(await tally(`${lb.url}/`, 12)).entries()], [['b', 12]], 'no worker serves the file as it was before the reload');
    } finally {
      await lb.stop();
      silent.close();
    }
  });
});
