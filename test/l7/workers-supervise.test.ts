/**
 * `meridian balance --workers 2` under its supervisor (src/supervisor/): a worker that is
 * SIGKILLed is replaced after a back-off, not at once, and a replacement killed again waits
 * twice as long (no tight fork loop); every log line names the worker id; SIGTERM leaves no
 * process behind.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { childPids, startBackends, startBalanceCli, tally, waitFor, type TestBackend } from './helpers.js';

interface Line {
  msg: string;
  worker?: number;
  pid?: number;
  restartInMs?: number;
}

const lines = (out: string): Line[] =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);

describe('balance --workers 2: supervised workers', () => {
  let backends: TestBackend[];
  let dir: string;
  before(async () => {
    backends = await startBackends(1);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-balance-supervise-'));
  });
  after(async () => {
    await Promise.all(backends.map((b) => b.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a SIGKILLed worker is restarted with a back-off that doubles, and SIGTERM leaves no process', async () => {
    const file = path.join(dir, 'lb.json');
    fs.writeFileSync(file, JSON.stringify({ listen: '127.0.0.1:0', admin: { listen: '127.0.0.1:0' }, pools: { default: { backends: [{ id: 'a', address: backends[0]!.address }] } } }));
    const lb = await startBalanceCli(file, ['--workers', '2']);
    const seen = new Set<number>([lb.child.pid!]);
    try {
      const [victim, other] = childPids(lb.child.pid!) as [number, number];
      for (const pid of [victim, other]) seen.add(pid);
      process.kill(victim, 'SIGKILL');
      await waitFor(() => lines(lb.output()).some((l) => l.pid === victim && l.restartInMs !== undefined), 10_000, 'the death reported');
      const died = lines(lb.output()).find((l) => l.pid === victim && l.restartInMs !== undefined)!;
      assert.equal(died.restartInMs, 1000);
      assert.match(died.msg, /^balancer worker exited; starting another in 1000 ms$/);
      assert.ok(died.worker === 0 || died.worker === 1, 'the worker id is logged');
      // Not re-forked at once: for a while only the survivor is a child.
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(childPids(lb.child.pid!), [other], 'no replacement forked at once');
      await waitFor(() => lines(lb.output()).some((l) => l.msg === 'balancer worker replaced' && l.worker === died.worker), 30_000, 'the replacement');
      const replacement = childPids(lb.child.pid!).find((p) => p !== other)!;
      seen.add(replacement);
      assert.deepEqual([...(await tally(`${lb.url}/`, 6)).entries()], [['a', 6]]);

      // Killed again before it has been up long: the same slot waits twice as long.
      process.kill(replacement, 'SIGKILL');
      await waitFor(() => lines(lb.output()).some((l) => l.pid === replacement && l.restartInMs !== undefined), 10_000, 'the second death reported');
      const again = lines(lb.output()).find((l) => l.pid === replacement && l.restartInMs !== undefined)!;
      assert.equal(again.worker, died.worker);
      assert.equal(again.restartInMs, 2000);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(childPids(lb.child.pid!), [other], 'still waiting out the longer back-off');
      await waitFor(() => lines(lb.output()).filter((l) => l.msg === 'balancer worker replaced').length === 2, 30_000, 'the second replacement');
      for (const pid of childPids(lb.child.pid!)) seen.add(pid);
      assert.equal(childPids(lb.child.pid!).length, 2);
    } finally {
      assert.equal(await lb.stop(), 0);
    }
    await waitFor(() => childPids(lb.child.pid!).length === 0, 5000, 'no child');
    for (const pid of seen) assert.throws(() => process.kill(pid, 0), `process ${pid} is gone`);
  });
});
