/**
 * Issue #14 item 3, the write path: an admin record write appends to the zone's journal
 * (`<zone file>.journal`) and fsyncs it before the 2xx, instead of rewriting the zone file;
 * the zone file is rewritten with the journal applied later, off the answering thread. Over
 * real sockets: crash safety (SIGKILL right after a 2xx, a torn tail, a corrupt middle),
 * compaction under concurrent writes, `--workers 2`, the hand-edit rule, and paging of
 * GET /zones/{zone}/records.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { REPACK_AT } from '../../src/control/zone-editor.js';
import { addresses, call, INITIAL_SERIAL, rcode, runMeridian, RW_TOKEN, soaSerial, startMeridian, workspace, ZONE, ZONE_TEXT, type Meridian, type Workspace } from './helpers.js';

const env = { MERIDIAN_ADMIN_TOKEN: RW_TOKEN };
/** No compaction unless a test asks for it: the journal is what is under test. */
const NO_COMPACTION = 'health: { stateFile: null }\nzones: { watch: false, journal: { compactDelayMs: 3600000 } }\n';

const spaces: Workspace[] = [];
const servers: Meridian[] = [];
after(async () => {
  for (const m of servers) await m.kill();
  for (const ws of spaces) ws.remove();
});

function space(config = NO_COMPACTION): Workspace {
  const ws = workspace(config);
  spaces.push(ws);
  return ws;
}

async function start(ws: Workspace, startTimeoutMs?: number): Promise<Meridian> {
  const m = await startMeridian(ws, { env, startTimeoutMs });
  servers.push(m);
  return m;
}

async function put(m: Meridian, name: string, address: string): Promise<void> {
  const r = await call(m, 'PUT', `/v1/zones/${ZONE}/records/${name}/A`, { ttl: 60, rdata: [address] });
  assert.equal(r.status, 200, r.text);
}

const journalOf = (ws: Workspace): string => `${ws.zoneFile}.journal`;

/** Byte offsets where each framed entry (12-byte header: magic, length, crc32) starts. */
function entryStarts(buf: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at + 12 <= buf.length; at += 12 + buf.readUInt32BE(at + 4)) out.push(at);
  return out;
}

/** Waits until `output()` matches `re` (a log line), or fails after `ms`. */
async function logged(m: Meridian, re: RegExp, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!re.test(m.output())) {
    if (Date.now() > until) throw new Error(`no log line matching ${re} in:\n${m.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('zone journal: crash safety', () => {
  it('a write is in the journal, not the zone file, before its 2xx; SIGKILL right after it loses nothing', async () => {
    const ws = space();
    const m = await start(ws);
    const before = fs.readFileSync(ws.zoneFile);
    await put(m, 'j1', '192.0.2.1');
    await put(m, 'j2', '192.0.2.2');
    await m.kill();
    assert.deepEqual(fs.readFileSync(ws.zoneFile), before, 'the zone file is not rewritten by a record write');
    assert.equal(entryStarts(fs.readFileSync(journalOf(ws))).length, 2, 'one journal entry per write');

    const check = await runMeridian(['check', '--config', ws.config, '--zones', ws.zones]);
    assert.equal(check.code, 0, `check reads the zone file and its journal:\n${check.stdout}${check.stderr}`);
    const again = await start(ws);
    assert.deepEqual(await addresses(again, 'j1.adm.test'), ['192.0.2.1']);
    assert.deepEqual(await addresses(again, 'j2.adm.test'), ['192.0.2.2']);
    assert.equal(await soaSerial(again), INITIAL_SERIAL + 2);
    await again.kill();
  });

  it('a torn tail (an append cut by a crash) is dropped, and the next write goes after the good entries', async () => {
    const ws = space();
    const m = await start(ws);
    await put(m, 't1', '192.0.2.11');
    await m.kill();
    // The start of an entry whose payload never reached the disk.
    const torn = Buffer.alloc(40);
    Buffer.from('MJ1\n').copy(torn, 0);
    torn.writeUInt32BE(5000, 4);
    fs.appendFileSync(journalOf(ws), torn);

    const again = await start(ws);
    assert.doesNotMatch(again.output(), /corrupt/);
    assert.deepEqual(await addresses(again, 't1.adm.test'), ['192.0.2.11']);
    await put(again, 't2', '192.0.2.12');
    await again.kill();
    const buf = fs.readFileSync(journalOf(ws));
    assert.equal(entryStarts(buf).length, 2, 'the torn bytes were cut off before the append');
    const third = await start(ws);
    assert.deepEqual(await addresses(third, 't2.adm.test'), ['192.0.2.12']);
    assert.equal(await soaSerial(third), INITIAL_SERIAL + 2);
    await third.kill();
  });

  it('a corrupt entry in the middle is an error naming the journal; the zone keeps serving its last good state and writes are refused', async () => {
    const ws = space();
    const m = await start(ws);
    await put(m, 'c1', '192.0.2.21');
    await put(m, 'c2', '192.0.2.22');
    await put(m, 'c3', '192.0.2.23');
    const good = fs.readFileSync(journalOf(ws));
    const starts = entryStarts(good);
    assert.equal(starts.length, 3);
    const second = starts[1];
    assert.ok(second !== undefined);
    // The second entry's frame broken (its length unreadable): the third, whole, proves it was no torn append.
    const frame = Buffer.from(good);
    frame.fill(0, second, second + 8);
    fs.writeFileSync(journalOf(ws), frame);
    const framed = await runMeridian(['check', '--config', ws.config, '--zones', ws.zones]);
    assert.notEqual(framed.code, 0, 'check fails on a broken frame in the middle');
    assert.match(framed.stdout + framed.stderr, new RegExp(`corrupt journal entry at byte ${second}`));
    const buf = Buffer.from(good);
    const flipAt = second + 12 + 10; // a bit flip in the second entry's payload
    buf.writeUInt8(buf.readUInt8(flipAt) ^ 0xff, flipAt);
    fs.writeFileSync(journalOf(ws), buf);

    // Running: a reload meets the corruption and keeps what it serves.
    m.child.kill('SIGHUP');
    await logged(m, /corrupt journal entry at byte/);
    assert.match(m.output(), new RegExp(journalOf(ws).replace(/[.]/g, '\\.')));
    assert.deepEqual(await addresses(m, 'c3.adm.test'), ['192.0.2.23']);
    assert.equal(await soaSerial(m), INITIAL_SERIAL + 3);
    // Nothing is appended after the bad entry (a restart would never read it).
    const running = await call(m, 'PUT', `/v1/zones/${ZONE}/records/c4/A`, { ttl: 60, rdata: ['192.0.2.24'] });
    assert.equal(running.status, 500, running.text);
    assert.equal(running.json.error, 'GSLB_ERR_API_JOURNAL_CORRUPT');
    await m.kill();

    const check = await runMeridian(['check', '--config', ws.config, '--zones', ws.zones]);
    assert.notEqual(check.code, 0, 'check fails on a corrupt journal');
    assert.match(check.stdout + check.stderr, /adm\.test\.zone\.journal.*corrupt journal entry at byte/);

    // Started on it: the zone file and the entries before the corruption are served.
    const again = await start(ws);
    assert.match(again.output(), /corrupt journal entry at byte/);
    assert.deepEqual(await addresses(again, 'c1.adm.test'), ['192.0.2.21']);
    assert.deepEqual(await addresses(again, 'c2.adm.test'), []);
    assert.equal(await soaSerial(again), INITIAL_SERIAL + 1);
    const refused = await call(again, 'PUT', `/v1/zones/${ZONE}/records/c4/A`, { ttl: 60, rdata: ['192.0.2.24'] });
    assert.equal(refused.status, 500, refused.text);
    assert.equal(refused.json.error, 'GSLB_ERR_API_JOURNAL_CORRUPT');
    assert.match(refused.json.message, /adm\.test\.zone\.journal/);
    await again.kill();
  });
});

describe('zone journal: policy writes', () => {
  it('a policy write is a journal entry, not a rewrite of the zone: steered names come and go, nothing is lost across a SIGKILL', async () => {
    const ws = space();
    const m = await start(ws);
    await put(m, 'p1', '192.0.2.61');
    const zoneBefore = fs.statSync(ws.zoneFile);
    const journalBefore = fs.statSync(journalOf(ws)).size;
    const policy = await call(m, 'PUT', `/v1/zones/${ZONE}/policy/targets/light`, { region: 'four', ipv4: ['198.51.100.13'], weight: 0 });
    assert.equal(policy.status, 200, policy.text);
    // The zone is changed in place (its serial), as a record write changes it: the zone file is
    // not rebuilt and rewritten, which on a large zone held the answering thread for seconds.
    const zoneAfter = fs.statSync(ws.zoneFile);
    assert.equal(zoneAfter.ino, zoneBefore.ino, 'the zone file was not rewritten');
    assert.equal(zoneAfter.mtimeMs, zoneBefore.mtimeMs, 'the zone file was not rewritten');
    assert.ok(fs.statSync(journalOf(ws)).size > journalBefore, 'the serial it bumped is a journal entry');
    assert.equal(await soaSerial(m), INITIAL_SERIAL + 2);

    // A new steered name answers at once; removing it leaves no empty node behind (NXDOMAIN).
    const added = await call(m, 'PUT', `/v1/zones/${ZONE}/policy/names/fresh`, { ttl: 5, targets: ['primary'], policy: [{ first: 1 }] });
    assert.equal(added.status, 200, added.text);
    assert.deepEqual(await addresses(m, 'fresh.adm.test'), ['198.51.100.1']);
    assert.equal(await rcode(m, 'fresh.adm.test', 'TXT'), 0, 'a steered name exists for its other types (NODATA)');
    const removed = await call(m, 'DELETE', `/v1/zones/${ZONE}/policy/names/fresh`);
    assert.equal(removed.status, 200, removed.text);
    assert.equal(await rcode(m, 'fresh.adm.test', 'A'), 3, 'NXDOMAIN once no longer steered');
    // A steered name that clashes with the zone is refused, naming it, and changes nothing.
    const clash = await call(m, 'PUT', `/v1/zones/${ZONE}/policy/names/www`, { ttl: 5, targets: ['primary'], policy: [{ first: 1 }] });
    assert.equal(clash.status, 400, clash.text);
    assert.match(clash.text, /steered name www\.adm\.test\. also has a static A/);
    // Steered names at or below a delegation are refused as in a file, and leave nothing behind.
    const deleg = await call(m, 'PUT', `/v1/zones/${ZONE}/records/deleg/NS`, { ttl: 60, rdata: ['ns.elsewhere.example.'] });
    assert.equal(deleg.status, 200, deleg.text);
    const before = await soaSerial(m);
    for (const [name, why] of [
      ['x.deleg', /below a delegation/],
      ['deleg', /is a delegation point/],
    ] as const) {
      const r = await call(m, 'PUT', `/v1/zones/${ZONE}/policy/names/${name}`, { ttl: 5, targets: ['primary'], policy: [{ first: 1 }] });
      assert.equal(r.status, 400, r.text);
      assert.match(r.text, why);
    }
    assert.equal(await soaSerial(m), before, 'a refused policy write changes nothing');
    assert.equal((await call(m, 'GET', `/v1/zones/${ZONE}/policy/names/x.deleg`)).status, 404);
    await put(m, 'p2', '192.0.2.62');
    const serial = await soaSerial(m);
    m.child.kill('SIGKILL');
    await new Promise((r) => m.child.once('exit', r));

    const again = await start(ws);
    assert.deepEqual(await addresses(again, 'p1.adm.test'), ['192.0.2.61']);
    assert.deepEqual(await addresses(again, 'p2.adm.test'), ['192.0.2.62']);
    assert.equal(await rcode(again, 'fresh.adm.test', 'A'), 3);
    assert.equal(await soaSerial(again), serial);
    assert.match(fs.readFileSync(ws.policyFile, 'utf8'), /198\.51\.100\.13/);
    assert.deepEqual(await addresses(again, 'w.adm.test'), ['198.51.100.11']);
    await again.kill();
  });
});

describe('zone journal: compaction', () => {
  it('rewrites the zone file off-thread while writes go on, and loses none of them', async (t) => {
    const ws = space('health: { stateFile: null }\nzones: { watch: false, journal: { compactDelayMs: 0 } }\n');
    // Large enough that a compaction takes a while, so writes land during it.
    let extra = '';
    for (let i = 0; i < 20_000; i++) extra += `h${i} IN A 10.0.${(i >> 8) & 255}.${i & 255}\n`;
    fs.appendFileSync(ws.zoneFile, extra);
    const m = await start(ws);
    const WRITES = 120;
    // Four writers at once: each write is queued behind the others and behind compactions.
    await Promise.all(
      [0, 1, 2, 3].map(async (w) => {
        for (let i = w; i < WRITES; i += 4) await put(m, `k${i}`, `192.0.2.${i}`);
      }),
    );
    await logged(m, /zone file rewritten with its journal applied/);
    const compactions = m.output().match(/zone file rewritten with its journal applied/g)!.length;
    // Each compaction took the entries up to its start; those that followed were written during it.
    const compacted = [...m.output().matchAll(/"entries":(\d+)[^\n]*zone file rewritten/g)].map((x) => Number(x[1]));
    t.diagnostic(`${compactions} compactions during ${WRITES} writes, of ${compacted.join(', ')} entries`);
    await m.kill();

    // Whatever the crash left (a compacted file, a journal suffix, or both), every write is there.
    const again = await start(ws);
    assert.equal(await soaSerial(again), INITIAL_SERIAL + WRITES, `${compactions} compaction(s) during the writes`);
    for (let i = 0; i < WRITES; i++) assert.deepEqual(await addresses(again, `k${i}.adm.test`), [`192.0.2.${i}`], `write ${i}`);
    assert.deepEqual(await addresses(again, 'h19999.adm.test'), ['10.0.78.31']);
    // A clean stop compacts the rest: the zone file alone holds every write.
    assert.equal(await again.stop(), 0);
    assert.equal(fs.existsSync(journalOf(ws)), false, 'no journal left after a clean stop');
    const text = fs.readFileSync(ws.zoneFile, 'utf8');
    assert.match(text, /^k119\.adm\.test\.\t60\tIN\tA\t192\.0\.2\.119$/m);
    assert.match(text, new RegExp(`SOA\\t.* ${INITIAL_SERIAL + WRITES} `));
  });

  it('the folder watch does not take the journal or a compaction for a hand edit', async () => {
    const ws = space('health: { stateFile: null }\nzones: { watch: true, debounceMs: 20, journal: { compactDelayMs: 50 } }\n');
    const m = await start(ws);
    await put(m, 'w1', '192.0.2.31');
    await logged(m, /zone file rewritten with its journal applied/);
    await new Promise((r) => setTimeout(r, 500));
    assert.doesNotMatch(m.output(), /zones reloaded/, 'no full reload after a write or a compaction');
    assert.deepEqual(await addresses(m, 'w1.adm.test'), ['192.0.2.31']);
    await m.kill();
  });
});

describe('zone journal: loaders', () => {
  it('--workers 2: the workers serve journal writes, also after a SIGHUP re-read of file + journal', async () => {
    const ws = space('health: { stateFile: null }\ndns: { workers: 2 }\nzones: { watch: false, journal: { compactDelayMs: 3600000 } }\n');
    const m = await start(ws, 30_000);
    await put(m, 'wk', '192.0.2.41');
    const check = async (): Promise<void> => {
      // Several queries: the kernel spreads them over both workers.
      for (let i = 0; i < 20; i++) assert.deepEqual(await addresses(m, 'wk.adm.test'), ['192.0.2.41'], `query ${i}`);
    };
    await check();
    assert.equal(fs.existsSync(journalOf(ws)), true);
    m.child.kill('SIGHUP');
    await logged(m, /zones reloaded|applied|re-read/);
    await new Promise((r) => setTimeout(r, 1000));
    await check();
    assert.equal(await soaSerial(m), INITIAL_SERIAL + 1);
    await m.kill();
  });

  it('a hand edit with a newer serial wins over the journal, which the next write starts again', async () => {
    const ws = space();
    const m = await start(ws);
    await put(m, 'e1', '192.0.2.51');
    await put(m, 'e2', '192.0.2.52');
    // The operator edits the zone file (as it was before the writes) and bumps the serial.
    fs.writeFileSync(ws.zoneFile, ZONE_TEXT.replace(` ${INITIAL_SERIAL} `, ' 500 ') + 'hand IN A 192.0.2.59\n');
    m.child.kill('SIGHUP');
    await logged(m, /edited by hand and wins/);
    assert.equal(await soaSerial(m), 500);
    assert.deepEqual(await addresses(m, 'hand.adm.test'), ['192.0.2.59']);
    assert.deepEqual(await addresses(m, 'e1.adm.test'), [], 'the journal is not applied over a newer zone file');
    await put(m, 'e3', '192.0.2.53');
    assert.equal(await soaSerial(m), 501);
    await m.kill();
    assert.equal(entryStarts(fs.readFileSync(journalOf(ws))).length, 1, 'the journal started again from the hand-edited serial');

    const again = await start(ws);
    assert.equal(await soaSerial(again), 501);
    assert.deepEqual(await addresses(again, 'hand.adm.test'), ['192.0.2.59']);
    assert.deepEqual(await addresses(again, 'e3.adm.test'), ['192.0.2.53']);
    assert.deepEqual(await addresses(again, 'e2.adm.test'), []);
    await again.kill();
  });
});

describe('GET /zones/{zone}/records pages', () => {
  it('pages through every RRset once with limit and cursor, and refuses a bad limit or cursor by name', async () => {
    const ws = space();
    let extra = '';
    for (let i = 0; i < 2500; i++) extra += `p${i} IN A 10.1.${(i >> 8) & 255}.${i & 255}\n`;
    fs.appendFileSync(ws.zoneFile, extra);
    const m = await start(ws);
    const seen = new Set<string>();
    let pages = 0;
    let cursor: string | null = null;
    do {
      const r = await call(m, 'GET', `/v1/zones/${ZONE}/records?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.json.records.length <= 1002, `a page of ${r.json.records.length}`);
      for (const rr of r.json.records as Array<{ name: string; type: string }>) {
        const k = `${rr.name} ${rr.type}`;
        assert.ok(!seen.has(k), `${k} on two pages`);
        seen.add(k);
      }
      cursor = r.json.next;
      pages++;
    } while (cursor !== null && pages < 10);
    assert.equal(pages, 3);
    // 2,500 A RRsets, SOA, NS and the five of the fixture (ns1, www, old, txt, alias).
    assert.equal(seen.size, 2500 + 2 + 5);
    assert.ok(seen.has('p2499.adm.test. A'));

    const first = await call(m, 'GET', `/v1/zones/${ZONE}`);
    assert.equal(first.json.records.length >= 1000 && first.json.records.length <= 1002, true);
    assert.equal(typeof first.json.recordsNext, 'string');

    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=10001', 'limit'],
      ['cursor=bm90LWEtY3Vyc29y', 'cursor'],
      ['cursor=%25%25', 'cursor'],
    ] as const) {
      const r = await call(m, 'GET', `/v1/zones/${ZONE}/records?${query}`);
      assert.equal(r.status, 400, `${query}: ${r.text}`);
      assert.match(r.text, new RegExp(field), query);
    }
    await m.kill();
  });
});

describe('zone repack', () => {
  it(`packs a zone anew after ${REPACK_AT.toLocaleString('en-US')} written names, off the answering thread, and every write stays answered`, async () => {
    const ws = space();
    const m = await start(ws);
    const BATCH = 9_000;
    const batches = Math.ceil(REPACK_AT / BATCH) + 1;
    for (let b = 0; b < batches; b++) {
      const operations = Array.from({ length: BATCH }, (_, j) => {
        const i = b * BATCH + j;
        return { op: 'put', name: `r${i}`, type: 'A', ttl: 60, rdata: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`] };
      });
      const r = await call(m, 'POST', `/v1/zones/${ZONE}/records/batch`, { operations });
      assert.equal(r.status, 200, r.text);
    }
    await logged(m, /zone repacked with its written nodes/, 60_000);
    await put(m, 'after', '192.0.2.77');
    const last = batches * BATCH - 1;
    for (const i of [0, 1, BATCH, last - 1, last]) {
      assert.deepEqual(await addresses(m, `r${i}.adm.test`), [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`], `r${i}`);
    }
    assert.deepEqual(await addresses(m, 'after.adm.test'), ['192.0.2.77']);
    // Every name once in the record pages of the repacked zone.
    const names = new Set<string>();
    for (let cursor: string | null = null, pages = 0; pages < 100; pages++) {
      const r = await call(m, 'GET', `/v1/zones/${ZONE}/records?limit=10000${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200, r.text);
      for (const rec of r.json.records as Array<{ name: string; type: string }>) if (rec.type === 'A' && /^r\d+\./.test(rec.name)) names.add(rec.name);
      cursor = r.json.next;
      if (cursor === null) break;
    }
    assert.equal(names.size, batches * BATCH);
    await m.kill();
  });
});
