/**
 * Standard secondaries on loopback: Knot (knotd, started by the test) takes meridian's zones
 * by AXFR, and an admin API write reaches it within 2 s through NOTIFY and IXFR (Knot's own
 * refresh timer would wait the SOA refresh, 7200 s here).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, fixtureZones, type TestServer } from '../support/test-server.js';
import { knotUnavailableReason, startKnot, freeLoopbackPort, type RunningKnot } from '../support/knot.js';
import { udp } from '../support/dns-client.js';
import { until } from '../support/process.js';
import { nsdUnavailableReason, startNsdSecondary, type RunningNsd } from '../support/nsd.js';

const skip = knotUnavailableReason();

describe('Knot as a secondary', { skip: skip ?? false }, () => {
  let dir: string;
  let server: TestServer;
  let knot: RunningKnot;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-secondary-'));
    const zones = path.join(dir, 'zones');
    fs.cpSync(fixtureZones, zones, { recursive: true });
    // Knot's port first, so meridian's NOTIFYs have somewhere to go from the start.
    const knotPort = await freeLoopbackPort();
    const config = path.join(dir, 'config.yaml');
    fs.writeFileSync(config, `dns:\n  transfer:\n    allow: [127.0.0.1]\n    notify: ["127.0.0.1:${knotPort}"]\nzones:\n  journal:\n    compactDelayMs: 600000\n`);
    server = await startTestServer(zones, config, { admin: '127.0.0.1:0' });
    const secondaryFiles = path.join(dir, 'knot-zones');
    fs.mkdirSync(secondaryFiles);
    knot = await startKnot(
      ['rules.test.', 'other.test.'].map((origin) => ({ origin, file: path.join(secondaryFiles, `${origin}zone`) })),
      { primaryPort: server.port, port: knotPort },
    );
  });

  after(async () => {
    await knot?.stop();
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the zones it transferred, and an admin API write within 2 s', async () => {
    const www = await udp(knot.port, 'ns1.rules.test.', 'A');
    assert.equal(www.msg.answers[0]?.data, '192.0.2.1');
    const admin = server.adminAddress!;
    const res = await fetch(`http://127.0.0.1:${admin.port}/v1/zones/rules.test/records/fresh/A`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ttl: 60, rdata: ['198.51.100.7'] }),
    });
    assert.equal(res.status, 200, await res.text());
    const started = Date.now();
    const seen = await until('Knot answers the written record', 2000, async () => {
      const r = await udp(knot.port, 'fresh.rules.test.', 'A');
      return r.msg.answers.length > 0 ? r.msg.answers[0]!.data : null;
    });
    assert.equal(seen, '198.51.100.7');
    assert.ok(Date.now() - started <= 2000);
    // Knot was told (NOTIFY) and took the change incrementally, from the journal.
    // Knot may log the transfer a moment after it answers from it.
    await until('Knot logs the NOTIFY and the IXFR', 5000, async () =>
      knot.output().includes('[rules.test.] notify, incoming') && /\[rules\.test\.\] IXFR, incoming, .* finished/.test(knot.output()) ? true : null,
    );
    assert.doesNotMatch(knot.output(), /AXFR-style/i);
  });
});

describe('NSD as a secondary', { skip: nsdUnavailableReason() ?? false }, () => {
  let dir: string;
  let server: TestServer;
  let nsd: RunningNsd;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-secondary-'));
    const zones = path.join(dir, 'zones');
    fs.cpSync(fixtureZones, zones, { recursive: true });
    const nsdPort = await freeLoopbackPort();
    const config = path.join(dir, 'config.yaml');
    fs.writeFileSync(config, `dns:\n  transfer:\n    allow: [127.0.0.1]\n    notify: ["127.0.0.1:${nsdPort}"]\nzones:\n  journal:\n    compactDelayMs: 600000\n`);
    server = await startTestServer(zones, config, { admin: '127.0.0.1:0' });
    nsd = startNsdSecondary(nsdPort, server.port, ['rules.test.', 'other.test.']);
  });

  after(async () => {
    await nsd?.stop();
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('takes the zones by transfer and an admin API write within 2 s', async () => {
    const address = (name: string) => async (): Promise<string | null> => {
      const r = await udp(nsd.port, name, 'A').catch(() => null);
      return r !== null && r.msg.answers.length > 0 ? (r.msg.answers[0]!.data as string) : null;
    };
    assert.equal(await until(`NSD serves ns1.rules.test.\n${nsd.output()}`, 15_000, address('ns1.rules.test.')), '192.0.2.1');
    const res = await fetch(`http://127.0.0.1:${server.adminAddress!.port}/v1/zones/rules.test/records/fresh/A`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ttl: 60, rdata: ['198.51.100.8'] }),
    });
    assert.equal(res.status, 200, await res.text());
    assert.equal(await until('NSD answers the written record', 2000, address('fresh.rules.test.')), '198.51.100.8');
  });
});
