/**
 * Issue #17 item 9: a GeoIP database reloads without a restart. `meridian serve` as users run
 * it, with a geo policy by country; the database file is replaced under it by an atomic
 * rename (as geoipupdate writes), and answers change with no restart, also for a client whose
 * decision was cached. A truncated or corrupt file keeps the old database serving, and the log
 * names the file. With the watch off, SIGHUP does the same. With `--workers 2` (each worker
 * reads the database itself) every worker follows.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { udp } from '../support/dns-client.js';
import { ecsOption } from '../support/ecs.js';
import { writeSteeredZone } from '../support/steered-zone.js';
import { projectRoot } from '../support/test-server.js';
import { eventually } from '../support/workers.js';
import { call, startMeridian, workspace, type Meridian, type Workspace } from '../admin/helpers.js';

const FIX = path.join(projectRoot, 'test/fixtures/geoip');
/** GeoIP2-Country layout: 192.0.2.0/26 DE. */
const COUNTRY_DB = path.join(FIX, 'GeoDNS-Country-Test.mmdb');
/** Flat country_code layout, IPv4 only: 192.0.2.0/24 BR. */
const FLAT_DB = path.join(FIX, 'Flat-Country-IPv4-Test.mmdb');
/** Opens in `maxmind` but has a wrong node count: refused by the open check. */
const CORRUPT_DB = path.join(FIX, 'GeoIP2-City-Test-Invalid-Node-Count.mmdb');

const CLIENT = '192.0.2.10/32';
const DE = '10.0.0.1';
const BR = '10.0.0.4';

const POLICY = `targets:
  de: { region: eu, ipv4: [${DE}] }
  br: { region: sa, ipv4: [${BR}] }
  other: { region: us, ipv4: [10.0.0.9] }
names:
  www:
    ttl: 30
    targets: [de, br, other]
    policy:
      - geo:
          rules:
            - countries: [DE]
              targets: [de]
            - countries: [BR]
              targets: [br]
          default: { targets: [other] }
`;

/** The answers of several queries (UDP lands on either worker), as a set. */
async function answers(m: Meridian): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const { msg } = await udp(m.dns, 'www.gr.test', 'A', { edns: true, options: [ecsOption(CLIENT)] });
    seen.add(
      msg.answers
        .filter((a) => a.type === 'A')
        .map((a) => String(a.data))
        .join() || '(none)',
    );
  }
  return [...seen].sort();
}

/** Writes `source` (or its first `bytes`) next to `target` and renames it over, as geoipupdate does. */
function replaceAtomically(source: string, target: string, bytes?: number): void {
  const data = fs.readFileSync(source);
  const tmp = `${target}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, bytes === undefined ? data : data.subarray(0, bytes));
  fs.renameSync(tmp, target);
}

const lines = (m: Meridian, text: string): string[] =>
  m
    .output()
    .split('\n')
    .filter((l) => l.includes(text));

function setup(watch: boolean): { ws: Workspace; db: string } {
  const ws = workspace(`health: { stateFile: null }\nzones: { watch: false }\ngeoip:\n  location: geo/location.mmdb\n  watch: ${watch}\n  debounceMs: 100\n`);
  fs.mkdirSync(path.join(ws.root, 'geo'));
  const db = path.join(ws.root, 'geo/location.mmdb');
  fs.copyFileSync(COUNTRY_DB, db);
  writeSteeredZone(ws.zones, 'gr.test', POLICY);
  return { ws, db };
}

for (const workers of [1, 2]) {
  const env: Record<string, string> = workers > 1 ? { MERIDIAN_WORKERS: String(workers) } : {};
  const reopened = (m: Meridian): number => lines(m, 'GeoIP databases reopened').length;

  describe(`GeoIP reload on a file change (workers ${workers})`, () => {
    let ws: Workspace;
    let db: string;
    let m: Meridian;
    before(async () => {
      ({ ws, db } = setup(true));
      m = await startMeridian(ws, { env });
    });
    after(async () => {
      await m?.kill();
      ws?.remove();
    });

    it('a new file renamed over the old one: answers change without a restart', async () => {
      assert.deepEqual(await answers(m), [DE], 'the database it started with: 192.0.2.10 is DE');
      const pid = m.child.pid;
      replaceAtomically(FLAT_DB, db);
      await eventually('answers from the new database', async () => (await answers(m)).join() === BR, 10_000);
      assert.equal(m.child.exitCode, null);
      assert.equal(m.child.pid, pid);
      assert.equal(lines(m, 'GeoIP database reloaded').length, 1);
      if (workers > 1) await eventually('every worker reopened the file', async () => reopened(m) === workers, 5000);
    });

    it('a truncated file: the old database keeps serving, and the log names the file', async () => {
      replaceAtomically(COUNTRY_DB, db, 2000);
      await eventually('the reload failure is logged', async () => lines(m, 'GeoIP reload failed').length === 1, 10_000);
      const line = JSON.parse(lines(m, 'GeoIP reload failed')[0]!) as { file: string; reason: string; level: number };
      assert.equal(line.file, db);
      assert.match(line.reason, /not a MaxMind DB/);
      assert.ok(line.level >= 50, 'logged as an error');
      assert.deepEqual(await answers(m), [BR], 'still the database loaded before');
      if (workers > 1) assert.equal(reopened(m), workers, 'the workers were not told to reopen');
      // Fixed: the next change is picked up.
      replaceAtomically(COUNTRY_DB, db);
      await eventually('answers from the fixed file', async () => (await answers(m)).join() === DE, 10_000);
    });
  });

  describe(`GeoIP reload on SIGHUP (workers ${workers}, no file watch)`, () => {
    let ws: Workspace;
    let db: string;
    let m: Meridian;
    before(async () => {
      ({ ws, db } = setup(false));
      m = await startMeridian(ws, { env });
    });
    after(async () => {
      await m?.kill();
      ws?.remove();
    });

    it('a corrupt file and SIGHUP: the old database keeps serving, the log names the file; a good one and SIGHUP: new answers', async () => {
      assert.deepEqual(await answers(m), [DE]);
      replaceAtomically(CORRUPT_DB, db);
      m.child.kill('SIGHUP');
      await eventually('the reload failure is logged', async () => lines(m, 'GeoIP reload failed').length === 1, 10_000);
      const line = JSON.parse(lines(m, 'GeoIP reload failed')[0]!) as { file: string; reason: string };
      assert.equal(line.file, db);
      assert.match(line.reason, /corrupt node count/);
      assert.deepEqual(await answers(m), [DE]);

      replaceAtomically(FLAT_DB, db);
      // No watch: nothing changes until the signal.
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(await answers(m), [DE]);
      m.child.kill('SIGHUP');
      await eventually('answers from the new database', async () => (await answers(m)).join() === BR, 10_000);
      assert.equal(m.child.exitCode, null);
      if (workers > 1) await eventually('every worker reopened the file', async () => reopened(m) === workers, 5000);
    });

    it('POST /v1/reload re-reads a changed database too', async () => {
      replaceAtomically(COUNTRY_DB, db);
      const r = await call(m, 'POST', '/v1/reload', undefined, null);
      assert.equal(r.status, 200, r.text);
      await eventually('answers from the file reloaded through the API', async () => (await answers(m)).join() === DE, 10_000);
    });

    it('SIGHUP with the files unchanged reopens nothing (a swap would empty the answer caches)', async () => {
      const reloaded = lines(m, 'GeoIP database reloaded').length;
      const signals = lines(m, 'SIGHUP: reloading').length;
      m.child.kill('SIGHUP');
      // The GeoIP reload runs in the signal's handler, right after this line, and logs when it swaps.
      await eventually('the signal is handled', async () => lines(m, 'SIGHUP: reloading').length > signals, 10_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(lines(m, 'GeoIP database reloaded').length, reloaded);
    });
  });
}
