/**
 * A reload while serving builds its zones in the zone load process (control/zone-load-process.ts),
 * a long-lived child whose every thread runs in SCHED_IDLE (and 10 nice levels below the server), its collector's
 * helpers too: a worker_thread's garbage is collected on the server's own V8 threads, at the
 * server's priority. The reload thread only reads the packed image in and finds what changed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { startZoneLoadProcess, ZoneLoadThread, zoneLoadProcessPid } from '../../src/control/zone-load-thread-pool.js';
import { ZoneDirectory } from '../../src/control/zone-directory.js';
import { RRType } from '../../src/dns/constants.js';
import { nameKey, parseName } from '../../src/dns/name.js';
import { eventually } from '../support/workers.js';
import { hasChrt, threadNices, threadPolicies } from '../support/threads.js';

const zoneText = (extra = ''): string => '$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n' + extra;

/** The files the load process left in its temp folders (none once each image was read in). */
function leftImages(pid: number): string[] {
  return fs
    .readdirSync(os.tmpdir())
    .filter((d) => d.startsWith('meridian-load-'))
    .flatMap((d) => {
      try {
        return fs.readdirSync(path.join(os.tmpdir(), d)).map((f) => path.join(d, f));
      } catch {
        return [];
      }
    })
    .filter((f) => f.endsWith('.image') && pid > 0);
}

const linux = process.platform === 'linux';

describe('the zone load process', { skip: linux ? false : 'needs Linux /proc' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-load-process-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  startZoneLoadProcess({ warn: () => {} });

  it('builds a background reload with every thread in SCHED_IDLE and 10 nice levels lower; the thread reads the image in and lists the changed names', async (t) => {
    const mine = os.getPriority();
    if (mine >= 19) return t.skip('this process runs at nice 19 itself');
    const pid = zoneLoadProcessPid()!;
    assert.ok(pid > 0);
    await eventually('every thread of the load process 10 levels lower', async () => threadNices(pid).every((n) => n === Math.min(19, mine + 10)), 10_000);
    if (hasChrt) await eventually('every thread of the load process in SCHED_IDLE', async () => threadPolicies(pid).every((p) => p === 5), 10_000);

    const file = path.join(dir, 'p.test.zone');
    fs.writeFileSync(file, zoneText('www IN A 192.0.2.80\nold IN A 192.0.2.81\n'));
    const directory = new ZoneDirectory(dir);
    const first = new ZoneLoadThread(undefined, false);
    const before = await first.load(file, ['p', 'test']);
    await first.close();
    assert.ok(before.zone, JSON.stringify(before.problems));
    directory.adopt(file, before.zone);

    fs.writeFileSync(file, zoneText('www IN A 192.0.2.90\nnew IN A 192.0.2.82\n'));
    const thread = new ZoneLoadThread();
    try {
      const loaded = await thread.load(file, ['p', 'test'], before.zone);
      assert.ok(loaded.zone, JSON.stringify(loaded.problems));
      const key = (n: string): string => nameKey(parseName(`${n}.`, null));
      const www = loaded.zone.nodes.get(key('www.p.test'));
      assert.deepEqual(
        www?.rrsets.get(RRType.A)?.rdatas.map((r) => [...r].join('.')),
        ['192.0.2.90'],
      );
      assert.equal(loaded.zone.nodes.get(key('old.p.test')), undefined);
      assert.deepEqual([...(loaded.zone.reloadedOver?.changed ?? [])].sort(), ['new.p.test', 'old.p.test', 'www.p.test'].map(key).sort());
      // The same process served it: no fork per reload.
      assert.equal(zoneLoadProcessPid(), pid);
      assert.deepEqual(leftImages(pid), []);

      // Read the same again: unchanged, and its image is not kept.
      const same = await thread.load(file, ['p', 'test'], loaded.zone);
      assert.equal(same.unchanged, true);
      assert.deepEqual(leftImages(pid), []);
    } finally {
      await thread.close();
    }
  });

  it('a load process that dies fails that file only; the next load starts a new one', async () => {
    const file = path.join(dir, 'big.test.zone');
    const lines = [zoneText()];
    for (let i = 0; i < 200_000; i++) lines.push(`h${i} IN TXT "record ${i}"\n`);
    fs.writeFileSync(file, lines.join(''));
    const thread = new ZoneLoadThread();
    try {
      const pid = zoneLoadProcessPid()!;
      const loading = thread.load(file, ['big', 'test']);
      // Killed while it parses.
      setTimeout(() => process.kill(pid, 'SIGKILL'), 50);
      const failed = await loading;
      assert.equal(failed.zone, null);
      assert.match(failed.problems[0]?.message ?? '', /zone load process exited \(SIGKILL\)/);

      fs.writeFileSync(file, zoneText('www IN A 192.0.2.80\n'));
      const again = await thread.load(file, ['big', 'test']);
      assert.ok(again.zone, JSON.stringify(again.problems));
      assert.notEqual(zoneLoadProcessPid(), pid);
    } finally {
      await thread.close();
    }
  });
});
