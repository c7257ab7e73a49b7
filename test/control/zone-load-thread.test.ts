import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ZoneLoadThread } from '../../src/control/zone-load-thread-pool.js';
import { ZoneDirectory } from '../../src/control/zone-directory.js';
import { RRType } from '../../src/dns/constants.js';
import { parseName } from '../../src/dns/name.js';
import { encodeEntry, journalFileFor } from '../../src/storage/journal.js';
import { encodeRdataText } from '../../src/zone/rdata/index.js';

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
    const nices = (): number[] => fs.readdirSync('/proc/self/task').map((tid) => Number(fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
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

describe('a forced reload of files that read the same', () => {
  it('is skipped as unchanged, but not when the journal beside the zone file moved on (a worker that missed a change re-reads)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-load-thread-'));
    const file = path.join(dir, 'j.test.zone');
    fs.writeFileSync(file, zoneText('www IN A 192.0.2.80\n'));
    const thread = new ZoneLoadThread();
    const directory = new ZoneDirectory(dir);
    const loader = (f: string, origin: Parameters<ZoneLoadThread['load']>[1], previous: Parameters<ZoneLoadThread['load']>[2]) => thread.load(f, origin, previous);
    try {
      const first = await within(directory.loadAsync(true, loader), 30_000, 'the first load');
      const zone = first!.zones.get('j.test')!;
      assert.equal(zone.serial, 1);
      const again = await within(directory.loadAsync(true, loader), 30_000, 'the unchanged reload');
      assert.equal(again!.zones.get('j.test'), zone, 'the same files: the zone served is kept, not rebuilt');
      // An admin write appends to the journal and leaves the zone file as it is.
      const www = parseName('www.j.test.', null);
      const soa = (serial: number): Buffer => encodeRdataText(RRType.SOA, `ns1.j.test. hostmaster.j.test. ${serial} 7200 3600 1209600 300`, parseName('j.test.', null));
      fs.writeFileSync(
        journalFileFor(file),
        Buffer.concat([
          encodeEntry({
            from: 1,
            to: 2,
            changes: [
              { owner: parseName('j.test.', null), type: RRType.SOA, old: { ttl: 300, class: 1, rdatas: [soa(1)] }, new: { ttl: 300, class: 1, rdatas: [soa(2)] } },
              { owner: www, type: RRType.A, old: { ttl: 300, class: 1, rdatas: [Buffer.from([192, 0, 2, 80])] }, new: { ttl: 300, class: 1, rdatas: [Buffer.from([192, 0, 2, 81])] } },
            ],
          }),
        ]),
      );
      const journaled = await within(directory.loadAsync(true, loader), 30_000, 'the reload after the journal moved');
      const next = journaled!.zones.get('j.test')!;
      assert.notEqual(next, zone, JSON.stringify(journaled!.problems));
      assert.equal(next.serial, 2);
    } finally {
      await thread.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
