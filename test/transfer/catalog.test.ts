/**
 * The catalog zone (RFC 9432, version 2, `dns.transfer.catalog`): an AXFR of it lists every
 * zone served as a PTR under zones.<catalog>, each with an id that is a hash of its name;
 * its serial moves when the set of zones changes and only then; and a Knot secondary that
 * interprets it (`catalog-role: interpret`) serves every member with no zone of its own in
 * its configuration, and a zone added later (a new file, a reload) within seconds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { freeLoopbackPort, knotUnavailableReason, startKnot, type RunningKnot } from '../support/knot.js';
import { udp } from '../support/dns-client.js';
import { until } from '../support/process.js';
import { loadConfig } from '../../src/config/load-config.js';
import { startMeridian, workspace } from '../admin/helpers.js';

const run = promisify(execFile);
const skip = knotUnavailableReason();

const zoneText = (origin: string, address: string): string => `$ORIGIN ${origin}.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 60\n@ IN NS ns1\nns1 IN A ${address}\n`;

/** The id RFC 9432 §4.1 leaves to the producer: here the first 64 bits of SHA-256 of the lower-case wire name. */
function idOf(origin: string): string {
  const wire = Buffer.concat([
    ...origin
      .toLowerCase()
      .split('.')
      .filter(Boolean)
      .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ]);
  return crypto.createHash('sha256').update(wire).digest('hex').slice(0, 16);
}

describe('the catalog zone', () => {
  let dir: string;
  let zones: string;
  let server: TestServer;
  let knot: RunningKnot | null = null;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-catalog-'));
    zones = path.join(dir, 'zones');
    fs.mkdirSync(zones);
    fs.writeFileSync(path.join(zones, 'a.test.zone'), zoneText('a.test', '192.0.2.1'));
    fs.writeFileSync(path.join(zones, 'B.test.zone'), zoneText('B.test', '192.0.2.2'));
    const knotPort = skip === null ? await freeLoopbackPort() : 9;
    const config = path.join(dir, 'config.yaml');
    fs.writeFileSync(config, `dns:\n  transfer:\n    allow: [127.0.0.1]\n    notify: ["127.0.0.1:${knotPort}"]\n    catalog: Catalog.Invalid.\n`);
    server = await startTestServer(zones, config);
    if (skip === null) {
      const files = path.join(dir, 'knot-zones');
      fs.mkdirSync(files);
      knot = await startKnot([{ origin: 'catalog.invalid.', file: path.join(files, 'catalog.invalid.zone') }], { primaryPort: server.port, port: knotPort, catalog: 'catalog.invalid.' });
    }
  });

  after(async () => {
    await knot?.stop();
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const catalog = async (): Promise<string[]> => {
    const { stdout } = await run('kdig', ['-p', String(server.port), '@127.0.0.1', '+nocomments', '+nostats', 'AXFR', 'catalog.invalid.']);
    return stdout
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith(';'))
      .map((l) => l.split(/\s+/).filter(Boolean).join(' '));
  };
  const serial = (records: string[]): number => Number(records[0]!.split(' ')[6]);

  it('lists every zone served under zones.<catalog> with a hash of its name as id, version 2', async () => {
    const records = await catalog();
    assert.equal(records[0], records.at(-1), 'SOA first and last');
    assert.match(records[0]!, /^catalog\.invalid\. 0 IN SOA invalid\. invalid\. \d+ 3600 600 2147483646 0$/i);
    assert.deepEqual(
      records.slice(1, -1).sort(),
      [
        `${idOf('a.test')}.zones.catalog.invalid. 0 IN PTR a.test.`,
        `${idOf('b.test')}.zones.catalog.invalid. 0 IN PTR B.test.`,
        'catalog.invalid. 0 IN NS invalid.',
        'version.catalog.invalid. 0 IN TXT "2"',
      ].sort(),
    );
  });

  it('moves its serial when a zone is added, not when a member changes', async () => {
    const before = serial(await catalog());
    fs.writeFileSync(path.join(zones, 'a.test.zone'), zoneText('a.test', '192.0.2.9').replace(' 1 7200', ' 2 7200'));
    server.reload();
    assert.equal(serial(await catalog()), before, 'a member edited: the same catalog');
    fs.writeFileSync(path.join(zones, 'c.test.zone'), zoneText('c.test', '192.0.2.3'));
    server.reload();
    const after = await catalog();
    assert.ok(serial(after) > before, `${serial(after)} after ${before}`);
    assert.ok(after.includes(`${idOf('c.test')}.zones.catalog.invalid. 0 IN PTR c.test.`), after.join('\n'));
    assert.ok(after.includes(`${idOf('a.test')}.zones.catalog.invalid. 0 IN PTR a.test.`), 'a member keeps its id');
    fs.rmSync(path.join(zones, 'c.test.zone'));
    server.reload();
    const removed = await catalog();
    assert.ok(serial(removed) > serial(after));
    assert.ok(!removed.some((r) => r.includes('PTR c.test.')));
  });

  it('is served to a Knot secondary that interprets it: every member, and a zone added later', { skip: skip ?? false }, async () => {
    /** Resolves once Knot answers `name` with `expected` (a member may be a version behind for a moment). */
    const serves = (name: string, expected: string, timeoutMs: number): Promise<true> =>
      until(`Knot serves ${name} ${expected}\n${knot!.output()}`, timeoutMs, async () => {
        try {
          const r = await udp(knot!.port, name, 'A');
          return (r.raw[3]! & 0x0f) === 0 && r.msg.answers.some((a) => a.data === expected) ? true : null;
        } catch {
          return null;
        }
      });
    await serves('ns1.a.test.', '192.0.2.9', 15_000);
    await serves('ns1.b.test.', '192.0.2.2', 15_000);
    fs.writeFileSync(path.join(zones, 'd.test.zone'), zoneText('d.test', '192.0.2.4'));
    server.reload();
    // The new catalog's NOTIFY, its transfer, then the new member's: seconds, not Knot's refresh (3600 s).
    await serves('ns1.d.test.', '192.0.2.4', 10_000);
  });

  it('takes a name for dns.transfer.catalog, and names the field of a bad one', () => {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'dns:\n  transfer:\n    catalog: "a..b"\n');
    assert.throws(() => loadConfig(file, {}, {}), /bad\.yaml:3: dns\.transfer\.catalog: /);
    fs.writeFileSync(file, 'dns:\n  transfer:\n    catalog: "."\n');
    assert.throws(() => loadConfig(file, {}, {}), /bad\.yaml:3: dns\.transfer\.catalog: the root cannot be a catalog zone/);
  });
});

describe('the catalog zone with serve --workers 2', () => {
  it("is the primary's in every worker: the same members and serial whichever takes the transfer", async () => {
    const ws = workspace('health: { stateFile: null }\nzones: { watch: false }\ndns:\n  transfer:\n    allow: [127.0.0.1]\n    catalog: catalog.invalid.\n');
    fs.writeFileSync(path.join(ws.zones, 'w.test.zone'), zoneText('w.test', '192.0.2.5'));
    const m = await startMeridian(ws, { env: { MERIDIAN_WORKERS: '2' }, startTimeoutMs: 30_000 });
    try {
      // TCP connections go to either worker: ten transfers reach both (all ten to one: 1 in 512).
      const seen = new Set<string>();
      for (let i = 0; i < 10; i++) {
        const { stdout } = await run('kdig', ['-p', String(m.dns), '@127.0.0.1', '+nocomments', '+nostats', 'AXFR', 'catalog.invalid.']).catch((err: unknown) => err as { stdout: string });
        seen.add(
          stdout
            .split('\n')
            .filter((l) => l !== '' && !l.startsWith(';'))
            .map((l) => l.split(/\s+/).filter(Boolean).join(' '))
            .sort()
            .join('\n'),
        );
      }
      assert.equal(seen.size, 1, [...seen].join('\n---\n'));
      const records = [...seen][0]!.split('\n');
      assert.ok(records.includes(`${idOf('w.test')}.zones.catalog.invalid. 0 IN PTR w.test.`), records.join('\n'));
      assert.ok(records.includes(`${idOf('adm.test')}.zones.catalog.invalid. 0 IN PTR adm.test.`), records.join('\n'));
      assert.ok(!m.output().includes('worker read a different zone file'), m.output());
    } finally {
      await m.kill();
      ws.remove();
    }
  });
});
