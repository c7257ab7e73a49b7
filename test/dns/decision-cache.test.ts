/**
 * The decision cache (issue #7) over real sockets: a cached server answers every client
 * exactly as a server without caches does, whatever order the clients come in, and no
 * health change, admin write or zone reload is ever hidden by a cached decision or answer.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildQuery, decode, rcodeOf, sendTcp, sendUdp } from '../support/dns-client.js';
import { ecsOf, ecsOption } from '../support/ecs.js';
import { tempCopy } from '../support/process.js';
import { projectRoot, startTestServer, type TestServer } from '../support/test-server.js';

const ZONES = path.join(projectRoot, 'test/fixtures/steer/zones');
const CONFIG = path.join(projectRoot, 'test/fixtures/steer/meridian.yaml');
const GEOIP = path.join(projectRoot, 'test/fixtures/geoip');

interface Answer {
  rcode: number;
  addrs: string[];
  /** ECS scope of the answer, or null when it carried no ECS. */
  scope: number | null;
}

async function ask(port: number, name: string, type: string, ecs: string | undefined, transport: 'udp' | 'tcp' = 'udp'): Promise<Answer> {
  const q = buildQuery(name, type, { edns: true, options: ecs === undefined ? [] : [ecsOption(ecs)], recursionDesired: false });
  const raw = transport === 'udp' ? await sendUdp(port, q) : (await sendTcp(port, [q]))[0]!;
  const msg = decode(raw);
  const addrs = (msg.answers ?? []).filter((r) => r.type === 'A' || r.type === 'AAAA').map((r) => String(r.data));
  return { rcode: rcodeOf(raw), addrs, scope: ecsOf(msg)?.scope ?? null };
}

/** The steering fixture config with both caches off: the reference every cached answer must equal. */
function uncachedConfig(dir: string): string {
  const file = path.join(dir, 'meridian.yaml');
  fs.writeFileSync(
    file,
    [
      'dns:',
      '  cacheMaxEntries: 0',
      'zones:',
      `  directory: ${JSON.stringify(ZONES)}`,
      '  watch: false',
      'geoip:',
      `  location: ${JSON.stringify(path.join(GEOIP, 'GeoIP2-City-Test.mmdb'))}`,
      `  asn: ${JSON.stringify(path.join(GEOIP, 'GeoLite2-ASN-Test.mmdb'))}`,
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * Clients chosen to tempt a wrong share: neighbours inside one GeoIP record, a /25 CIDR rule
 * inside a /24, a nested latency row inside a /20 record, records shorter and longer than
 * /24, addresses with no record, private space, IPv6, and the same address at several
 * source prefixes.
 */
function clientsUnderTest(): string[] {
  const fixed = [
    '81.2.69.142/32',
    '81.2.69.143/32',
    '81.2.69.144/32',
    '81.2.69.160/32',
    '81.2.69.127/32',
    '81.2.69.128/32',
    '81.2.69.0/24',
    '81.2.69.128/25',
    '81.2.69.0/25',
    '81.2.68.0/22',
    '81.2.0.0/16',
    '89.160.20.112/32',
    '89.160.20.128/32',
    '89.160.20.0/24',
    '2.125.160.216/32',
    '2.125.160.216/30',
    '2.125.160.0/24',
    '216.160.83.56/32',
    '216.160.83.57/32',
    '67.43.156.1/32',
    '67.43.156.0/24',
    '175.16.199.0/24',
    '175.16.199.1/32',
    '175.16.198.0/24',
    '202.196.224.1/32',
    '202.196.225.7/32',
    '202.196.225.0/24',
    '202.196.230.0/24',
    '202.196.224.0/20',
    '11.22.33.0/24',
    '11.22.34.0/24',
    '11.22.33.7/32',
    '1.2.3.4/32',
    '1.1.0.0/16',
    '10.1.2.0/24',
    '2001:218::/32',
    '2001:218::1/128',
    '2001:480::1/128',
    '2a02:e700::/29',
    '2a02:cf40::/29',
    '2001:db8::/32',
  ];
  // And pseudo-random neighbours (a fixed seed, so a failure can be reproduced).
  let seed = 7;
  const next = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const bases = ['81.2.69', '89.160.20', '216.160.83', '202.196.225', '202.196.231', '2.125.160', '175.16.199', '11.22.33'];
  const random: string[] = [];
  for (let i = 0; i < 40; i++) {
    const base = bases[next(bases.length)]!;
    const prefix = [24, 25, 28, 30, 32][next(5)]!;
    const host = next(256) & (prefix === 32 ? 0xff : 0xff << (32 - prefix)) & 0xff;
    random.push(`${base}.${host}/${prefix}`);
  }
  return [...fixed, ...random];
}

const NAMES: Array<[string, string]> = [
  ['geo.geo.test', 'A'],
  ['geo.geo.test', 'AAAA'],
  ['near.geo.test', 'A'],
  ['fast.geo.test', 'A'],
  ['split.geo.test', 'A'],
  ['fo.geo.test', 'A'],
  ['many.geo.test', 'A'],
  ['alias.geo.test', 'A'],
];

describe('decision cache: the same answers as no cache at all', () => {
  let cached: TestServer;
  let reference: TestServer;
  let tmp: string;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-dcache-'));
    cached = await startTestServer(ZONES, CONFIG);
    reference = await startTestServer(ZONES, uncachedConfig(tmp));
  });
  after(async () => {
    await cached?.close();
    await reference?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('every client, forwards then backwards, with and without ECS', async () => {
    const clients: Array<string | undefined> = [undefined, ...clientsUnderTest()];
    const expected = new Map<string, Answer>();
    for (const [name, type] of NAMES) {
      for (const ecs of clients) expected.set(`${name} ${type} ${ecs}`, await ask(reference.port, name, type, ecs));
    }
    for (const order of [clients, [...clients].reverse(), clients]) {
      for (const [name, type] of NAMES) {
        for (const ecs of order) {
          const what = `${name} ${type} for ${ecs ?? 'no ECS'}`;
          assert.deepEqual(await ask(cached.port, name, type, ecs), expected.get(`${name} ${type} ${ecs}`), what);
        }
      }
    }
    const d = cached.responder.decisions;
    assert.ok(d.hits > d.misses, `the cache was used: ${d.hits} hits, ${d.misses} misses`);
    assert.equal(reference.responder.decisions.hits, 0, 'the reference has no cache');
  });
});

describe('decision cache: changes are never hidden', () => {
  it('a drain through the admin API moves the very next answer, UDP and TCP', async () => {
    const server = await startTestServer(ZONES, CONFIG, { admin: '127.0.0.1:0' });
    try {
      const admin = `http://127.0.0.1:${server.adminAddress!.port}`;
      const post = async (route: string): Promise<void> => {
        const res = await fetch(admin + route, { method: 'POST' });
        assert.equal(res.status, 200, `${route}: ${await res.text()}`);
      };
      // fo: off is disabled, so us answers; many cached answers first.
      for (let i = 0; i < 20; i++) {
        assert.deepEqual((await ask(server.port, 'fo.geo.test', 'A', '89.160.20.0/24')).addrs, ['192.0.2.2']);
        assert.deepEqual((await ask(server.port, 'geo.geo.test', 'A', '216.160.83.56/32')).addrs, ['192.0.2.1'], 'US-WA → eu');
      }
      const hitsBefore = server.responder.decisions.hits;
      assert.ok(hitsBefore >= 30, 'the answers came from the cache');

      await post('/v1/targets/us/drain');
      assert.deepEqual((await ask(server.port, 'fo.geo.test', 'A', '89.160.20.0/24')).addrs, ['192.0.2.1'], 'us drained: the next group, eu');
      assert.deepEqual((await ask(server.port, 'fo.geo.test', 'A', '89.160.20.0/24', 'tcp')).addrs, ['192.0.2.1'], 'the same over TCP');
      await post('/v1/targets/eu/drain');
      // geo: its rule's only target is drained → fail-open, every undrained candidate (issue #20: never eu or us).
      assert.deepEqual((await ask(server.port, 'geo.geo.test', 'A', '216.160.83.56/32')).addrs.sort(), ['192.0.2.3', '192.0.2.4']);
      await post('/v1/targets/us/undrain');
      assert.deepEqual((await ask(server.port, 'fo.geo.test', 'A', '89.160.20.0/24')).addrs, ['192.0.2.2'], 'us back');
    } finally {
      await server.close();
    }
  });

  it('a health transition (monitor state change) moves the very next answer', async () => {
    const server = await startTestServer(ZONES, CONFIG);
    try {
      for (let i = 0; i < 5; i++) assert.deepEqual((await ask(server.port, 'single.geo.test', 'A', undefined)).addrs, ['192.0.2.1']);
      const version = server.store.current.version;
      assert.equal(server.health.force('geo.test/eu', 'down'), true);
      assert.ok(server.store.current.version > version, 'a new snapshot version');
      // single: its one target drained → NODATA (a drain is never answered), the name marked down;
      // the decision must be recomputed, so the answer cache key changes too.
      const before = server.responder.decisions.misses;
      await ask(server.port, 'single.geo.test', 'A', undefined);
      assert.equal(server.responder.decisions.misses, before + 1, 'decided afresh after the transition');
      assert.deepEqual((await ask(server.port, 'fo.geo.test', 'A', undefined)).addrs, ['192.0.2.2']);
      server.health.force('geo.test/us', 'down');
      // No group live: fail-open answers what is not drained (off is disabled in the file, down but not drained).
      assert.deepEqual((await ask(server.port, 'fo.geo.test', 'A', undefined)).addrs.sort(), ['192.0.2.99'], 'no group live: fail-open without the drained');
    } finally {
      await server.close();
    }
  });

  it('a zone file change and reload moves the very next answer, static and steered', async () => {
    const t = tempCopy(ZONES);
    const server = await startTestServer(t.dir, CONFIG);
    try {
      for (let i = 0; i < 5; i++) {
        assert.deepEqual((await ask(server.port, 'ns1.geo.test', 'A', undefined)).addrs, ['192.0.2.53']);
        assert.deepEqual((await ask(server.port, 'fo.geo.test', 'A', '89.160.20.0/24')).addrs, ['192.0.2.2']);
      }
      const zoneFile = path.join(t.dir, 'geo.test.zone');
      fs.writeFileSync(zoneFile, fs.readFileSync(zoneFile, 'utf8').replace('ns1    IN A   192.0.2.53', 'ns1    IN A   192.0.2.54'));
      const policyFile = path.join(t.dir, 'geo.test.policy.yaml');
      fs.writeFileSync(policyFile, fs.readFileSync(policyFile, 'utf8').replace('us: { region: us, ipv4: [192.0.2.2]', 'us: { region: us, ipv4: [192.0.2.22]'));
      assert.equal(server.reload(true), true);
      assert.deepEqual((await ask(server.port, 'ns1.geo.test', 'A', undefined)).addrs, ['192.0.2.54'], 'static record');
      assert.deepEqual((await ask(server.port, 'fo.geo.test', 'A', '89.160.20.0/24')).addrs, ['192.0.2.22'], 'steered target address');
      assert.deepEqual((await ask(server.port, 'fo.geo.test', 'A', '89.160.20.0/24', 'tcp')).addrs, ['192.0.2.22'], 'steered, TCP');
    } finally {
      await server.close();
      t.remove();
    }
  });
});
