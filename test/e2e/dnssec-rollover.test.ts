/**
 * Issue #16: a CSK rollover run over simulated days, step by step as README "DNSSEC" (key
 * rollover) tells an operator, never leaves a moment where a validating resolver fails.
 *
 * meridian serves example.com (the parent, its key Unbound's trust anchor) and
 * roll.example.com (the child whose key rolls) over real sockets; Unbound follows the chain
 * parent DS → child DNSKEY → answer. The server runs in this process with its signer's clock
 * injected (StartOptions.clock, which no config or flag can set): each step moves it to just
 * after a timing event. The simulated days lie in the past (they end before the real now), so
 * the signatures made at each simulated instant are valid by Unbound's real clock too: their
 * inception is behind it and their expiry (14 days on) ahead. Each step is checked at once,
 * with Unbound's caches warm from the step before (the dangerous moment), and again after
 * the TTLs (2 s here, days in production) ran out.
 *
 * split.example.com is signed with a KSK/ZSK split (item 5): the KSK alone signs the DNSKEY
 * RRset, the ZSK the rest, and Unbound validates it through the parent's DS of the KSK.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildQuery, decode, rcodeOf, sendUdp, udp, type Decoded } from '../support/dns-client.js';
import { runCli } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { writeSignedServer } from '../support/signed-zone.js';
import { findBinary, startUnbound, type RunningUnbound } from './helpers/unbound.js';
import { parseName } from '../../src/dns/name.js';
import { RRType } from '../../src/dns/constants.js';
import { ALGORITHMS, dsRdata, generateKey, keyTag, readZoneKeys, timeText, type SigningKey } from '../../src/dnssec/keys.js';
import { rdataToText } from '../../src/zone/rdata/index.js';

const missing = findBinary('unbound') === null ? 'unbound is not installed (Debian package unbound)' : false;
const DAY = 86_400;
/** The zones' TTL (records, DNSKEY, DS, negative answers): how long Unbound keeps what it saw. */
const TTL = 2;

const dsOf = (zone: string, key: SigningKey): string => `${zone}. IN DS ${rdataToText(RRType.DS, dsRdata(parseName(`${zone}.`, null), key.dnskey))}`;

function parentZone(serial: number, ds: string[]): string {
  return `$ORIGIN example.com.
$TTL ${TTL}
@        IN SOA ns1 hostmaster ${serial} 7200 3600 1209600 ${TTL}
         IN NS  ns1
ns1      IN A   192.0.2.53
roll     IN NS  ns1.roll
split    IN NS  ns1.split
${ds.map((d) => d.replace(/^(\S+)\.example\.com\. /, '$1 ')).join('\n')}
`;
}

const childZone = (origin: string): string => `$ORIGIN ${origin}.
$TTL ${TTL}
@    IN SOA ns1 hostmaster 1 7200 3600 1209600 ${TTL}
     IN NS  ns1
ns1  IN A   192.0.2.53
www  IN A   192.0.2.80
`;

/** What the resolver must validate at every step: a positive answer, the key set, a denial. */
const QUESTIONS = [
  ['www.roll.example.com', 'A'],
  ['roll.example.com', 'DNSKEY'],
  ['nope.roll.example.com', 'A'],
  ['www.roll.example.com', 'TXT'],
] as const;

let dir: string;
let keyDir: string;
let zonesDir: string;
let server: TestServer;
let unbound: RunningUnbound;
/** The simulated clock (ms) the server's signer reads. */
let simMs = 0;
let start = 0;
let parentKey: SigningKey;
let oldKey: SigningKey;
let kskKey: SigningKey;
let zskKey: SigningKey;
let serial = 1;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function ask(name: string, type: string): Promise<{ raw: Buffer; msg: Decoded; ad: boolean }> {
  const raw = await sendUdp(unbound.port, buildQuery(name, type, { edns: true, dnssecOk: true, recursionDesired: true }), '127.0.0.1', 5000);
  return { raw, msg: decode(raw), ad: (raw[3]! & 0x20) !== 0 };
}

/** Every question validates (NOERROR, AD) through Unbound. */
async function validates(step: string): Promise<void> {
  for (const [name, type] of QUESTIONS) {
    const r = await ask(name, type);
    assert.equal(rcodeOf(r.raw), 0, `${step}: ${name} ${type} must not be bogus\n${unbound.output().slice(-3000)}`);
    assert.ok(r.ad, `${step}: ${name} ${type}: AD bit\n${unbound.output().slice(-3000)}`);
  }
}

/** Straight from meridian: the DNSKEY tags published, the tags signing an A RRset, the CDS tags offered. */
async function keysServed(zone: string): Promise<{ published: number[]; signing: number[]; keySigning: number[]; cds: number[] }> {
  const opts = { edns: true, dnssecOk: true };
  const keys = await udp(server.port, zone, 'DNSKEY', opts);
  const www = await udp(server.port, `www.${zone}`, 'A', opts);
  const cds = await udp(server.port, zone, 'CDS', opts);
  const tags = (msg: Decoded, type: string): number[] =>
    msg.answers
      .filter((a) => a.type === 'RRSIG' && a.data.typeCovered === type)
      .map((a) => a.data.keyTag as number)
      .sort();
  const published = keys.msg.answers
    .filter((a) => a.type === 'DNSKEY')
    .map((a) => keyTag(Buffer.concat([Buffer.from([a.data.flags >> 8, a.data.flags & 0xff, 3, a.data.algorithm]), a.data.key as Buffer])));
  return {
    published: published.sort(),
    signing: tags(www.msg, 'A'),
    keySigning: tags(keys.msg, 'DNSKEY'),
    cds: cds.msg.answers
      .filter((a) => a.type === 'CDS')
      .map((a) => (Buffer.isBuffer(a.data) ? a.data.readUInt16BE(0) : (a.data.keyTag as number)))
      .sort(),
  };
}

/** The simulated clock to `day` days (and an hour) after the start: just past the event of that day. */
function at(day: number): void {
  simMs = (start + day * DAY + 3600) * 1000;
}

function writeParent(ds: string[]): void {
  serial++;
  fs.writeFileSync(path.join(zonesDir, 'example.com.zone'), parentZone(serial, ds));
  server.reload(true);
}

const sorted = (...tags: number[]): number[] => [...tags].sort();

describe('a CSK rollover over simulated days never breaks validation (Unbound, real sockets)', { skip: missing }, () => {
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-rollover-'));
    keyDir = path.join(dir, 'keys');
    const realNow = Math.floor(Date.now() / 1000);
    // Ten simulated days, all in the past: signatures made then are valid now (see above).
    start = realNow - 10 * DAY;
    simMs = start * 1000;
    const longAgo = start - 30 * DAY;
    parentKey = generateKey(parseName('example.com.', null), ALGORITHMS.ECDSAP256SHA256, keyDir, longAgo).key;
    oldKey = generateKey(parseName('roll.example.com.', null), ALGORITHMS.ECDSAP256SHA256, keyDir, longAgo).key;
    kskKey = generateKey(parseName('split.example.com.', null), ALGORITHMS.ED25519, keyDir, longAgo).key;
    zskKey = generateKey(parseName('split.example.com.', null), ALGORITHMS.ED25519, keyDir, longAgo, { zsk: true }).key;
    const files = writeSignedServer(
      dir,
      {
        'example.com.zone': parentZone(serial, [dsOf('roll.example.com', oldKey), dsOf('split.example.com', kskKey)]),
        'roll.example.com.zone': childZone('roll.example.com'),
        'split.example.com.zone': childZone('split.example.com'),
      },
      `      example.com: { keyDir: ${keyDir} }\n      roll.example.com: { keyDir: ${keyDir} }\n      split.example.com: { algorithm: ED25519, keyDir: ${keyDir}, split: true }\n`,
    );
    zonesDir = files.zonesDir;
    server = await startTestServer(files.zonesDir, files.config, { clock: () => simMs });
    const parentDs = rdataToText(RRType.DS, dsRdata(parseName('example.com.', null), parentKey.dnskey));
    unbound = await startUnbound({ zone: 'example.com', stubPort: server.port, serverExtra: `  trust-anchor: "example.com. DS ${parentDs}"\n  val-log-level: 2\n` });
  });
  after(async () => {
    await unbound?.stop();
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('validates at each step: pre-publish, both keys, the parent DS changed, new key only, old key removed', async () => {
    at(0);
    await validates('before the rollover');
    assert.deepEqual(await keysServed('roll.example.com'), { published: [oldKey.tag], signing: [oldKey.tag], keySigning: [oldKey.tag], cds: [oldKey.tag] });

    // Day 0, as README "DNSSEC" says: a successor published on day 1, signing from day 2, offered to the parent from day 3;
    // the old key stops being offered on day 3, stops signing on day 5 and leaves on day 6. Then SIGHUP (here: reloadKeys).
    const t = (day: number): string => timeText(start + day * DAY);
    const made = await runCli(['dnssec', 'keygen', 'roll.example.com', '--key-dir', keyDir, '--publish', t(1), '--activate', t(2), '--sync-publish', t(3)]);
    assert.equal(made.code, 0, made.stderr);
    const set = await runCli(['dnssec', 'settime', oldKey.base, '--sync-delete', t(3), '--inactive', t(5), '--delete', t(6)]);
    assert.equal(set.code, 0, set.stderr);
    const newKey = readZoneKeys(keyDir, parseName('roll.example.com.', null), ALGORITHMS.ECDSAP256SHA256).find((k) => k.tag !== oldKey.tag)!;
    assert.deepEqual(server.reloadKeys(), ['roll.example.com.']);
    await validates('day 0, the successor made, not yet published');

    at(1);
    await validates('day 1, pre-publish (warm caches)');
    assert.deepEqual(await keysServed('roll.example.com'), { published: sorted(oldKey.tag, newKey.tag), signing: [oldKey.tag], keySigning: [oldKey.tag], cds: [oldKey.tag] });
    await sleep((TTL + 1) * 1000);
    await validates('day 1, pre-publish');

    at(2);
    await validates('day 2, both keys sign (warm caches)');
    assert.deepEqual(await keysServed('roll.example.com'), {
      published: sorted(oldKey.tag, newKey.tag),
      signing: sorted(oldKey.tag, newKey.tag),
      keySigning: sorted(oldKey.tag, newKey.tag),
      cds: [oldKey.tag],
    });
    await sleep((TTL + 1) * 1000);
    await validates('day 2, both keys sign');

    at(3);
    // CDS now names the new key only: the parent (an RFC 8078 one, or the operator at the registrar) replaces the DS.
    assert.deepEqual((await keysServed('roll.example.com')).cds, [newKey.tag]);
    await validates('day 3, CDS changed, the parent DS not yet');
    writeParent([dsOf('roll.example.com', newKey), dsOf('split.example.com', kskKey)]);
    await validates('day 3, the parent DS replaced (warm caches: the old DS still cached)');
    await sleep((TTL + 1) * 1000);
    await validates('day 3, the parent DS replaced');

    at(5);
    await validates('day 5, the new key alone signs (warm caches)');
    assert.deepEqual(await keysServed('roll.example.com'), { published: sorted(oldKey.tag, newKey.tag), signing: [newKey.tag], keySigning: [newKey.tag], cds: [newKey.tag] });
    await sleep((TTL + 1) * 1000);
    await validates('day 5, the new key alone signs');

    at(6);
    await validates('day 6, the old key removed (warm caches)');
    assert.deepEqual(await keysServed('roll.example.com'), { published: [newKey.tag], signing: [newKey.tag], keySigning: [newKey.tag], cds: [newKey.tag] });
    await sleep((TTL + 1) * 1000);
    await validates('day 6, the old key removed');

    // The test has teeth: a parent DS naming the removed key makes the zone bogus.
    writeParent([dsOf('roll.example.com', oldKey), dsOf('split.example.com', kskKey)]);
    await sleep((TTL + 1) * 1000);
    const bogus = await ask('www.roll.example.com', 'A');
    assert.equal(rcodeOf(bogus.raw), 2, 'a DS of the removed key: SERVFAIL');
  });

  it('validates a KSK/ZSK split zone: the KSK signs the DNSKEY RRset only, the ZSK the rest', async () => {
    at(7);
    for (const [name, type] of [
      ['www.split.example.com', 'A'],
      ['split.example.com', 'DNSKEY'],
      ['nope.split.example.com', 'A'],
    ] as const) {
      const r = await ask(name, type);
      assert.equal(rcodeOf(r.raw), 0, `${name} ${type}\n${unbound.output().slice(-3000)}`);
      assert.ok(r.ad, `${name} ${type}: AD bit\n${unbound.output().slice(-3000)}`);
    }
    const served = await keysServed('split.example.com');
    assert.deepEqual(served, { published: sorted(kskKey.tag, zskKey.tag), signing: [zskKey.tag], keySigning: [kskKey.tag], cds: [kskKey.tag] });
  });
});
