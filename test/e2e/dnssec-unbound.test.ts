/**
 * Issue #16: a real validator trusts what meridian signs. Unbound, with example.com's DS as
 * its trust anchor and a stub zone pointing at meridian, must validate (AD bit) static,
 * steered (per ECS subnet), wildcard, CNAME, NXDOMAIN and NODATA answers (compact denial), a
 * secure referral (DS in the parent's referral, an Ed25519-signed child served by a second
 * meridian on 127.x.y.z:53 that Unbound reaches through the glue) and an insecure one (NSEC
 * without DS), and must refuse them (SERVFAIL) when the zone's key is not the anchored one,
 * or a signature was altered on the way;
 * the same with `serve --workers 2`. delv validates the same answers straight from meridian.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dnsPacket from 'dns-packet';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildQuery, decode, rcodeOf, sendUdp, udp, type Decoded } from '../support/dns-client.js';
import { ecsOption } from '../support/ecs.js';
import { startUdpRelay } from '../support/dns-relay.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { servingPorts, startCli } from '../support/process.js';
import { ADDRESSES, GEO_POLICY, SUBNETS, writeSignedServer } from '../support/signed-zone.js';
import { findBinary, startUnbound, type RunningUnbound } from './helpers/unbound.js';
import { parseName } from '../../src/dns/name.js';
import { RRType } from '../../src/dns/constants.js';
import { ALGORITHMS, dsRdata, generateKey } from '../../src/dnssec/keys.js';
import { rdataToText } from '../../src/zone/rdata/index.js';

const missing = findBinary('unbound') === null ? 'unbound is not installed (Debian package unbound)' : false;

function parentZone(childAddress: string, childDs: string): string {
  return `$ORIGIN example.com.
$TTL 60
@        IN SOA ns1 hostmaster 1 7200 3600 1209600 30
         IN NS  ns1
         IN MX  10 mail
ns1      IN A   192.0.2.53
mail     IN A   192.0.2.25
info     IN TXT "hello" "signed"
alias    IN CNAME www
*.wild   IN A   192.0.2.99
a.b.ent  IN TXT "below an empty non-terminal"
deleg    IN NS  ns.deleg
deleg    IN DS  ${childDs}
ns.deleg IN A   ${childAddress}
insecure IN NS  ns.insecure
ns.insecure IN A ${childAddress}
`;
}

const childZone = (origin: string): string => `$ORIGIN ${origin}.
$TTL 60
@    IN SOA ns hostmaster 1 7200 3600 1209600 30
     IN NS  ns
ns   IN A   192.0.2.53
www  IN A   192.0.2.77
`;

const dsText = (zone: string, dnskey: Buffer): string => rdataToText(RRType.DS, dsRdata(parseName(`${zone}.`, null), dnskey));

let dir: string;
let parent: TestServer;
let child: TestServer | null = null;
let childSkip: string | false = false;
let unbound: RunningUnbound;
let misanchored: RunningUnbound;
/** delv trust-anchors files: the zone's DS, and another key's. */
let anchors: { right: string; wrong: string };
/** The parent's files and its DS, for a second parent served with --workers. */
let parentFiles: { zonesDir: string; config: string };
let parentDs: string;

/** A recursive query through `resolver`, DO set (RFC 6840 §5.7: AD is only set for a query with DO or AD). */
async function ask(resolver: RunningUnbound, name: string, type: string, subnet?: string): Promise<{ raw: Buffer; msg: Decoded; ad: boolean }> {
  const query = buildQuery(name, type, { edns: true, dnssecOk: true, recursionDesired: true, options: subnet ? [ecsOption(subnet)] : [] });
  const raw = await sendUdp(resolver.port, query, '127.0.0.1', 5000);
  return { raw, msg: decode(raw), ad: (raw[3]! & 0x20) !== 0 };
}

const data = (msg: Decoded, type: string): string[] => msg.answers.filter((a) => a.type === type).map((a) => (Array.isArray(a.data) ? a.data.map(String).join(' ') : String(a.data)));

describe('Unbound validates the answers meridian signs online', { skip: missing }, () => {
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-dnssec-'));
    const keyDir = path.join(dir, 'keys');
    const parentKey = generateKey(parseName('example.com.', null), ALGORITHMS.ECDSAP256SHA256, keyDir).key;
    const childKey = generateKey(parseName('deleg.example.com.', null), ALGORITHMS.ED25519, keyDir).key;
    // A key for the same zone that never signs: the anchor of a resolver that did not follow a key change.
    const otherDir = path.join(dir, 'other-keys');
    const otherKey = generateKey(parseName('example.com.', null), ALGORITHMS.ECDSAP256SHA256, otherDir).key;

    // The child, at a random loopback address on port 53 (glue has no port): Unbound follows the referral there.
    const childAddress = `127.${20 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    const c = writeSignedServer(
      path.join(dir, 'child'),
      { 'deleg.example.com.zone': childZone('deleg.example.com'), 'insecure.example.com.zone': childZone('insecure.example.com') },
      `      deleg.example.com: { algorithm: ED25519, keyDir: ${keyDir} }\n`,
    );
    try {
      child = await startTestServer(c.zonesDir, c.config, { listen: `${childAddress}:53` });
    } catch (err) {
      childSkip = `cannot serve the child zone on ${childAddress}:53: ${(err as Error).message}`;
    }
    const p = (parentFiles = writeSignedServer(
      path.join(dir, 'parent'),
      { 'example.com.zone': parentZone(childAddress, dsText('deleg.example.com', childKey.dnskey)), 'example.com.policy.yaml': GEO_POLICY },
      `      example.com: { keyDir: ${keyDir} }\n`,
    ));
    parentDs = dsText('example.com', parentKey.dnskey);
    parent = await startTestServer(p.zonesDir, p.config);
    const anchorFile = (name: string, ds: string): string => {
      const [tag, alg, digestType, digest] = ds.split(' ');
      const file = path.join(dir, name);
      fs.writeFileSync(file, `trust-anchors {\n  example.com. static-ds ${tag} ${alg} ${digestType} "${digest}";\n};\n`);
      return file;
    };
    anchors = { right: anchorFile('anchor.conf', dsText('example.com', parentKey.dnskey)), wrong: anchorFile('wrong-anchor.conf', dsText('example.com', otherKey.dnskey)) };
    const anchor = (ds: string): string => `  trust-anchor: "example.com. DS ${ds}"\n  val-log-level: 2\n`;
    unbound = await startUnbound({ zone: 'example.com', stubPort: parent.port, serverExtra: anchor(dsText('example.com', parentKey.dnskey)) });
    misanchored = await startUnbound({ zone: 'example.com', stubPort: parent.port, serverExtra: anchor(dsText('example.com', otherKey.dnskey)), readyRcode: 2 });
  });
  after(async () => {
    await unbound?.stop();
    await misanchored?.stop();
    await parent?.close();
    await child?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('validates static answers and the DNSKEY RRset', async () => {
    for (const [name, type, expected] of [
      ['mail.example.com', 'A', ['192.0.2.25']],
      ['info.example.com', 'TXT', ['hello signed']],
      ['example.com', 'MX', []],
      ['example.com', 'DNSKEY', []],
    ] as const) {
      const r = await ask(unbound, name, type);
      assert.equal(rcodeOf(r.raw), 0, `${name} ${type}\n${unbound.output()}`);
      assert.ok(r.ad, `${name} ${type}: AD bit\n${unbound.output()}`);
      if (expected.length > 0) assert.deepEqual(data(r.msg, type), expected);
      else assert.ok(r.msg.answers.some((a) => a.type === type));
    }
  });

  it('validates steered answers, each ECS subnet getting its own region', async () => {
    for (const [region, subnet] of Object.entries(SUBNETS)) {
      const r = await ask(unbound, 'www.example.com', 'A', subnet);
      assert.equal(rcodeOf(r.raw), 0, `${subnet}\n${unbound.output()}`);
      assert.ok(r.ad, `${subnet}: AD bit\n${unbound.output()}`);
      assert.deepEqual(data(r.msg, 'A'), [ADDRESSES[region as keyof typeof ADDRESSES]]);
    }
  });

  it('validates a wildcard expansion, a CNAME to a steered name, and a CNAME chain', async () => {
    const wild = await ask(unbound, 'x.y.wild.example.com', 'A');
    assert.ok(wild.ad, `wildcard: AD bit\n${unbound.output()}`);
    assert.deepEqual(data(wild.msg, 'A'), ['192.0.2.99']);
    const alias = await ask(unbound, 'alias.example.com', 'A', SUBNETS.ap);
    assert.ok(alias.ad, `CNAME: AD bit\n${unbound.output()}`);
    assert.deepEqual(data(alias.msg, 'A'), [ADDRESSES.ap]);
  });

  it('validates denial of existence: NXDOMAIN (compact, RFC 9824), NODATA, an empty non-terminal, NODATA at a wildcard', async () => {
    for (const [name, type] of [
      ['nope.example.com', 'A'],
      ['deeper.nope.example.com', 'TXT'],
      ['info.example.com', 'AAAA'],
      ['b.ent.example.com', 'A'],
      ['www.example.com', 'TXT'],
      ['example.com', 'A'],
      ['x.wild.example.com', 'TXT'],
    ] as const) {
      const r = await ask(unbound, name, type, SUBNETS.eu);
      assert.equal(rcodeOf(r.raw), 0, `${name} ${type}\n${unbound.output()}`);
      assert.equal(r.msg.answers.length, 0, `${name} ${type}`);
      assert.ok(r.ad, `${name} ${type}: AD bit\n${unbound.output()}`);
    }
  });

  it('follows a signed referral to a signed child (DS in the referral) and an unsigned one (no DS, proven)', async (t) => {
    if (childSkip) return t.skip(childSkip);
    const secure = await ask(unbound, 'www.deleg.example.com', 'A');
    assert.equal(rcodeOf(secure.raw), 0, unbound.output());
    assert.deepEqual(data(secure.msg, 'A'), ['192.0.2.77']);
    assert.ok(secure.ad, `secure child: AD bit\n${unbound.output()}`);
    const insecure = await ask(unbound, 'www.insecure.example.com', 'A');
    assert.equal(rcodeOf(insecure.raw), 0, `an insecure delegation is not bogus\n${unbound.output()}`);
    assert.deepEqual(data(insecure.msg, 'A'), ['192.0.2.77']);
    assert.equal(insecure.ad, false, 'an unsigned child is insecure, not secure');
  });

  it('fails validation (SERVFAIL) when the zone is signed with a key the resolver does not trust', async () => {
    for (const [name, type] of [
      ['mail.example.com', 'A'],
      ['www.example.com', 'A'],
      ['nope.example.com', 'A'],
    ] as const) {
      const r = await ask(misanchored, name, type, SUBNETS.us);
      assert.equal(rcodeOf(r.raw), 2, `${name} ${type} must be bogus`);
    }
  });

  it('sends no DNSSEC records to a query without DO, and answers DNSKEY to it', async () => {
    const plain = await udp(parent.port, 'nope.example.com', 'A', { edns: true });
    assert.equal(rcodeOf(plain.raw), 3, 'NXDOMAIN stays NXDOMAIN without DO');
    assert.ok(!plain.msg.authorities.some((a) => a.type === 'RRSIG' || a.type === 'NSEC'));
    const keys = await udp(parent.port, 'example.com', 'DNSKEY', { edns: true });
    assert.equal(keys.msg.answers.filter((a) => a.type === 'DNSKEY').length, 1);
    assert.ok(!keys.msg.answers.some((a) => a.type === 'RRSIG'));
  });

  const delvMissing = findBinary('delv') === null || findBinary('kdig') === null ? 'delv or kdig is not installed (Debian bind9-dnsutils, knot-dnsutils)' : false;
  it('delv validates the same answers straight from meridian, and kdig +dnssec sees their RRSIGs', { skip: delvMissing }, async () => {
    // Asynchronously: meridian answers from this process.
    const run = async (bin: string, args: string[]): Promise<string> => {
      try {
        const r = await promisify(execFile)(findBinary(bin)!, args, { encoding: 'utf8', timeout: 20_000 });
        return `${r.stdout}${r.stderr}`;
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        return `${e.stdout ?? ''}${e.stderr ?? ''}`;
      }
    };
    const delv = (anchor: string, name: string, type: string): Promise<string> => run('delv', ['@127.0.0.1', '-p', String(parent.port), '-a', anchor, '+root=example.com', name, type]);
    for (const [name, type, expected] of [
      ['mail.example.com', 'A', /; fully validated\nmail\.example\.com\.\s+60\s+IN\s+A\s+192\.0\.2\.25/],
      ['www.example.com', 'A', /; fully validated\nwww\.example\.com\.\s+30\s+IN\s+A\s+192\.0\.2\.2\b/],
      ['x.y.wild.example.com', 'A', /; fully validated\nx\.y\.wild\.example\.com\.\s+\d+\s+IN\s+A\s+192\.0\.2\.99/],
      ['nope.example.com', 'A', /; negative response, fully validated/],
      ['info.example.com', 'AAAA', /; negative response, fully validated/],
    ] as const) {
      assert.match(await delv(anchors.right, name, type), expected, `${name} ${type}`);
      assert.doesNotMatch(await delv(anchors.wrong, name, type), /fully validated/, `${name} ${type} with another key's anchor`);
      const k = await run('kdig', ['@127.0.0.1', '-p', String(parent.port), '+dnssec', '+norec', name, type]);
      assert.match(k, new RegExp(`IN\\s+RRSIG\\s+(${type}|SOA) 13 `), `kdig: ${name} ${type}`);
    }
  });

  it('validates answers from serve --workers 2: each worker signs with the same key', async () => {
    const served = await startCli(
      ['serve', '--workers', '2', '--config', parentFiles.config, '--zones', parentFiles.zonesDir, '--listen', '127.0.0.1:0', '--admin', 'off', '--log-level', 'info'],
      (out) => out.includes('meridian is serving'),
      60_000,
    );
    let resolver: RunningUnbound | null = null;
    try {
      resolver = await startUnbound({ zone: 'example.com', stubPort: servingPorts(served.output()).dns, serverExtra: `  trust-anchor: "example.com. DS ${parentDs}"\n` });
      // Unbound asks from changing source ports: the kernel spreads the queries over both workers.
      for (let i = 0; i < 12; i++) {
        const [region, subnet] = Object.entries(SUBNETS)[i % 3]!;
        const r = await ask(resolver, i % 4 === 3 ? `n${i}.nope.example.com` : 'www.example.com', 'A', subnet);
        assert.equal(rcodeOf(r.raw), 0, `query ${i}\n${resolver.output()}`);
        assert.ok(r.ad, `query ${i}: AD bit\n${resolver.output()}`);
        if (i % 4 !== 3) assert.deepEqual(data(r.msg, 'A'), [ADDRESSES[region as keyof typeof ADDRESSES]]);
      }
    } finally {
      await resolver?.stop();
      await served.stop();
    }
  });

  it('fails validation of an answer whose signature was altered on the way, and of that answer only', async () => {
    // A UDP relay between Unbound and meridian that flips one bit of the RRSIG over mail.example.com's A RRset.
    const relay = await startUdpRelay(parent.port, (reply) => {
      const msg = dnsPacket.decode(reply);
      const rrsig = msg.answers?.find((a) => a.type === 'RRSIG' && a.name.toLowerCase() === 'mail.example.com');
      if (rrsig === undefined) return reply;
      const { signature } = (rrsig as unknown as { data: { signature: Buffer } }).data;
      signature.writeUInt8(signature.readUInt8(10) ^ 0x01, 10);
      return dnsPacket.encode(msg);
    });
    let resolver: RunningUnbound | null = null;
    try {
      resolver = await startUnbound({ zone: 'example.com', stubPort: relay.port, serverExtra: `  trust-anchor: "example.com. DS ${parentDs}"\n` });
      const tampered = await ask(resolver, 'mail.example.com', 'A');
      assert.equal(rcodeOf(tampered.raw), 2, `a flipped signature bit is bogus\n${resolver.output()}`);
      const intact = await ask(resolver, 'info.example.com', 'TXT');
      assert.equal(rcodeOf(intact.raw), 0);
      assert.ok(intact.ad, 'the other answers still validate');
    } finally {
      await resolver?.stop();
      relay.close();
    }
  });
});
