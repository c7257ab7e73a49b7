/**
 * Issue #16, NSEC white lies (`denial: nsec`, RFC 4470) and the apex's keys in ANY. Unbound,
 * with example.com's DS as its trust anchor and a stub zone pointing at meridian, must validate
 * (AD) NXDOMAIN (rcode 3, with NSECs covering just the next closer name and the wildcard),
 * NODATA, empty non-terminal, wildcard, wildcard NODATA, CNAME-to-nowhere and no-DS answers, and
 * refuse (SERVFAIL) an NXDOMAIN whose NSEC signature was altered on the way. Asked straight,
 * over real sockets, meridian's NSECs never name a real name but the one asked (or its
 * ancestors), never span one, and following their next names from the apex finds none; delv
 * validates the edge cases (labels ending in \000, 63-octet labels, the wrap at the apex). ANY
 * at the apex over TCP lists the DNSKEY RRset with its RRSIG, and Unbound validates it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildQuery, decode, rcodeOf, sendTcp, sendUdp, tcp, udp } from '../support/dns-client.js';
import { startUdpRelay } from '../support/dns-relay.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { GEO_POLICY, writeSignedServer } from '../support/signed-zone.js';
import { findBinary, startUnbound, type RunningUnbound } from './helpers/unbound.js';
import { type Name, nameToText, nameToWire, parseName, readWireName } from '../../src/dns/name.js';
import { RRType } from '../../src/dns/constants.js';
import { ALGORITHMS, dsRdata, generateKey } from '../../src/dnssec/keys.js';
import { rdataToText } from '../../src/zone/rdata/index.js';

const missing = findBinary('unbound') === null ? 'unbound is not installed (Debian package unbound)' : false;

const ZONE = `$ORIGIN example.com.
$TTL 60
@        IN SOA ns1 hostmaster 1 7200 3600 1209600 30
         IN NS  ns1
         IN MX  10 mail
ns1      IN A   192.0.2.53
mail     IN A   192.0.2.25
info     IN TXT "hello"
dangling IN CNAME gone
*.wild   IN A   192.0.2.99
a.b.ent  IN TXT "below an empty non-terminal"
insecure IN NS  ns.insecure
ns.insecure IN A 192.0.2.54
a\\255\\001 IN TXT "an octet \\255 inside a label"
c.yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy IN TXT "below a full label"
`;
const name = (text: string): Name => parseName(`${text}.`, null);
/** The zone's names (with its empty non-terminals and the steered www); none may be spanned by an NSEC. */
const AUTHORITATIVE = [
  'example.com',
  'ns1',
  'mail',
  'info',
  'dangling',
  '*.wild',
  'wild',
  'a.b.ent',
  'b.ent',
  'ent',
  'insecure',
  'www',
  'a\xff\x01',
  'c.yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy',
  'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy',
].map((n) => (n === 'example.com' ? name(n) : name(`${n}.example.com`)));
/** And the glue below the cut: no NSEC may name it either. */
const REAL = [...AUTHORITATIVE, name('ns.insecure.example.com')];

/** RFC 4034 §6.1 canonical order: label by label from the right, lower-cased octets. */
function canonical(a: Name, b: Name): number {
  for (let i = 1; i <= Math.min(a.length, b.length); i++) {
    const x = a[a.length - i]!.toLowerCase();
    const y = b[b.length - i]!.toLowerCase();
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}
const same = (a: Name, b: Name): boolean => canonical(a, b) === 0;
const isAncestor = (a: Name, of: Name): boolean => a.length <= of.length && same(a, of.slice(of.length - a.length));

interface Nsec {
  readonly owner: Name;
  readonly next: Name;
  readonly types: number[];
}

/** Asks meridian `qname` (any octets) with DO=1 and reads the NSECs of the reply straight from the wire (names with \0 or \255 octets included). */
async function nsecsFor(port: number, qname: Name, qtype: number): Promise<{ rcode: number; nsecs: Nsec[] }> {
  const header = Buffer.from([Math.random() * 256, Math.random() * 256, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
  const question = Buffer.concat([nameToWire(qname), Buffer.from([qtype >> 8, qtype & 0xff, 0, 1])]);
  const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
  const query = Buffer.concat([header, question, opt]);
  let raw = await sendUdp(port, query);
  // Truncated (long names make long NSEC owners): over TCP, as a resolver would.
  if ((raw[2]! & 0x02) !== 0) raw = (await sendTcp(port, [query]))[0]!;
  let at = readWireName(raw, 12).next + 4;
  const nsecs: Nsec[] = [];
  const records = raw.readUInt16BE(6) + raw.readUInt16BE(8) + raw.readUInt16BE(10);
  for (let i = 0; i < records; i++) {
    const owner = readWireName(raw, at);
    const type = raw.readUInt16BE(owner.next);
    const length = raw.readUInt16BE(owner.next + 8);
    const rdata = owner.next + 10;
    if (type === RRType.NSEC) {
      const next = readWireName(raw, rdata);
      const types: number[] = [];
      for (let w = next.next; w < rdata + length; w += 2 + raw[w + 1]!) {
        for (let b = 0; b < raw[w + 1]! * 8; b++) if ((raw[w + 2 + (b >> 3)]! & (0x80 >> (b & 7))) !== 0) types.push(raw[w]! * 256 + b);
      }
      nsecs.push({ owner: owner.name, next: next.name, types });
    }
    at = rdata + length;
  }
  return { rcode: rcodeOf(raw), nsecs };
}

const show = (n: Nsec): string => `${nameToText(n.owner)} NSEC ${nameToText(n.next)} ${n.types.join(' ')}`;

let dir: string;
let server: TestServer;
let unbound: RunningUnbound;
let ds: string;

/** A recursive query through `resolver`, DO set (RFC 6840 §5.7: AD is only set for a query with DO or AD). */
async function ask(resolver: RunningUnbound, qname: string, type: string): Promise<{ rcode: number; ad: boolean; answers: string[] }> {
  const raw = await sendUdp(resolver.port, buildQuery(qname, type, { edns: true, dnssecOk: true, recursionDesired: true }), '127.0.0.1', 5000);
  return { rcode: rcodeOf(raw), ad: (raw[3]! & 0x20) !== 0, answers: decode(raw).answers.map((a) => a.type) };
}

describe('NSEC white lies (denial: nsec), validated by Unbound and never walkable', { skip: missing }, () => {
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-nsec-'));
    const keyDir = path.join(dir, 'keys');
    const key = generateKey(name('example.com'), ALGORITHMS.ECDSAP256SHA256, keyDir).key;
    ds = rdataToText(RRType.DS, dsRdata(name('example.com'), key.dnskey));
    const files = writeSignedServer(dir, { 'example.com.zone': ZONE, 'example.com.policy.yaml': GEO_POLICY }, `      example.com: { keyDir: ${keyDir}, denial: nsec }\n`);
    server = await startTestServer(files.zonesDir, files.config);
    unbound = await startUnbound({ zone: 'example.com', stubPort: server.port, serverExtra: `  trust-anchor: "example.com. DS ${ds}"\n  val-log-level: 2\n` });
  });
  after(async () => {
    await unbound?.stop();
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers NXDOMAIN with an NSEC covering just the next closer name and one covering just the wildcard', async () => {
    for (const [qname, nextCloser, encloser] of [
      ['nope.example.com', 'nope.example.com', 'example.com'],
      ['deeper.nope.example.com', 'nope.example.com', 'example.com'],
      ['x.b.ent.example.com', 'x.b.ent.example.com', 'b.ent.example.com'],
    ] as const) {
      const r = await nsecsFor(server.port, name(qname), RRType.A);
      assert.equal(r.rcode, 3, `${qname}: NXDOMAIN stays NXDOMAIN with DO (no compact denial)`);
      assert.equal(r.nsecs.length, 2, `${qname}: ${r.nsecs.map(show).join('; ')}`);
      for (const [nsec, covered] of [
        [r.nsecs[0]!, name(nextCloser)],
        [r.nsecs[1]!, name(`*.${encloser}`)],
      ] as const) {
        assert.ok(canonical(nsec.owner, covered) < 0 && canonical(covered, nsec.next) < 0, `${show(nsec)} covers ${nameToText(covered)}`);
        assert.deepEqual(nsec.types.sort(), [RRType.RRSIG, RRType.NSEC].sort(), `${show(nsec)}: no NXNAME, no real type`);
      }
    }
  });

  it('validates NXDOMAIN, NODATA, empty non-terminal, wildcard, wildcard NODATA, CNAME to nowhere and no-DS answers (AD)', async () => {
    for (const [qname, type, rcode, answer] of [
      ['nope.example.com', 'A', 3, null],
      ['deeper.nope.example.com', 'TXT', 3, null],
      ['x.b.ent.example.com', 'A', 3, null],
      ['dangling.example.com', 'A', 3, 'CNAME'],
      ['info.example.com', 'AAAA', 0, null],
      ['example.com', 'A', 0, null],
      ['www.example.com', 'TXT', 0, null],
      ['b.ent.example.com', 'A', 0, null],
      ['ent.example.com', 'TXT', 0, null],
      ['x.y.wild.example.com', 'A', 0, 'A'],
      ['x.wild.example.com', 'TXT', 0, null],
      ['insecure.example.com', 'DS', 0, null],
    ] as const) {
      const r = await ask(unbound, qname, type);
      assert.equal(r.rcode, rcode, `${qname} ${type}\n${unbound.output()}`);
      assert.ok(r.ad, `${qname} ${type}: AD bit\n${unbound.output()}`);
      assert.equal(r.answers.includes(answer ?? 'none'), answer !== null, `${qname} ${type}: ${r.answers.join(' ')}`);
    }
  });

  it('fails validation (SERVFAIL) of an NXDOMAIN whose NSEC signature was altered on the way', async () => {
    // Flips the last octet of every RRSIG over an NSEC (type covered 47, found by its RDATA's first two octets after the owner's TTL and length).
    const relay = await startUdpRelay(server.port, (reply) => {
      const out = Buffer.from(reply);
      let at = readWireName(out, 12).next + 4;
      const records = out.readUInt16BE(6) + out.readUInt16BE(8) + out.readUInt16BE(10);
      for (let i = 0; i < records; i++) {
        const owner = readWireName(out, at).next;
        const length = out.readUInt16BE(owner + 8);
        if (out.readUInt16BE(owner) === RRType.RRSIG && out.readUInt16BE(owner + 10) === RRType.NSEC) out[owner + 10 + length - 1]! ^= 0x01;
        at = owner + 10 + length;
      }
      return out;
    });
    let resolver: RunningUnbound | null = null;
    try {
      resolver = await startUnbound({ zone: 'example.com', stubPort: relay.port, serverExtra: `  trust-anchor: "example.com. DS ${ds}"\n` });
      assert.equal((await ask(resolver, 'tampered.example.com', 'A')).rcode, 2, `an altered NSEC signature is bogus\n${resolver.output()}`);
      const intact = await ask(resolver, 'mail.example.com', 'A');
      assert.ok(intact.rcode === 0 && intact.ad, 'an answer without NSEC still validates');
    } finally {
      await resolver?.stop();
      relay.close();
    }
  });

  it('never names or spans a real name but the one asked (or its ancestors), edge octets included', async () => {
    const asked: Name[] = [];
    for (const text of ['a', 'm', 'mail0', 'mailz', 'n', 'nr1', 'ns0', 'ns2', 'zzz', 'zz.b.ent', 'a.ent', 'c.ent', 'x.wild', 'ENT2', 'insecurf', 'x.insecure', 'ns.insecure'])
      asked.push(name(`${text}.example.com`));
    // Labels that end in \0 or are 63 octets long take the other paths of the predecessor and successor.
    for (const label of ['\0', 'mail\0', 'ent\0', 'insecure\0', 'wild\0', 'b\0', 'z'.repeat(63), '\xff'.repeat(63), 'm'.repeat(62) + '\xff', 'b', 'a\xff\x02', 'y'.repeat(62) + 'z'])
      for (const under of [[], ['b', 'ent']]) asked.push([label, ...under, 'example', 'com']);
    // 255-octet names: no room for a \0 or a \255 more (RFC 4470 §2 changes their last octet instead)
    asked.push(['q'.repeat(63), 'q'.repeat(63), 'q'.repeat(63), 'q'.repeat(49), 'example', 'com'], ['q'.repeat(63), 'q'.repeat(63), 'q'.repeat(63), 'q'.repeat(48) + '\0', 'example', 'com']);
    for (const qname of asked) {
      for (const qtype of [RRType.A, RRType.TXT]) {
        const r = await nsecsFor(server.port, qname, qtype);
        assert.ok(r.nsecs.length > 0, nameToText(qname));
        for (const nsec of r.nsecs) {
          for (const real of REAL) {
            for (const n of [nsec.owner, nsec.next]) {
              // The owner may be the name asked less its trailing \0 octet (the asker named it, and it then carries its own
              // types), or the wildcard that answered it (a wildcard NODATA proof is the NSEC at the wildcard, RFC 4035 §3.1.3.4).
              const named =
                same(n, qname) || isAncestor(n, qname) || (n[0] === '*' && isAncestor(n.slice(1), qname)) || (qname[0]!.endsWith('\0') && same(n, [qname[0]!.slice(0, -1), ...qname.slice(1)]));
              assert.ok(!same(n, real) || named, `${nameToText(qname)}: ${show(nsec)} names ${nameToText(real)}`);
            }
          }
          // Wrapping at the apex (next name the apex) spans the end of the zone, past every name.
          const wraps = same(nsec.next, name('example.com'));
          for (const real of AUTHORITATIVE) {
            const spanned = canonical(nsec.owner, real) < 0 && (wraps || canonical(real, nsec.next) < 0);
            assert.ok(!spanned, `${nameToText(qname)}: ${show(nsec)} denies ${nameToText(real)}, which exists`);
          }
        }
      }
    }
  });

  it('following NSEC next names from the apex finds nothing real', async () => {
    let at = name('example.com');
    const seen: string[] = [];
    for (let step = 0; step < 24; step++) {
      const r = await nsecsFor(server.port, at, RRType.TXT);
      // The NSEC that matches or covers the name asked (not the wildcard's) leads on, as a walker goes.
      const own = r.nsecs.find((n) => canonical(n.owner, at) <= 0 && canonical(at, n.next) < 0);
      assert.ok(own !== undefined, `${nameToText(at)}: ${r.nsecs.map(show).join('; ')}`);
      for (const n of r.nsecs.flatMap((x) => [x.owner, x.next])) {
        const real = REAL.find((x) => same(x, n));
        assert.ok(real === undefined || same(real, name('example.com')), `step ${step}: ${nameToText(at)} led to ${nameToText(n)}`);
      }
      seen.push(nameToText(own.next));
      at = own.next;
    }
    assert.equal(new Set(seen).size, seen.length, `each step is a new name: ${seen.join(' ')}`);
  });

  const delvMissing = findBinary('delv') === null ? 'delv is not installed (Debian bind9-dnsutils)' : false;
  it('delv validates the edge cases straight from meridian: labels ending in \\000, full labels, \\255 octets, the wrap at the apex', { skip: delvMissing }, async () => {
    const anchor = path.join(dir, 'anchor.conf');
    const [tag, alg, digestType, digest] = ds.split(' ');
    fs.writeFileSync(anchor, `trust-anchors {\n  example.com. static-ds ${tag} ${alg} ${digestType} "${digest}";\n};\n`);
    const full = '\\255'.repeat(63);
    for (const [qname, type, expected] of [
      [`${full}.example.com`, 'A', /negative response, fully validated/],
      [`${full}.b.ent.example.com`, 'A', /negative response, fully validated/],
      [`${'z'.repeat(63)}.example.com`, 'A', /negative response, fully validated/],
      ['\\000.example.com', 'A', /negative response, fully validated/],
      ['ent\\000.example.com', 'A', /negative response, fully validated/],
      ['mail\\000.example.com', 'A', /negative response, fully validated/],
      ['insecure\\000.example.com', 'A', /negative response, fully validated/],
      ['\\000.wild.example.com', 'A', /; fully validated\n.*IN\s+A\s+192\.0\.2\.99/],
      ['*\\000.wild.example.com', 'A', /; fully validated\n.*IN\s+A\s+192\.0\.2\.99/],
      ['example.com', 'ANY', /; fully validated\n(.*\n)*example\.com\.\s+\d+\s+IN\s+DNSKEY\s+257 3 13/],
    ] as const) {
      const out = await new Promise<string>((resolve) =>
        execFile(findBinary('delv')!, ['@127.0.0.1', '-p', String(server.port), '-a', anchor, '+root=example.com', '+tcp', qname, type], { timeout: 20_000 }, (_err, stdout, stderr) =>
          resolve(`${stdout}${stderr}`),
        ),
      );
      assert.match(out, expected, `${qname} ${type}`);
    }
  });

  it('lists the DNSKEY RRset with its RRSIG in ANY at the apex over TCP (UDP stays minimal), and Unbound validates it', async () => {
    const full = await tcp(server.port, 'example.com', 'ANY', { edns: true, dnssecOk: true });
    const types = full.msg.answers.map((a) => a.type);
    for (const t of ['SOA', 'NS', 'MX', 'DNSKEY']) assert.ok(types.includes(t), `ANY over TCP lists ${t}: ${types.join(' ')}`);
    const covered = full.msg.answers.filter((a) => a.type === 'RRSIG').map((a) => (a.data as { typeCovered: string }).typeCovered);
    assert.deepEqual(covered.sort(), types.filter((t) => t !== 'RRSIG').sort(), 'every RRset of ANY signed, DNSKEY by the key');
    const plain = await tcp(server.port, 'example.com', 'ANY', { edns: true });
    assert.deepEqual(plain.msg.answers.map((a) => a.type).sort(), types.filter((t) => t !== 'RRSIG').sort(), 'without DO: the same RRsets, unsigned');
    const minimal = await udp(server.port, 'example.com', 'ANY', { edns: true, dnssecOk: true });
    assert.equal(minimal.msg.answers.filter((a) => a.type !== 'RRSIG').length, 1, 'RFC 8482 over UDP: one RRset');

    let resolver: RunningUnbound | null = null;
    try {
      // Upstream over TCP: Unbound gets the whole ANY answer and validates each RRset.
      resolver = await startUnbound({ zone: 'example.com', stubPort: server.port, serverExtra: `  trust-anchor: "example.com. DS ${ds}"\n  tcp-upstream: yes\n` });
      const r = await ask(resolver, 'example.com', 'ANY');
      assert.equal(r.rcode, 0, resolver.output());
      assert.ok(r.ad, `ANY: AD bit\n${resolver.output()}`);
      assert.ok(r.answers.includes('DNSKEY') && r.answers.includes('MX'), r.answers.join(' '));
    } finally {
      await resolver?.stop();
    }
  });
});
