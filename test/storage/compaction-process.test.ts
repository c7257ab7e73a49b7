/**
 * Journal compaction runs in a child process whose every thread is in SCHED_IDLE, at nice 19
 * (storage/journal-compaction.ts): a worker_thread's collector would run on the server's own
 * V8 threads at the server's priority, and at nice 19 alone the rewrite of a large zone still
 * delayed answers on a shared CPU. The zone file here is a named pipe, so the child waits
 * in its read while the test looks at its threads; then the pipe gets a zone and the
 * compaction finishes. The child is long-lived (a fork of a server holding a large zone
 * stalls its answering thread): the next compaction runs in the same process, and one that
 * dies is replaced.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { compactOffThread, compactorPid } from '../../src/storage/journal-compaction.js';
import { eventually } from '../support/workers.js';
import { hasChrt, threadNices, threadPolicies } from '../support/threads.js';

/** Children of this process running the compaction entry, from /proc. */
function compactionChildren(): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('compact-process')) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const linux = process.platform === 'linux' && spawnSync('mkfifo', ['--version']).status === 0;

describe('journal compaction process', { skip: linux ? false : 'needs Linux /proc and mkfifo' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-compact-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs in a child process with every thread at nice 19 and in SCHED_IDLE, and writes the zone it read', async (t) => {
    // Started at nice 19, the child's threads are there already: nothing would tell them lowered.
    if (os.getPriority() >= 19) return t.skip('this process runs at nice 19 itself');
    const file = path.join(dir, 'example.test.zone');
    assert.equal(spawnSync('mkfifo', [file]).status, 0);
    const reply = compactOffThread({ file, origin: ['example', 'test'], journalBytes: 0, note: 'test' });
    let child = 0;
    await eventually('the compaction child', async () => (child = compactionChildren()[0] ?? 0) > 0, 10_000);
    // V8 starts its threads at this process's priority before the entry runs; the entry lowers them all.
    await eventually(
      'every thread at nice 19',
      async () => {
        const nices = threadNices(child);
        return nices.length >= 4 && nices.every((n) => n === 19);
      },
      10_000,
    );
    fs.writeFileSync(file, '$ORIGIN example.test.\n@ 300 IN SOA ns1 hostmaster 7 7200 3600 1209600 300\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.1\n');
    const r = await reply;
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.serial, 7);
    // Checked once the pipe was fed: a failed check before would leave the child reading it for ever.
    if (hasChrt) assert.deepEqual([...new Set(threadPolicies(child))], [5], 'every thread in SCHED_IDLE');
    else t.diagnostic('no chrt (util-linux): SCHED_IDLE not checked');
    assert.match(fs.readFileSync(r.tmp, 'utf8'), /ns1\.example\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.1/);

    // The next compaction: the same process, no fork.
    const second = path.join(dir, 'other.test.zone');
    fs.writeFileSync(second, '$ORIGIN other.test.\n@ 300 IN SOA ns1 hostmaster 9 7200 3600 1209600 300\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.9\n');
    const r2 = await compactOffThread({ file: second, origin: ['other', 'test'], journalBytes: 0, note: 'test' });
    assert.ok(r2.ok, JSON.stringify(r2));
    assert.equal(r2.serial, 9);
    assert.deepEqual(compactionChildren(), [child]);
    assert.equal(compactorPid(), child);
  });

  it('fails the compaction of a child that dies, and the next one runs in a new child', async () => {
    const file = path.join(dir, 'stuck.test.zone');
    assert.equal(spawnSync('mkfifo', [file]).status, 0);
    const reply = compactOffThread({ file, origin: ['stuck', 'test'], journalBytes: 0, note: 'test' });
    let child = 0;
    await eventually('the compaction child', async () => (child = compactorPid() ?? 0) > 0, 10_000);
    process.kill(child, 'SIGKILL');
    const r = await reply;
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.message, /exited \(SIGKILL\)/);
    const ok = path.join(dir, 'after.test.zone');
    fs.writeFileSync(ok, '$ORIGIN after.test.\n@ 300 IN SOA ns1 hostmaster 3 7200 3600 1209600 300\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.3\n');
    const r2 = await compactOffThread({ file: ok, origin: ['after', 'test'], journalBytes: 0, note: 'test' });
    assert.ok(r2.ok, JSON.stringify(r2));
    assert.notEqual(compactorPid(), child);
  });
});
