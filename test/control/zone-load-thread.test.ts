import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ZoneLoadThread } from '../../src/control/zone-load-thread-pool.js';
import { ZoneDirectory } from '../../src/zone/zone-directory.js';

const zoneText = (extra = ''): string => '$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n' + extra;

/** Settles within ms, or rejects naming what never came. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

describe('the reload thread dies under a file', () => {
  it('fails that file only: the files after it load on a new thread, and a later load works', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-load-thread-'));
    // a file too large for the thread's heap (kept small here so that it takes little time)
    const lines = [zoneText()];
    for (let i = 0; i < 300_000; i++) lines.push(`h${i} IN TXT "record number ${i} of a zone too large for the reload thread"\n`);
    fs.writeFileSync(path.join(dir, 'a-huge.test.zone'), lines.join(''));
    fs.writeFileSync(path.join(dir, 'b-small.test.zone'), zoneText('www IN A 192.0.2.80\n'));
    const thread = new ZoneLoadThread({ maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 4 });
    const directory = new ZoneDirectory(dir);
    try {
      const loader = (file: string, origin: Parameters<ZoneLoadThread['load']>[1]) => thread.load(file, origin);
      const outcome = await within(directory.loadAsync(true, loader), 60_000, 'the reload');
      assert.ok(outcome);
      const huge = outcome.problems.find((p) => p.file.endsWith('a-huge.test.zone'));
      assert.match(huge?.message ?? JSON.stringify(outcome.problems), /memory/);
      assert.deepEqual([...outcome.zones.keys()], ['b-small.test'], JSON.stringify(outcome.problems));

      fs.writeFileSync(path.join(dir, 'a-huge.test.zone'), zoneText('www IN A 192.0.2.81\n'));
      const again = await within(directory.loadAsync(false, loader), 60_000, 'the next reload');
      assert.ok(again);
      assert.deepEqual([...again.zones.keys()].sort(), ['a-huge.test', 'b-small.test'], JSON.stringify(again.problems));
    } finally {
      await thread.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the reload thread', () => {
  const mine = os.getPriority();
  const expected = Math.min(19, mine + 10);
  it('runs 10 nice levels below this thread, so a server on one CPU answers before it parses (Linux)', { skip: process.platform !== 'linux' || mine === 19 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-load-thread-'));
    const file = path.join(dir, 'nice.test.zone');
    fs.writeFileSync(file, zoneText('www IN A 192.0.2.80\n'));
    const thread = new ZoneLoadThread();
    /** The nice value of each thread of this process (field 19 of /proc/self/task/<tid>/stat). */
    const nices = (): number[] =>
      fs.readdirSync('/proc/self/task').map((tid) => Number(fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
    try {
      assert.ok(!nices().includes(expected), `no thread at nice ${expected} before`);
      const loaded = await within(thread.load(file, ['nice', 'test']), 30_000, 'the load');
      assert.ok(loaded.zone, JSON.stringify(loaded.problems));
      assert.ok(nices().includes(expected), `nice values: ${nices().join(' ')}`);
      assert.equal(os.getPriority(), mine, 'this thread keeps its priority');
    } finally {
      await thread.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
