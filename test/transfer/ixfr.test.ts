/**
 * IXFR from the journal (RFC 1995) over real sockets: after admin API writes, kdig asking
 * from an old serial gets only the differences, entry by entry; from a serial the journal
 * does not reach, the whole zone (AXFR-style, §4); from the current one, the SOA alone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestServer, fixtureZones, type TestServer } from '../support/test-server.js';

const run = promisify(execFile);

async function kdig(port: number, ...args: string[]): Promise<string[]> {
  const { stdout } = await run('kdig', ['-p', String(port), '@127.0.0.1', '+nocomments', ...args]);
  return stdout.split('\n').filter((l) => l !== '' && !l.startsWith(';'));
}

describe('IXFR from the journal', () => {
  let dir: string;
  let server: TestServer;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-ixfr-'));
    const zones = path.join(dir, 'zones');
    fs.cpSync(fixtureZones, zones, { recursive: true });
    const config = path.join(dir, 'config.yaml');
    // The journal is kept (not compacted into the zone file) for the length of the test.
    fs.writeFileSync(config, 'dns:\n  transfer:\n    allow: [127.0.0.1]\nzones:\n  journal:\n    compactDelayMs: 600000\n');
    server = await startTestServer(zones, config, { admin: '127.0.0.1:0' });
  });

  after(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const put = async (name: string, type: string, body: object): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${server.adminAddress!.port}/v1/zones/rules.test/records/${name}/${type}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200, await res.text());
  };

  it('sends only the differences since the secondary serial, one sequence per write', async () => {
    const before = server.store.current.zones.get('rules.test')!.serial;
    await put('fresh', 'A', { ttl: 60, rdata: ['198.51.100.7'] });
    const middle = server.store.current.zones.get('rules.test')!.serial;
    await put('ns1', 'A', { ttl: 300, rdata: ['192.0.2.1', '192.0.2.99'] });
    const now = server.store.current.zones.get('rules.test')!.serial;
    assert.ok(before !== middle && middle !== now);
    const records = await kdig(server.port, `IXFR=${before}`, 'rules.test.');
    const soaSerials = records.filter((l) => /\sSOA\s/.test(l)).map((l) => Number(l.split(/\s+/)[6]));
    // Current, (before, middle), (middle, now), current.
    assert.deepEqual(soaSerials, [now, before, middle, middle, now, now]);
    const body = records.filter((l) => !/\sSOA\s/.test(l));
    assert.deepEqual(
      body.map((l) => l.split(/\s+/).filter(Boolean).join(' ')),
      ['fresh.rules.test. 60 IN A 198.51.100.7', 'ns1.rules.test. 300 IN A 192.0.2.99'],
    );
    // From the middle serial: the second write only.
    const later = await kdig(server.port, `IXFR=${middle}`, 'rules.test.');
    assert.equal(later.filter((l) => /\sSOA\s/.test(l)).length, 4);
    assert.equal(later.length, 5);
  });

  it('sends the whole zone AXFR-style from a serial the journal does not reach', async () => {
    const zone = server.store.current.zones.get('rules.test')!;
    const records = await kdig(server.port, 'IXFR=12345', 'rules.test.');
    assert.equal(records.length, zone.recordCount + 1);
    assert.equal(records.filter((l) => /\sSOA\s/.test(l)).length, 2);
    // The zone as written: the AXFR thread walks the packed base with the written nodes over it.
    const flat = records.map((l) => l.split(/\s+/).filter(Boolean).join(' '));
    assert.ok(flat.includes('fresh.rules.test. 60 IN A 198.51.100.7'), flat.join('\n'));
    assert.deepEqual(flat.filter((l) => l.startsWith('ns1.rules.test. ') && l.includes(' A ')).sort(), ['ns1.rules.test. 300 IN A 192.0.2.1', 'ns1.rules.test. 300 IN A 192.0.2.99']);
  });
});
