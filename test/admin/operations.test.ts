/**
 * Issue #5, operations over real HTTP, checked with real UDP answers: health (state, reason,
 * history, from real TCP probes), drain/undrain/force-up of a target and of a region moving
 * answers at once, explain, latency samples flipping a latency-filter answer, reload,
 * status and Prometheus metrics.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { udp } from '../support/dns-client.js';
import { freePort } from '../support/process.js';
import { projectRoot } from '../support/test-server.js';
import { addresses, call, INITIAL_SERIAL, POLICY_TEXT, RO_TOKEN, RW_TOKEN, soaSerial, startMeridian, workspace, ZONE, type Meridian, type Workspace } from './helpers.js';

let ws: Workspace;
let m: Meridian;
let alive: net.Server;

const CONFIG = `health: { stateFile: null }
zones: { watch: false }
admin:
  tokens:
    - { name: viewer, token: ${RO_TOKEN}, access: read }
`;

const fo = async (): Promise<string[]> => addresses(m, 'fo.adm.test');
const lat = async (): Promise<string[]> => addresses(m, 'lat.adm.test');

before(async () => {
  // Two probed targets: "alive" (a TCP listener here) and "dead" (a port nobody listens on).
  alive = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => alive.listen(0, '127.0.0.1', resolve));
  const alivePort = (alive.address() as net.AddressInfo).port;
  const deadPort = await freePort();
  ws = workspace(CONFIG);
  fs.writeFileSync(
    ws.policyFile,
    POLICY_TEXT.replace(
      'targets:\n',
      `probes:
  up:   { type: tcp, port: ${alivePort}, interval: 1, timeout: 500, rise: 1, fall: 1, jitter: 0 }
  down: { type: tcp, port: ${deadPort}, interval: 1, timeout: 500, rise: 1, fall: 1, jitter: 0 }
targets:
  alive: { region: probed, ipv4: [192.0.2.201], probe: up, probeAddress: 127.0.0.1 }
  dead:  { region: probed, ipv4: [192.0.2.202], probe: down, probeAddress: 127.0.0.1 }
`,
    ) +
      `  probed:
    ttl: 5
    targets: [alive, dead]
    policy:
      - health: {}
      - all: {}
`,
  );
  m = await startMeridian(ws, { env: { MERIDIAN_ADMIN_TOKEN: RW_TOKEN } });
});
after(async () => {
  await m.stop();
  await new Promise<void>((resolve) => alive.close(() => resolve()));
  ws.remove();
});

interface HealthEntry {
  id: string;
  region: string;
  state: string;
  forced: string | null;
  healthy: boolean;
  reason: string | null;
  history: Array<{ at: number; from: string; to: string; why: string }>;
  probe: { type: string } | null;
}
const health = async (): Promise<Map<string, HealthEntry>> => {
  const r = await call(m, 'GET', '/v1/health', undefined, RO_TOKEN);
  assert.equal(r.status, 200);
  return new Map((r.json.targets as HealthEntry[]).map((t) => [t.id, t]));
};

describe('admin API: operations', () => {
  it('lists every target in /v1/health with state, reason and history', async () => {
    const h = await health();
    assert.deepEqual([...h.keys()].sort(), ['adm.test/alive', 'adm.test/dead', 'adm.test/heavy', 'adm.test/light', 'adm.test/primary', 'adm.test/secondary']);
    const a = h.get('adm.test/alive')!;
    assert.equal(a.state, 'up');
    assert.equal(a.healthy, true);
    assert.equal(a.reason, null);
    assert.equal(a.probe?.type, 'tcp');
    assert.ok(a.history.length >= 1 && a.history[0]!.to === 'up', JSON.stringify(a.history));
    const d = h.get('adm.test/dead')!;
    assert.equal(d.state, 'down');
    assert.equal(d.healthy, false);
    assert.equal(d.reason, 'refused', 'the probe failure reason');
    assert.ok(
      d.history.some((x) => x.to === 'down'),
      JSON.stringify(d.history),
    );
    const p = h.get('adm.test/primary')!;
    assert.equal(p.probe, null, 'no probe');
    assert.equal(p.healthy, true);
    assert.deepEqual(await addresses(m, 'probed.adm.test'), ['192.0.2.201'], 'DNS agrees: only the live target');
  });

  it('drains a target: answers move at once; undrain brings them back; drains survive a zone edit', async () => {
    assert.deepEqual(await fo(), ['198.51.100.1']);
    const drained = await call(m, 'POST', '/v1/targets/primary/drain');
    assert.equal(drained.status, 200, drained.text);
    assert.deepEqual(drained.json, { id: 'adm.test/primary', state: 'unknown', forced: 'down', healthy: false });
    assert.deepEqual(await fo(), ['198.51.100.2'], 'the very next query goes to the secondary');
    const h = (await health()).get('adm.test/primary')!;
    assert.equal(h.forced, 'down');
    assert.equal(h.healthy, false);
    assert.match(h.history[0]!.why, /drain|forced|down/i, JSON.stringify(h.history[0]));
    const ex = await call(m, 'GET', '/v1/explain?name=fo.adm.test&type=A&client=192.0.2.1', undefined, RO_TOKEN);
    assert.deepEqual(ex.json.addresses, ['198.51.100.2'], 'explain agrees with DNS');

    // an unrelated zone edit (new snapshot, probes re-synced) keeps the drain
    assert.equal((await call(m, 'PUT', `/v1/zones/${ZONE}/records/unrelated/A`, { ttl: 60, rdata: ['192.0.2.3'] })).status, 200);
    assert.deepEqual(await fo(), ['198.51.100.2'], 'still drained after a zone edit');

    // the target@zone form of the id
    const undrained = await call(m, 'POST', '/v1/targets/primary@adm.test/undrain');
    assert.equal(undrained.status, 200, undrained.text);
    assert.equal(undrained.json.forced, null);
    assert.deepEqual(await fo(), ['198.51.100.1'], 'back at once');

    // the zone/target form of the id, URL-encoded
    assert.equal((await call(m, 'POST', `/v1/targets/${encodeURIComponent('adm.test/primary')}/drain`)).status, 200);
    assert.deepEqual(await fo(), ['198.51.100.2']);
    assert.equal((await call(m, 'POST', '/v1/targets/primary/undrain')).status, 200);
    assert.deepEqual(await fo(), ['198.51.100.1']);
  });

  it('forces a target up over its probes, and clears it', async () => {
    assert.deepEqual(await addresses(m, 'probed.adm.test'), ['192.0.2.201']);
    const up = await call(m, 'POST', '/v1/targets/dead/force-up');
    assert.equal(up.status, 200, up.text);
    assert.equal(up.json.healthy, true);
    assert.deepEqual(await addresses(m, 'probed.adm.test'), ['192.0.2.201', '192.0.2.202']);
    assert.equal((await call(m, 'POST', '/v1/targets/dead/undrain')).status, 200);
    assert.deepEqual(await addresses(m, 'probed.adm.test'), ['192.0.2.201']);
  });

  it('drains a region: every target in it, answers moved at once, and back', async () => {
    const r = await call(m, 'POST', '/v1/regions/one/drain');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { region: 'one', targets: ['adm.test/primary'], forced: 'down' });
    assert.deepEqual(await fo(), ['198.51.100.2']);
    const probed = await call(m, 'POST', '/v1/regions/probed/drain');
    assert.deepEqual(probed.json.targets.sort(), ['adm.test/alive', 'adm.test/dead']);
    // Issue #20: a drain is never answered, so fail-open (the default) has nothing left: NODATA.
    const allDrained = await udp(m.dns, 'probed.adm.test', 'A');
    assert.deepEqual([allDrained.raw[3]! & 0x0f, allDrained.msg.answers.length], [0, 0], 'every target drained: NODATA, not the drained ones');
    assert.equal((await call(m, 'POST', '/v1/regions/probed/undrain')).status, 200);
    assert.equal((await call(m, 'POST', '/v1/regions/one/undrain')).status, 200);
    assert.deepEqual(await fo(), ['198.51.100.1']);
    assert.deepEqual(await addresses(m, 'probed.adm.test'), ['192.0.2.201']);
    const h = await health();
    assert.ok(
      [...h.values()].every((t) => t.forced === null),
      'no override left',
    );
  });

  it('explains an answer: client, trace per filter, addresses, TTL', async () => {
    const r = await call(m, 'GET', '/v1/explain?name=fo.adm.test&type=A&client=81.2.69.160', undefined, RO_TOKEN);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.name, 'fo.adm.test.');
    assert.equal(r.json.type, 'A');
    assert.equal(r.json.steered, true);
    assert.equal(r.json.outcome, 'answer');
    assert.deepEqual(r.json.addresses, ['198.51.100.1']);
    assert.equal(r.json.ttl, 5);
    assert.equal(r.json.client.address, '81.2.69.160');
    assert.ok(Array.isArray(r.json.trace) && r.json.trace.length >= 1);
    assert.ok(
      r.json.trace.some((e: { filter: string }) => e.filter === 'failover'),
      JSON.stringify(r.json.trace),
    );
    // AAAA: no IPv6 addresses on these targets; type defaults to A
    const def = await call(m, 'GET', '/v1/explain?name=fo.adm.test&client=192.0.2.1', undefined, RO_TOKEN);
    assert.equal(def.json.type, 'A');
    const notSteered = await call(m, 'GET', '/v1/explain?name=www.adm.test&type=A&client=192.0.2.1', undefined, RO_TOKEN);
    assert.equal(notSteered.json.outcome, 'not-steered');
  });

  it('takes latency samples that flip a latency-filter answer; a bad sample changes nothing', async () => {
    assert.deepEqual(await lat(), ['198.51.100.1'], 'no estimate: all kept, first wins');
    const bad = await call(m, 'POST', '/v1/latency', {
      samples: [
        { network: '127.0.0.0/8', region: 'two', ms: 1 },
        { network: '127.0.0.1/8', region: 'one', ms: 900 },
      ],
    });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.field, 'body.samples.1.network');
    assert.deepEqual((await call(m, 'GET', '/v1/latency', undefined, RO_TOKEN)).json.samples, [], 'the good sample in a bad request is not applied');
    assert.deepEqual(await lat(), ['198.51.100.1']);

    // the DNS client is 127.0.0.1: samples for 127.0.0.0/8 make region two (secondary) faster
    const ok = await call(m, 'POST', '/v1/latency', {
      samples: [
        { network: '127.0.0.0/8', region: 'two', ms: 5 },
        { network: '127.0.0.0/8', region: 'one', ms: 80 },
      ],
      ttlSec: 60,
    });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json, { accepted: 2, ttlSec: 60 });
    assert.deepEqual(await lat(), ['198.51.100.2'], 'the sample flips the answer at once');
    const listed = (await call(m, 'GET', '/v1/latency', undefined, RO_TOKEN)).json.samples as Array<{ network: string; region: string; ms: number }>;
    assert.deepEqual(listed.map((s) => `${s.network} ${s.region} ${s.ms}`).sort(), ['127.0.0.0/8 one 80', '127.0.0.0/8 two 5']);
    const ex = await call(m, 'GET', '/v1/explain?name=lat.adm.test&type=A&client=127.0.0.1', undefined, RO_TOKEN);
    assert.deepEqual(ex.json.addresses, ['198.51.100.2']);
    assert.ok(ex.json.trace.some((e: { filter: string }) => e.filter === 'latency'));
    // other clients have no estimate: unchanged for them
    const other = await call(m, 'GET', '/v1/explain?name=lat.adm.test&type=A&client=192.0.2.1', undefined, RO_TOKEN);
    assert.deepEqual(other.json.addresses, ['198.51.100.1']);
    // and flip back: region one becomes faster (samples are smoothed, so push a few)
    for (let i = 0; i < 10; i++) await call(m, 'POST', '/v1/latency', { samples: [{ network: '127.0.0.0/8', region: 'one', ms: 1 }], ttlSec: 60 });
    assert.deepEqual(await lat(), ['198.51.100.1']);
  });

  it('reloads hand-edited files on POST /v1/reload, and keeps serving the old data when a file is broken', async () => {
    const status = async () => (await call(m, 'GET', '/v1/status', undefined, RO_TOKEN)).json;
    const before = await status();
    const serial = await soaSerial(m);
    // A serial newer than the one served: the zone file may lag the served zone by the writes
    // still in its journal, and a hand edit wins over the journal only with a newer serial.
    const text = fs.readFileSync(ws.zoneFile, 'utf8').replace(/ (\d+) 7200 3600/, () => ` ${serial + 1} 7200 3600`) + 'manual.adm.test. 60 IN A 192.0.2.123\n';
    fs.writeFileSync(ws.zoneFile, text);
    assert.deepEqual(await addresses(m, 'manual.adm.test'), [], 'no watch: not yet served');
    const r = await call(m, 'POST', '/v1/reload');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.changed, true);
    assert.deepEqual(r.json.errors, []);
    assert.ok(r.json.snapshot > before.snapshot);
    assert.deepEqual(await addresses(m, 'manual.adm.test'), ['192.0.2.123']);
    assert.equal(await soaSerial(m), serial + 1);

    fs.writeFileSync(ws.zoneFile, text + 'broken IN A not-an-address\n');
    const broken = await call(m, 'POST', '/v1/reload');
    assert.equal(broken.status, 200, broken.text);
    assert.ok(
      broken.json.errors.some((e: string) => e.includes('adm.test.zone') && /not-an-address|IPv4/.test(e)),
      JSON.stringify(broken.json.errors),
    );
    assert.deepEqual(await addresses(m, 'manual.adm.test'), ['192.0.2.123'], 'the last good version keeps serving');
    const zone = await call(m, 'GET', `/v1/zones/${ZONE}`, undefined, RO_TOKEN);
    assert.ok(zone.json.lastLoadErrors.length >= 1, 'the zone shows its load errors');
    // an API write on top of a broken file works from the served version and repairs it
    const fix = await call(m, 'PUT', `/v1/zones/${ZONE}/records/manual/A`, { ttl: 60, rdata: ['192.0.2.124'] });
    assert.equal(fix.status, 200, fix.text);
    assert.deepEqual(await addresses(m, 'manual.adm.test'), ['192.0.2.124']);
    assert.deepEqual((await call(m, 'POST', '/v1/reload')).json.errors, []);
  });

  it('reports status: version, uptime, snapshot, zone serials, GeoIP build dates', async () => {
    const r = await call(m, 'GET', '/v1/status', undefined, RO_TOKEN);
    assert.equal(r.status, 200);
    const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string };
    assert.equal(r.json.version, pkg.version);
    assert.ok(!Number.isNaN(Date.parse(r.json.startedAt)));
    assert.ok(Number.isInteger(r.json.uptimeSec) && r.json.uptimeSec >= 0);
    assert.ok(Number.isInteger(r.json.snapshot) && r.json.snapshot > 1);
    assert.deepEqual(r.json.zones, [{ zone: 'adm.test.', serial: await soaSerial(m) }]);
    assert.ok(r.json.zones[0].serial > INITIAL_SERIAL);
    assert.equal(r.json.geoip.length, 1, 'the default location database');
    const db = r.json.geoip[0];
    assert.match(db.file, /\.mmdb$/);
    assert.equal(typeof db.type, 'string');
    assert.match(db.built, /^\d{4}-\d\d-\d\dT/);
    assert.equal(r.json.health.targets, 6);
  });

  it('serves Prometheus metrics with DNS query counters', async () => {
    await udp(m.dns, 'www.adm.test', 'A');
    await udp(m.dns, 'nope.adm.test', 'A');
    const res = await fetch(`http://127.0.0.1:${m.api}/metrics`, { headers: { authorization: `Bearer ${RO_TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /^# TYPE meridian_dns_queries_total counter$/m);
    assert.match(text, /^meridian_dns_queries_total\{[^}]*zone="adm\.test\."[^}]*\} [1-9]\d*$/m);
    assert.match(text, /rcode="NXDOMAIN"/);
  });
});
