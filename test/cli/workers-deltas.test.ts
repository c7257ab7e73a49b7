/**
 * `serve --workers 2` after an admin write (issue 14 item 3): the workers receive the nodes
 * the write changed and apply them to the zone they serve, rather than re-reading every zone
 * file (which, for a large zone, held each worker as long as a full load).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rcodeOf, udp } from '../support/dns-client.js';
import { call, RW_TOKEN, startMeridian, workspace, ZONE, type Meridian, type Workspace } from '../admin/helpers.js';
import { find, parseExposition } from '../metrics/exposition.js';
import { workerMessages } from '../support/workers.js';

describe('serve --workers 2: admin writes reach the workers as changes', () => {
  let ws: Workspace;
  let m: Meridian;
  before(async () => {
    ws = workspace();
    m = await startMeridian(ws, { env: { MERIDIAN_WORKERS: '2', MERIDIAN_ADMIN_TOKEN: RW_TOKEN } });
  });
  after(async () => {
    await m?.kill();
    ws?.remove();
  });

  it('applies a PUT and a DELETE as deltas in both workers, and answers them', async () => {
    const put = await call(m, 'PUT', `/v1/zones/${ZONE}/records/delta/A`, { ttl: 60, rdata: ['192.0.2.77'] });
    assert.equal(put.status, 200, put.text);
    const del = await call(m, 'DELETE', `/v1/zones/${ZONE}/records/old/A`);
    assert.equal(del.status, 200, del.text);
    const deadline = Date.now() + 20_000; // generous: a loaded machine delays the workers, not the outcome
    const applied = (): number => m.output().split('applied the zone changes of an admin write').length - 1;
    while (applied() < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    assert.equal(applied(), 4, `each worker applies both writes as changes:\n${m.output()}`);
    // UDP goes to whichever worker reads first: ask enough times to reach both.
    for (let i = 0; i < 20; i++) {
      const a = await udp(m.dns, `delta.${ZONE}`, 'A');
      assert.deepEqual(
        a.msg.answers.map((r) => String(r.data)),
        ['192.0.2.77'],
      );
      const gone = await udp(m.dns, `old.${ZONE}`, 'A');
      assert.equal(rcodeOf(gone.raw), 3, 'NXDOMAIN');
    }
  });

  it('keeps in each worker the cached answers of the names a write did not touch, and serves none stale', async () => {
    /** The cache counters summed over the workers, and the messages each worker read. */
    const counters = async (): Promise<{ hits: number; misses: number; perWorker: number[] }> => {
      const text = (await call(m, 'GET', '/metrics')).text;
      const e = parseExposition(text);
      const sum = (name: string): number => find(e, name, {}).reduce((n, s) => n + s.value, 0);
      assert.equal(
        find(e, 'meridian_dns_worker_metrics', { answer: 'fresh' }).reduce((n, s) => n + s.value, 0),
        2,
        'both workers answered the scrape',
      );
      return {
        hits: sum('meridian_answer_cache_hits_total'),
        misses: sum('meridian_answer_cache_misses_total'),
        perWorker: [...workerMessages(text)].filter(([k]) => k.endsWith('/udp')).map(([, v]) => v),
      };
    };
    // From a new socket each time: the kernel's SO_REUSEPORT hash of the source port spreads them over both workers.
    const SPREAD = 24;
    const each = async (name: string, type: string): Promise<string[][]> => {
      const out: string[][] = [];
      for (let i = 0; i < SPREAD; i++) out.push((await udp(m.dns, name, type)).msg.answers.map((r) => JSON.stringify(r.data)));
      return out;
    };
    const start = await counters();
    await each(`txt.${ZONE}`, 'TXT');
    await each(`alias.${ZONE}`, 'A');
    const warmed = await counters();
    assert.ok(warmed.perWorker.length === 2 && warmed.perWorker.every((n, i) => n > (start.perWorker[i] ?? 0)), `both workers were asked: ${warmed.perWorker}`);

    const put = await call(m, 'PUT', `/v1/zones/${ZONE}/records/www/A`, { ttl: 60, rdata: ['192.0.2.181'] });
    assert.equal(put.status, 200, put.text);
    // Both workers applied it once every answer through the CNAME to www says so (never the old address after that).
    const deadline = Date.now() + 20_000;
    let aliases = await each(`alias.${ZONE}`, 'A');
    while (!aliases.every((a) => a.includes('"192.0.2.181"')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      aliases = await each(`alias.${ZONE}`, 'A');
    }
    assert.ok(
      aliases.every((a) => a.includes('"192.0.2.181"')),
      `the CNAME chain through the written name, in both workers: ${JSON.stringify(aliases)}`,
    );
    for (const a of await each(`alias.${ZONE}`, 'A')) assert.ok(a.includes('"192.0.2.181"'), 'no worker serves the old chain again');

    const before = await counters();
    const texts = await each(`txt.${ZONE}`, 'TXT');
    const after = await counters();
    assert.equal(after.misses - before.misses, 0, "an untouched name is answered from each worker's cache after the write");
    assert.equal(after.hits - before.hits, SPREAD);
    assert.ok(
      after.perWorker.every((n, i) => n > before.perWorker[i]!),
      `both workers answered: ${before.perWorker} → ${after.perWorker}`,
    );
    assert.ok(texts.every((t) => t.length === 1));
  });
});

describe("serve --workers 2: an admin write during the workers' re-read of the files", () => {
  it('is not undone when the re-read, which read the file before the write, finishes', async () => {
    const ws = workspace();
    // A zone large enough that the workers' re-read is still running when the write arrives.
    const big = ['$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n'];
    for (let i = 0; i < 300_000; i++) big.push(`h${i} IN A 192.0.2.${i % 250}\n`);
    fs.writeFileSync(path.join(ws.zones, 'big.test.zone'), big.join(''));
    const m = await startMeridian(ws, { env: { MERIDIAN_WORKERS: '2', MERIDIAN_ADMIN_TOKEN: RW_TOKEN }, startTimeoutMs: 60_000 }); // a 300,000-record zone in two workers: slow on a loaded machine
    try {
      // A hand edit and SIGHUP: the workers re-read every file, adm.test first (sorted), big.test long after.
      fs.appendFileSync(path.join(ws.zones, 'big.test.zone'), 'edited IN A 192.0.2.99\n');
      m.child.kill('SIGHUP');
      // The primary's reload is published; then the workers' threads start and read adm.test first.
      const reloaded = (): number => m.output().split('zones reloaded').length - 1;
      const deadline0 = Date.now() + 60_000;
      while (reloaded() < 1 && Date.now() < deadline0) await new Promise((r) => setTimeout(r, 25));
      await new Promise((r) => setTimeout(r, 700));
      const put = await call(m, 'PUT', `/v1/zones/${ZONE}/records/during/A`, { ttl: 60, rdata: ['192.0.2.78'] });
      assert.equal(put.status, 200, put.text);
      // Both workers finished their re-read once each answers the hand edit (UDP reaches either).
      const deadline = Date.now() + 60_000;
      for (let seen = 0; seen < 30 && Date.now() < deadline;) {
        const a = await udp(m.dns, 'edited.big.test', 'A');
        seen = a.msg.answers.length === 1 ? seen + 1 : 0;
        if (seen === 0) await new Promise((r) => setTimeout(r, 50));
      }
      for (let i = 0; i < 30; i++) {
        const a = await udp(m.dns, `during.${ZONE}`, 'A');
        assert.deepEqual(
          a.msg.answers.map((r) => String(r.data)),
          ['192.0.2.78'],
          `the acknowledged write is answered (query ${i})`,
        );
      }
    } finally {
      await m.kill();
      ws.remove();
    }
  });
});
