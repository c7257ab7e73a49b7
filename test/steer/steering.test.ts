/**
 * Steering end to end (issue #3, RFC 7871): the real server on 127.0.0.1, queried over UDP
 * and TCP with EDNS Client Subnet from the known IPs of MaxMind's test databases
 * (test/fixtures/geoip/README.md), answering the names of test/fixtures/steer/zones.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildQuery, decode, flagsOf, rcodeOf, sendTcp, sendUdp, type Decoded, type DecodedRR } from '../support/dns-client.js';
import { ecsOf, ecsOption, ecsRaw, hasOpt, type EcsEcho } from '../support/ecs.js';
import { tempCopy } from '../support/process.js';
import { projectRoot, startTestServer, type TestServer } from '../support/test-server.js';

const ZONES = path.join(projectRoot, 'test/fixtures/steer/zones');
const CONFIG = path.join(projectRoot, 'test/fixtures/steer/meridian.yaml');
const POLICY = 'geo.test.policy.yaml';

type Transport = 'udp' | 'tcp';
const TRANSPORTS: readonly Transport[] = ['udp', 'tcp'];

const NOERROR = 0;
const FORMERR = 1;
const SERVFAIL = 2;
const NXDOMAIN = 3;

/** Target addresses of the fixture policy. */
const EU = '192.0.2.1';
const US = '192.0.2.2';
const AP = '192.0.2.3';
const SA = '192.0.2.4';
const HEAVY = '192.0.2.11';
const LIGHT = '192.0.2.12';
const OFF = '192.0.2.99';
const EU6 = '2001:db8:e::1';
const US6 = '2001:db8:a::1';
const AP6 = '2001:db8:f::1';
/** Two /24s that `split` (weighted stable) sends to heavy and to light (found with `meridian explain`). */
const SPLIT_HEAVY = '11.22.33.0/24';
const SPLIT_LIGHT = '11.22.34.0/24';

interface Reply {
  raw: Buffer;
  msg: Decoded;
  rcode: number;
  aa: boolean;
  /** The ECS option of the answer, or null. */
  ecs: EcsEcho | null;
  /** A/AAAA data of the answer section, in order. */
  addrs: string[];
  answers: DecodedRR[];
}

interface Ask {
  /** "IP/PREFIX" (sent as a resolver would) or raw option data. */
  ecs?: string | Buffer;
  /** Default true: the query has an OPT record. */
  edns?: boolean;
  /** More EDNS options after the ECS one. */
  more?: Array<{ code: number; data: Buffer }>;
  /** The ECS OPTION-LENGTH claims this many octets more than it has (the last option in the query). */
  overrun?: number;
}

function queryOf(name: string, type: string, a: Ask = {}): Buffer {
  const options = [...(a.ecs === undefined ? [] : [typeof a.ecs === 'string' ? ecsOption(a.ecs) : { code: 8, data: a.ecs }]), ...(a.more ?? [])];
  const q = buildQuery(name, type, { edns: a.edns ?? true, options, recursionDesired: false });
  if (a.overrun !== undefined && Buffer.isBuffer(a.ecs)) q.writeUInt16BE(a.ecs.length + a.overrun, q.length - a.ecs.length - 2);
  return q;
}

function replyOf(raw: Buffer): Reply {
  const msg = decode(raw);
  const answers = msg.answers ?? [];
  return {
    raw,
    msg,
    rcode: rcodeOf(raw),
    aa: flagsOf(raw).aa,
    ecs: ecsOf(msg),
    addrs: answers.filter((r) => r.type === 'A' || r.type === 'AAAA').map((r) => String(r.data)),
    answers,
  };
}

async function ask(port: number, transport: Transport, name: string, type: string, a: Ask = {}): Promise<Reply> {
  const q = queryOf(name, type, a);
  const raw = transport === 'udp' ? await sendUdp(port, q) : (await sendTcp(port, [q]))[0]!;
  assert.equal(raw.readUInt16BE(0), q.readUInt16BE(0), 'the answer carries the query ID');
  return replyOf(raw);
}

/** Many queries on one TCP connection, pipelined; answers in query order. */
async function askTcpPipelined(port: number, queries: Array<[string, string, Ask]>): Promise<Reply[]> {
  const packets = queries.map(([n, t, a]) => queryOf(n, t, a));
  const raws = await sendTcp(port, packets, '127.0.0.1', 10_000);
  return raws.map((raw, i) => {
    assert.equal(raw.readUInt16BE(0), packets[i]!.readUInt16BE(0));
    return replyOf(raw);
  });
}

/** The query's option data without the SCOPE octet, to compare with the answer's. */
const withoutScope = (data: Buffer): Buffer => Buffer.concat([data.subarray(0, 3), data.subarray(4)]);

/** RFC 7871 §7.2.1: FAMILY, SOURCE PREFIX-LENGTH and ADDRESS echoed exactly; the SCOPE as expected. */
function assertEcsEcho(r: Reply, sent: string | Buffer, scope: number, what: string): void {
  const data = typeof sent === 'string' ? ecsOption(sent).data : sent;
  assert.ok(r.ecs, `${what}: the answer must echo ECS`);
  assert.deepEqual(withoutScope(r.ecs.data), withoutScope(data), `${what}: family, source prefix and address echoed byte for byte`);
  assert.equal(r.ecs.scope, scope, `${what}: ECS scope`);
}

function assertSteered(r: Reply, addrs: string[], what: string): void {
  assert.equal(r.rcode, NOERROR, `${what}: rcode`);
  assert.ok(r.aa, `${what}: AA`);
  assert.deepEqual([...r.addrs].sort(), [...addrs].sort(), `${what}: addresses`);
  for (const rr of r.answers) if (rr.type === 'A' || rr.type === 'AAAA') assert.equal(rr.ttl, 30, `${what}: TTL of ${rr.type} ${rr.data}`);
}

function assertNodata(r: Reply, what: string): void {
  assert.equal(r.rcode, NOERROR, `${what}: rcode`);
  assert.ok(r.aa, `${what}: AA`);
  assert.equal(r.answers.length, 0, `${what}: no answers`);
  const soa = (r.msg.authorities ?? []).find((rr) => rr.type === 'SOA');
  assert.ok(soa, `${what}: SOA in authority`);
  assert.equal(soa.name, 'geo.test');
  // RFC 2308 §5: min(SOA TTL 300, MINIMUM 60).
  assert.equal(soa.ttl, 60, `${what}: negative TTL`);
}

describe('steering over UDP and TCP', () => {
  let server: TestServer;
  let port = 0;
  before(async () => {
    server = await startTestServer(ZONES, CONFIG);
    port = server.port;
  });
  after(async () => {
    await server.close();
  });

  // 1. Geo precedence: CIDR > ASN > subdivision > country > continent > default, on several
  // continents, IPv4 and IPv6 clients, A and AAAA. The scope is the network the decision
  // depended on, capped at the source prefix ([client, qtype, addresses, scope, why]).
  const precedence: Array<[string, string, string[], number, string]> = [
    ['81.2.69.142/32', 'A', [SA], 25, 'GB London /31, inside the cidrs rule 81.2.69.128/25: CIDR beats every other rule; scope the matched /25'],
    ['81.2.69.200/32', 'A', [SA], 25, 'another GeoIP record (81.2.69.192/28) inside the same /25: still the CIDR rule'],
    ['89.160.20.128/32', 'A', [US], 17, 'SE-E, EU, AS29518: ASN beats subdivision/continent; scope the ASN record 89.160.0.0/17'],
    ['89.160.0.0/16', 'A', [US], 16, 'ASN record /17 longer than the source /16: scope capped at 16'],
    ['216.160.83.56/32', 'A', [EU], 29, 'US-WA, NA, AS209: subdivision beats continent NA; scope the City record /29 (ASN record /18 is shorter)'],
    ['2.125.160.216/32', 'A', [AP], 29, 'GB (GB-ENG), EU: country beats continent EU; scope the City record /29'],
    ['214.78.120.1/32', 'A', [US], 22, 'US-CA, NA, AS721: continent NA; scope City /22 (ASN /8 is shorter)'],
    ['175.16.199.1/32', 'A', [AP], 24, 'CN, AS: continent AS; scope City /24'],
    ['214.0.1.1/32', 'A', [AP], 24, 'AU, OC (the only Oceania network): continent OC; scope City /24'],
    ['2.3.3.0/24', 'A', [EU], 24, 'continent-only record EU /24'],
    ['1.1.0.0/16', 'A', [US], 16, 'no GeoIP record at all: default; scope the source /16'],
    ['81.2.69.0/25', 'A', [US], 25, 'no record for 81.2.69.0/25: default, but scope /25 since the next /25 is a CIDR rule'],
    ['81.2.69.0/24', 'A', [US], 24, 'a /24 source does not lie inside the /25 rule: default; the /25 dependency capped at 24'],
    ['2001:218::/32', 'AAAA', [AP6], 32, 'IPv6 JP, AS: continent AS; scope City /32'],
    ['2001:218::/32', 'A', [AP], 32, 'an IPv6 client asking A'],
    ['2a02:e700::/29', 'AAAA', [EU6], 29, 'LY, AF (the only Africa network): continent AF; scope City /29'],
    ['2a02:d3c0::/29', 'AAAA', [AP6], 29, 'IPv6 GB: country beats continent EU'],
    ['2001:480:10::/48', 'AAAA', [US6], 48, 'IPv6 US San Diego, NA: continent NA; scope City /48'],
    // Issue #20: the CIDR rule's only target (sa) has no IPv6, so that rule falls through to the
    // next matching one (country GB → ap); the dead /25 rule no longer splits the scope.
    ['81.2.69.142/32', 'AAAA', [AP6], 31, 'the CIDR rule target (sa) has no IPv6: falls through to country GB (ap); scope City /31'],
  ];
  for (const transport of TRANSPORTS) {
    describe(`geo precedence over ${transport.toUpperCase()}`, () => {
      for (const [client, type, addrs, scope, why] of precedence) {
        it(`${client} ${type}: ${why}`, async () => {
          const r = await ask(port, transport, 'geo.geo.test', type, { ecs: client });
          assertSteered(r, addrs, `${client} ${type}`);
          assert.equal(r.answers.length, addrs.length);
          assert.equal(r.answers[0]!.name, 'geo.geo.test');
          assertEcsEcho(r, client, scope, `${client} ${type}`);
        });
      }
    });
  }

  describe('ECS echo and scope', () => {
    for (const transport of TRANSPORTS) {
      it(`static records carry scope 0, the ECS echoed as sent (${transport})`, async () => {
        const ns1 = await ask(port, transport, 'ns1.geo.test', 'A', { ecs: '81.2.69.142/32' });
        assert.equal(ns1.rcode, NOERROR);
        assert.deepEqual(ns1.addrs, ['192.0.2.53']);
        assert.equal(ns1.answers[0]!.ttl, 300);
        assertEcsEcho(ns1, '81.2.69.142/32', 0, 'ns1 A');
        const txt = await ask(port, transport, 'geo.geo.test', 'TXT', { ecs: '89.160.20.0/24' });
        assert.equal(txt.rcode, NOERROR);
        assertEcsEcho(txt, '89.160.20.0/24', 0, 'geo TXT');
        const nx = await ask(port, transport, 'nope.geo.test', 'A', { ecs: '2001:218::/48' });
        assert.equal(nx.rcode, NXDOMAIN);
        assertEcsEcho(nx, '2001:218::/48', 0, 'NXDOMAIN');
      });

      it(`answers that do not depend on the client carry scope 0: single, many, fo, v4only AAAA (${transport})`, async () => {
        for (const [name, type, addrs] of [
          ['single', 'A', [EU]],
          ['many', 'A', [EU, US]],
          ['fo', 'A', [US]],
          ['v4only', 'A', [SA]],
        ] as const) {
          for (const client of ['81.2.69.142/32', '175.16.199.0/24', '2001:218::/32']) {
            const r = await ask(port, transport, `${name}.geo.test`, type, { ecs: client });
            assertSteered(r, [...addrs], `${name} for ${client}`);
            assertEcsEcho(r, client, 0, `${name} for ${client}`);
          }
        }
        const v6 = await ask(port, transport, 'v4only.geo.test', 'AAAA', { ecs: '2001:218::/32' });
        assertNodata(v6, 'v4only AAAA');
        assertEcsEcho(v6, '2001:218::/32', 0, 'v4only AAAA');
      });
    }

    it('echoes the source prefix and address octets exactly, for odd prefix lengths too', async () => {
      for (const [client, octets] of [
        ['81.2.64.0/20', 3],
        ['81.2.69.142/31', 4],
        ['89.160.20.128/25', 4],
        ['89.160.0.0/17', 3],
        ['2001:218::/56', 7],
        ['2a02:e700::/29', 4],
        ['2001:480:10::/48', 6],
        ['2001:218::1/128', 16],
      ] as const) {
        const r = await ask(port, 'udp', 'geo.geo.test', 'A', { ecs: client });
        assert.ok(r.ecs, client);
        assert.equal(r.ecs.addressBytes.length, octets, `${client}: ADDRESS is ⌈source/8⌉ octets`);
        assert.deepEqual(r.ecs.data.subarray(0, 3), ecsOption(client).data.subarray(0, 3), `${client}: family and source prefix`);
        assertEcsEcho(r, client, r.ecs.scope, client);
        assert.ok(r.ecs.scope <= r.ecs.source, `${client}: scope ${r.ecs.scope} never longer than the source`);
      }
    });

    for (const transport of TRANSPORTS) {
      it(`no ECS in the answer when the query had none, but OPT is there (${transport})`, async () => {
        for (const [name, type] of [
          ['geo.geo.test', 'A'],
          ['geo.geo.test', 'AAAA'],
          ['ns1.geo.test', 'A'],
          ['alias.geo.test', 'A'],
          ['nope.geo.test', 'A'],
        ]) {
          const r = await ask(port, transport, name!, type!);
          assert.ok(hasOpt(r.msg), `${name} ${type}: OPT`);
          assert.equal(r.ecs, null, `${name} ${type}: no ECS option`);
        }
        // Without EDNS, no OPT at all; the resolver's address (127.0.0.1: no GeoIP) gets the default.
        const plain = await ask(port, transport, 'geo.geo.test', 'A', { edns: false });
        assert.equal(hasOpt(plain.msg), false);
        assertSteered(plain, [US], 'no EDNS');
      });
    }

    // RFC 7871 §7.1.1 and §6: a malformed option makes the query malformed.
    const malformed: Array<[string, Buffer]> = [
      ['unknown family 3', ecsRaw(3, 24, 0, [81, 2, 69])],
      ['family 0', ecsRaw(0, 0, 0, [])],
      ['IPv4 source prefix 33', ecsRaw(1, 33, 0, [81, 2, 69, 142, 0])],
      ['IPv6 source prefix 129', ecsRaw(2, 129, 0, new Array<number>(17).fill(0x20))],
      ['scope non-zero in a query', ecsRaw(1, 24, 24, [81, 2, 69])],
      ['address bits set beyond the source prefix (81.2.69.0/20)', ecsRaw(1, 20, 0, [81, 2, 69])],
      ['IPv6 bits beyond the prefix (2001:219::/31)', ecsRaw(2, 31, 0, [0x20, 0x01, 0x02, 0x19])],
      ['address longer than the prefix needs', ecsRaw(1, 24, 0, [81, 2, 69, 0])],
      ['address shorter than the prefix needs', ecsRaw(1, 24, 0, [81, 2])],
      ['IPv6 address length mismatch', ecsRaw(2, 56, 0, [0x20, 0x01, 0x02, 0x18])],
      ['option shorter than its 4-octet header', Buffer.from([0, 1, 24])],
    ];
    const good = ecsRaw(1, 24, 0, [81, 2, 69]);
    const malformedQueries: Array<[string, Ask]> = [
      ...malformed.map(([what, data]): [string, Ask] => [what, { ecs: data }]),
      ['two ECS options', { ecs: good, more: [{ code: 8, data: good }] }],
      ['an ECS option longer than the OPT record holds', { ecs: good, overrun: 4 }],
      ['an ECS option one octet past the OPT record', { ecs: good, overrun: 1 }],
    ];
    for (const transport of TRANSPORTS) {
      it(`FORMERR for a malformed ECS option, steered or static name (${transport})`, async () => {
        for (const [what, query] of malformedQueries) {
          for (const name of ['geo.geo.test', 'ns1.geo.test']) {
            const r = await ask(port, transport, name, 'A', query);
            assert.equal(r.rcode, FORMERR, `${what} for ${name}: rcode`);
            assert.ok(flagsOf(r.raw).qr, `${what}: QR`);
            assert.equal(r.answers.length, 0, `${what}: no answer`);
            assert.equal(r.ecs, null, `${what}: a malformed option is not echoed`);
          }
        }
        // The server still answers well-formed queries afterwards, an ECS option followed by another one too.
        assertSteered(await ask(port, transport, 'geo.geo.test', 'A', { ecs: '81.2.69.142/32' }), [SA], 'after FORMERRs');
        assertSteered(await ask(port, transport, 'geo.geo.test', 'A', { ecs: '81.2.69.142/32', more: [{ code: 65001, data: Buffer.from([1, 2, 3]) }] }), [SA], 'an option after ECS');
      });
    }

    // RFC 7871 §7.1.2 and README "Where the client is": private, loopback, ULA… and /0 say
    // nothing about the client, so the resolver's address (127.0.0.1, no GeoIP record) decides.
    // A steered answer then claims the source network only (never /0, which a resolver would
    // serve to every client, §7.3.1); a /0 source gets scope 0. `near` tells the two apart: unknown location keeps all three.
    const unusable = ['10.0.0.0/8', '10.1.2.0/24', '192.168.0.0/16', '172.16.5.0/24', '100.64.1.0/24', '127.0.0.0/8', '169.254.1.0/24', 'fd00::/8', 'fe80::/64', '0.0.0.0/0', '::/0'];
    for (const transport of TRANSPORTS) {
      it(`private and /0 ECS: scope of the source prefix, decided on the resolver's address (${transport})`, async () => {
        const resolverNear = await ask(port, transport, 'near.geo.test', 'A');
        assertSteered(resolverNear, [EU, US, AP], 'near from 127.0.0.1 without ECS');
        const resolverSplit = await ask(port, transport, 'split.geo.test', 'A');
        const resolverGeo = await ask(port, transport, 'geo.geo.test', 'A');
        assertSteered(resolverGeo, [US], 'geo from 127.0.0.1 (default)');
        for (const client of unusable) {
          const near = await ask(port, transport, 'near.geo.test', 'A', { ecs: client });
          assertSteered(near, [EU, US, AP], `near ${client}`);
          const source = Number(client.split('/')[1]);
          assertEcsEcho(near, client, source, `near ${client}`);
          const split = await ask(port, transport, 'split.geo.test', 'A', { ecs: client });
          assert.deepEqual(split.addrs, resolverSplit.addrs, `split ${client}: the resolver's /24 decides`);
          assertEcsEcho(split, client, source, `split ${client}`);
          const geo = await ask(port, transport, 'geo.geo.test', 'A', { ecs: client });
          assertSteered(geo, [US], `geo ${client}`);
          assertEcsEcho(geo, client, source, `geo ${client}`);
        }
        // A public subnet next to them does count.
        const pub = await ask(port, transport, 'near.geo.test', 'A', { ecs: '81.2.69.142/31' });
        assertSteered(pub, [EU], 'near 81.2.69.142/31');
        assertEcsEcho(pub, '81.2.69.142/31', 31, 'near 81.2.69.142/31');
      });
    }
  });

  describe('policies', () => {
    for (const transport of TRANSPORTS) {
      it(`proximity (near): the nearest target to the GeoIP location; scope the record (${transport})`, async () => {
        for (const [client, type, addrs, scope] of [
          ['81.2.69.142/32', 'A', [EU], 31], // London: Frankfurt is nearest
          ['216.160.83.56/29', 'A', [US], 29], // Milton, WA: Washington DC
          ['175.16.199.0/24', 'A', [AP], 24], // Changchun: Singapore
          ['214.0.1.1/32', 'A', [AP], 24], // Melbourne: Singapore
          ['2001:218::/32', 'AAAA', [AP6], 32], // Tokyo: Singapore
          ['2a02:e700::/29', 'AAAA', [EU6], 29], // Libya: Frankfurt
        ] as const) {
          const r = await ask(port, transport, 'near.geo.test', type, { ecs: client });
          assertSteered(r, [...addrs], `near ${client}`);
          assertEcsEcho(r, client, scope, `near ${client}`);
        }
      });

      it(`latency (fast): the lowest-RTT row; a CIDR row overrides its continent's row (${transport})`, async () => {
        for (const [client, addrs, scope, why] of [
          ['175.16.199.1/32', [EU], 24, 'CIDR row 175.16.199.0/24 (eu 150 < us 190 < ap 200) beats the AS row'],
          ['175.16.199.0/24', [EU], 24, 'the same CIDR row for an ECS /24'],
          ['67.43.156.1/32', [AP], 24, 'BT, AS: the continent AS row (ap 20); scope City /24'],
          ['2.3.3.0/24', [EU], 24, 'continent EU row (eu 10)'],
          ['202.196.225.0/24', [EU], 24, 'CIDR row 202.196.225.0/24 inside the PH City record /20'],
        ] as const) {
          const r = await ask(port, transport, 'fast.geo.test', 'A', { ecs: client });
          assertSteered(r, [...addrs], `fast ${client}: ${why}`);
          assertEcsEcho(r, client, scope, `fast ${client}`);
        }
      });
    }

    it('weighted stable (split): one /24 keeps its answer, whatever the host bits; scope 24', async () => {
      for (const [net24, addr] of [
        [SPLIT_HEAVY, HEAVY],
        [SPLIT_LIGHT, LIGHT],
      ] as const) {
        const base = net24.slice(0, -'.0/24'.length);
        for (const client of [net24, `${base}.1/32`, `${base}.77/32`, `${base}.254/32`, `${base}.128/25`]) {
          for (let i = 0; i < 4; i++) {
            const r = await ask(port, i % 2 === 0 ? 'udp' : 'tcp', 'split.geo.test', 'A', { ecs: client });
            assertSteered(r, [addr], `split ${client} #${i}`);
            assertEcsEcho(r, client, 24, `split ${client}`);
          }
        }
      }
      // A source shorter than /24 caps the scope.
      const wide = await ask(port, 'udp', 'split.geo.test', 'A', { ecs: '11.22.0.0/16' });
      assertEcsEcho(wide, '11.22.0.0/16', 16, 'split /16');
    });

    it('weighted stable (split): about 90:10 heavy:light over 200 /24s, each /24 the same over UDP and TCP', async (t) => {
      // Routable, with or without GeoIP records: `split` uses only the client's /24.
      const clients = Array.from({ length: 200 }, (_, i) => `${11 + (i % 3) * 20}.${(i * 37) % 256}.${i}.0/24`);
      const byUdp: string[] = [];
      for (const client of clients) {
        const r = await ask(port, 'udp', 'split.geo.test', 'A', { ecs: client });
        assert.equal(r.addrs.length, 1, client);
        assert.ok(r.addrs[0] === HEAVY || r.addrs[0] === LIGHT, `${client}: ${r.addrs[0]}`);
        assertEcsEcho(r, client, 24, client);
        byUdp.push(r.addrs[0]);
      }
      const heavy = byUdp.filter((a) => a === HEAVY).length;
      t.diagnostic(`heavy ${heavy}, light ${200 - heavy} of 200 networks`);
      // Binomial(200, 0.9): mean 180, σ ≈ 4.2; ±20 is about 4.7σ.
      assert.ok(Math.abs(heavy - 180) <= 20, `heavy ${heavy} of 200, expected 180 ± 20`);
      assert.ok(heavy < 200, 'light is picked for some networks');
      const byTcp = await askTcpPipelined(
        port,
        clients.map((c) => ['split.geo.test', 'A', { ecs: c }]),
      );
      assert.deepEqual(
        byTcp.map((r) => r.addrs[0]),
        byUdp,
        'the same /24 gets the same answer again, over TCP',
      );
    });

    for (const transport of TRANSPORTS) {
      it(`failover, first-N, v4only and whenAllDown (${transport})`, async () => {
        const ecs = '89.160.20.128/32';
        // fo: the first group's only target is disabled → the second group (us).
        assertSteered(await ask(port, transport, 'fo.geo.test', 'A', { ecs }), [US], 'fo');
        assertSteered(await ask(port, transport, 'fo.geo.test', 'AAAA', { ecs }), [US6], 'fo AAAA');
        // many: all, then the first 2 → two A records, in the policy's order.
        const many = await ask(port, transport, 'many.geo.test', 'A', { ecs });
        assertSteered(many, [EU, US], 'many');
        assert.deepEqual(many.addrs, [EU, US], 'many: in target order');
        assert.equal(many.answers.length, 2);
        // v4only: A answers, AAAA is NODATA with the SOA.
        assertSteered(await ask(port, transport, 'v4only.geo.test', 'A', { ecs }), [SA], 'v4only A');
        assertNodata(await ask(port, transport, 'v4only.geo.test', 'AAAA', { ecs }), 'v4only AAAA');
        assertNodata(await ask(port, transport, 'v4only.geo.test', 'AAAA'), 'v4only AAAA without ECS');
        // Every target down.
        assertSteered(await ask(port, transport, 'down-open.geo.test', 'A', { ecs }), [OFF], 'down-open: fail-open answers the disabled target');
        assertSteered(await ask(port, transport, 'down-open.geo.test', 'AAAA', { ecs }), ['2001:db8:99::1'], 'down-open AAAA');
        const nodata = await ask(port, transport, 'down-nodata.geo.test', 'A', { ecs });
        assertNodata(nodata, 'down-nodata');
        assertEcsEcho(nodata, ecs, 0, 'down-nodata');
        const servfail = await ask(port, transport, 'down-servfail.geo.test', 'A', { ecs });
        assert.equal(servfail.rcode, SERVFAIL, 'down-servfail: SERVFAIL');
        assert.equal(servfail.answers.length, 0);
        assertSteered(await ask(port, transport, 'down-fallback.geo.test', 'A', { ecs }), [AP], 'down-fallback: the fallback pool (ap)');
        assertSteered(await ask(port, transport, 'down-fallback.geo.test', 'AAAA', { ecs }), [AP6], 'down-fallback AAAA');
      });
    }
  });

  describe('a name both steered and static', () => {
    for (const transport of TRANSPORTS) {
      it(`geo TXT comes from the zone file; alias CNAME → steered geo, chosen for the ECS client (${transport})`, async () => {
        const txt = await ask(port, transport, 'geo.geo.test', 'TXT', { ecs: '81.2.69.142/32' });
        assert.equal(txt.rcode, NOERROR);
        assert.ok(txt.aa);
        assert.equal(txt.answers.length, 1);
        assert.equal(txt.answers[0]!.type, 'TXT');
        assert.equal(txt.answers[0]!.ttl, 300);
        assert.deepEqual(
          (txt.answers[0]!.data as Buffer[]).map((b) => b.toString()),
          ['steered name with a static TXT'],
        );

        for (const [client, type, addr, scope] of [
          ['81.2.69.142/32', 'A', SA, 25],
          ['89.160.20.128/32', 'A', US, 17],
          ['216.160.83.56/32', 'A', EU, 29],
          ['2001:218::/32', 'AAAA', AP6, 32],
          ['2a02:e700::/29', 'AAAA', EU6, 29],
        ] as const) {
          const r = await ask(port, transport, 'alias.geo.test', type, { ecs: client });
          assert.equal(r.rcode, NOERROR, `alias ${client}`);
          assert.ok(r.aa);
          assert.equal(r.answers.length, 2, `alias ${client}: CNAME + ${type}`);
          assert.equal(r.answers[0]!.type, 'CNAME');
          assert.equal(r.answers[0]!.name, 'alias.geo.test');
          assert.equal(r.answers[0]!.data, 'geo.geo.test');
          assert.equal(r.answers[0]!.ttl, 300);
          assert.equal(r.answers[1]!.name, 'geo.geo.test');
          assert.equal(r.answers[1]!.type, type);
          assert.equal(r.answers[1]!.data, addr, `alias ${client}`);
          assert.equal(r.answers[1]!.ttl, 30);
          assertEcsEcho(r, client, scope, `alias ${client}`);
        }
        // Without ECS: the resolver's address decides (default).
        const plain = await ask(port, transport, 'alias.geo.test', 'A');
        assert.deepEqual(plain.addrs, [US]);
        assert.equal(plain.ecs, null);
      });
    }
  });

  describe('the answer cache never mixes clients', () => {
    // [name, type, ECS or none, addresses, scope]
    const clients: Array<[string, string, string | undefined, string[], number | null]> = [
      ['geo.geo.test', 'A', '81.2.69.142/32', [SA], 25],
      ['geo.geo.test', 'A', '89.160.20.128/32', [US], 17],
      ['geo.geo.test', 'A', '216.160.83.56/32', [EU], 29],
      ['geo.geo.test', 'A', '2.125.160.216/32', [AP], 29],
      ['geo.geo.test', 'A', '2.125.160.216/30', [AP], 29], // same decision, another scope
      ['geo.geo.test', 'A', undefined, [US], null],
      ['geo.geo.test', 'A', '10.1.2.0/24', [US], 24], // private: decided on the resolver's address, claimed for the /24 only
      ['geo.geo.test', 'AAAA', '2001:218::/32', [AP6], 32],
      ['geo.geo.test', 'AAAA', '2a02:e700::/29', [EU6], 29],
      ['alias.geo.test', 'A', '81.2.69.142/32', [SA], 25],
      ['alias.geo.test', 'A', '216.160.83.56/32', [EU], 29],
      ['alias.geo.test', 'A', undefined, [US], null],
      ['near.geo.test', 'A', '81.2.69.142/32', [EU], 31],
      ['near.geo.test', 'A', '175.16.199.0/24', [AP], 24],
      ['fast.geo.test', 'A', '175.16.199.1/32', [EU], 24],
      ['fast.geo.test', 'A', '67.43.156.1/32', [AP], 24],
    ];
    const check = (r: Reply, [name, type, ecs, addrs, scope]: (typeof clients)[number], round: number): void => {
      const what = `round ${round}: ${name} ${type} for ${ecs ?? 'no ECS'}`;
      assert.equal(r.rcode, NOERROR, what);
      assert.deepEqual(r.addrs, addrs, what);
      if (ecs === undefined) assert.equal(r.ecs, null, `${what}: no ECS`);
      else assertEcsEcho(r, ecs, scope!, what);
    };

    it('alternating clients, 30 rounds over UDP', async () => {
      for (let round = 0; round < 30; round++) {
        for (const c of clients) check(await ask(port, 'udp', c[0], c[1], { ecs: c[2] }), c, round);
      }
    });

    it('alternating clients, concurrently over UDP and pipelined over TCP', async () => {
      const rounds = 10;
      const udpAll = Promise.all(Array.from({ length: rounds }, (_, round) => Promise.all(clients.map(async (c) => check(await ask(port, 'udp', c[0], c[1], { ecs: c[2] }), c, round)))));
      const queries = Array.from({ length: rounds }, () => clients).flat();
      const tcpAll = askTcpPipelined(
        port,
        queries.map((c) => [c[0], c[1], { ecs: c[2] }]),
      ).then((rs) => rs.forEach((r, i) => check(r, queries[i]!, Math.floor(i / clients.length))));
      await Promise.all([udpAll, tcpAll]);
    });
  });
});

describe('policy reload', () => {
  it('a changed policy file answers at once after reload(true), even for cached answers', async () => {
    const t = tempCopy(ZONES);
    const server = await startTestServer(t.dir, CONFIG);
    try {
      const oldAnswers = async (): Promise<void> => {
        assertSteered(await ask(server.port, 'udp', 'geo.geo.test', 'A', { ecs: '81.2.69.142/32' }), [SA], 'cidr rule before');
        assertSteered(await ask(server.port, 'udp', 'geo.geo.test', 'A', { ecs: '1.1.0.0/16' }), [US], 'default before');
        assertSteered(await ask(server.port, 'tcp', 'geo.geo.test', 'A'), [US], 'no ECS before');
        assertSteered(await ask(server.port, 'udp', 'alias.geo.test', 'A', { ecs: '1.1.0.0/16' }), [US], 'alias before');
        assertSteered(await ask(server.port, 'udp', 'split.geo.test', 'A', { ecs: SPLIT_HEAVY }), [HEAVY], 'split before');
      };
      // Twice, so the second round comes from the answer cache.
      await oldAnswers();
      await oldAnswers();

      const file = path.join(t.dir, POLICY);
      const text = fs.readFileSync(file, 'utf8');
      const changed = text
        .replace('- cidrs: [81.2.69.128/25]\n              targets: [sa]', '- cidrs: [81.2.69.128/25]\n              targets: [ap]')
        .replace('default:\n            targets: [us]', 'default:\n            targets: [eu]')
        .replace('targets: [heavy, light]', 'targets: [light]');
      assert.notEqual(changed, text, 'the fixture has the lines this test edits');
      fs.writeFileSync(file, changed);
      assert.equal(server.reload(true), true, 'reload reports changed answers');

      const cidr = await ask(server.port, 'udp', 'geo.geo.test', 'A', { ecs: '81.2.69.142/32' });
      assertSteered(cidr, [AP], 'cidr rule after');
      assertEcsEcho(cidr, '81.2.69.142/32', 25, 'cidr rule after');
      assertSteered(await ask(server.port, 'udp', 'geo.geo.test', 'A', { ecs: '1.1.0.0/16' }), [EU], 'default after');
      assertSteered(await ask(server.port, 'tcp', 'geo.geo.test', 'A'), [EU], 'no ECS after');
      assertSteered(await ask(server.port, 'udp', 'alias.geo.test', 'A', { ecs: '1.1.0.0/16' }), [EU], 'alias after');
      const split = await ask(server.port, 'udp', 'split.geo.test', 'A', { ecs: SPLIT_HEAVY });
      assertSteered(split, [LIGHT], 'split after: one target left');
      assertEcsEcho(split, SPLIT_HEAVY, 0, 'split with a single target: scope 0');
    } finally {
      await server.close();
      t.remove();
    }
  });

  it('a bad policy file keeps the old answers; the error names file and line', async () => {
    const t = tempCopy(ZONES);
    const server = await startTestServer(t.dir, CONFIG);
    try {
      const file = path.join(t.dir, POLICY);
      const zoneFile = path.join(t.dir, 'geo.test.zone');
      assertSteered(await ask(server.port, 'udp', 'geo.geo.test', 'A', { ecs: '81.2.69.142/32' }), [SA], 'before');
      const text = fs.readFileSync(file, 'utf8');
      const lines = text.split('\n');
      const at = lines.findIndex((l) => l.includes('- cidrs: [81.2.69.128/25]')) + 1; // the targets line, 0-based
      assert.match(lines[at]!, /targets: \[sa\]/);
      lines[at] = lines[at]!.replace('[sa]', '[sa, nowhere]');
      fs.writeFileSync(file, lines.join('\n'));
      assert.equal(server.reload(true), false, 'nothing changed in the answers');

      for (const transport of TRANSPORTS) {
        assertSteered(await ask(server.port, transport, 'geo.geo.test', 'A', { ecs: '81.2.69.142/32' }), [SA], `old answer kept (${transport})`);
        assertSteered(await ask(server.port, transport, 'near.geo.test', 'A', { ecs: '81.2.69.142/32' }), [EU], `other names kept (${transport})`);
      }
      const status = server.zones.statuses.find((s) => s.file === zoneFile);
      assert.ok(status, JSON.stringify(server.zones.statuses.map((s) => s.file)));
      assert.ok(status.zone, 'the previous zone is still served');
      const problem = status.problems.find((p) => p.severity === 'error');
      assert.ok(problem, JSON.stringify(status.problems));
      assert.equal(problem.file, file);
      assert.equal(problem.line, at + 1, `line of the bad target: ${JSON.stringify(problem)}`);
      assert.match(problem.message, /nowhere/);

      // Fixed again: the new file serves.
      lines[at] = lines[at].replace('[sa, nowhere]', '[eu]');
      fs.writeFileSync(file, lines.join('\n'));
      assert.equal(server.reload(true), true);
      assertSteered(await ask(server.port, 'udp', 'geo.geo.test', 'A', { ecs: '81.2.69.142/32' }), [EU], 'after the fix');
      assert.equal(server.zones.statuses.find((s) => s.file === zoneFile)!.problems.filter((p) => p.severity === 'error').length, 0);
    } finally {
      await server.close();
      t.remove();
    }
  });
});

/**
 * An answer that depends on the client must never be claimed for a wider network than it
 * holds, or a resolver reuses it where the server would answer otherwise (RFC 7871 §7.2.1,
 * README "Where the client is"). Each case was a bug once.
 */
describe('ECS scope never claims more than the decision holds for', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(ZONES, CONFIG);
  });
  after(async () => {
    await server.close();
  });

  it('latency: an answer from a continent row must not claim a GeoIP network holding a more specific CIDR row', async () => {
    // 202.196.224.0/20 is one City record (PH, AS); 202.196.225.0/24 has its own latency row.
    const inside = await ask(server.port, 'udp', 'fast.geo.test', 'A', { ecs: '202.196.225.0/24' });
    assert.deepEqual(inside.addrs, [EU]);
    const beside = await ask(server.port, 'udp', 'fast.geo.test', 'A', { ecs: '202.196.224.0/24' });
    assert.deepEqual(beside.addrs, [AP]);
    // The AP answer holds for 202.196.224.0/24 only (it shares 23 bits with the CIDR row):
    // scope /20 would let a resolver answer AP to 202.196.225.x.
    assert.ok(beside.ecs!.scope >= 24, `scope /${beside.ecs!.scope} covers 202.196.225.0/24, which gets ${inside.addrs.join()}`);
  });

  it('latency with no row for the client must not answer scope 0', async () => {
    // US-WA has no row: all three answered. An EU client gets eu only: the answer depends on the client.
    const na = await ask(server.port, 'udp', 'fast.geo.test', 'A', { ecs: '216.160.83.56/29' });
    assert.deepEqual([...na.addrs].sort(), [EU, US, AP].sort());
    assert.deepEqual((await ask(server.port, 'udp', 'fast.geo.test', 'A', { ecs: '2.3.3.0/24' })).addrs, [EU]);
    assert.ok(na.ecs!.scope > 0, 'scope 0 tells resolvers the all-three answer holds for every client');
  });

  it('an IPv4-mapped IPv6 ECS (family 2) is not used: decided on the resolver address, claimed for that /128 only', async () => {
    // Located as IPv4, its scope would be counted in IPv4 bits inside an IPv6 option (::/25 would
    // hold every ::ffff:a.b.c.d client). Resolvers send IPv4 clients as family 1, so the server
    // treats a mapped subnet like a private one.
    const a = await ask(server.port, 'udp', 'geo.geo.test', 'A', { ecs: '::ffff:81.2.69.142/128' });
    const b = await ask(server.port, 'udp', 'geo.geo.test', 'A', { ecs: '::ffff:89.160.20.128/128' });
    const resolver = await ask(server.port, 'udp', 'geo.geo.test', 'A', {});
    assert.equal(a.ecs!.family, 2);
    assert.equal(a.ecs!.scope, 128);
    assert.equal(b.ecs!.scope, 128);
    assert.deepEqual(a.addrs, resolver.addrs);
    assert.deepEqual(b.addrs, resolver.addrs);
  });

  it('proximity with no client location must not answer scope 0', async () => {
    const unknown = await ask(server.port, 'udp', 'near.geo.test', 'A', { ecs: '1.1.1.0/24' });
    assert.deepEqual([...unknown.addrs].sort(), [EU, US, AP].sort());
    assert.deepEqual((await ask(server.port, 'udp', 'near.geo.test', 'A', { ecs: '81.2.69.142/31' })).addrs, [EU]);
    assert.ok(unknown.ecs!.scope > 0, 'scope 0 tells resolvers the all-three answer holds for every client');
  });
});
