/**
 * Issue #16: BIND key files, key tags, DS digests and signatures, checked against the
 * published examples of RFC 6605 (ECDSA P-256) and RFC 8080 (Ed25519, whose signatures are
 * deterministic, so the RRSIG must match byte for byte).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, it } from 'node:test';
import { RRType } from '../../src/dns/constants.js';
import { parseName } from '../../src/dns/name.js';
import { ALGORITHMS, dsRdata, generateKey, isActive, isPublished, keyTag, readKey, readZoneKeys, KeyFileError } from '../../src/dnssec/keys.js';
import { canonicalRRset, rrsigRdata } from '../../src/dnssec/sign.js';
import { encodeRdataText, rdataToText } from '../../src/zone/rdata/index.js';
import { findBinary } from '../e2e/helpers/unbound.js';

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-keys-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function writeKey(dir: string, base: string, keyLine: string, privateText: string): string {
  fs.writeFileSync(path.join(dir, `${base}.key`), `; a comment line\n${keyLine}\n`);
  fs.writeFileSync(path.join(dir, `${base}.private`), privateText, { mode: 0o600 });
  return path.join(dir, base);
}

const RFC6605 = {
  zone: parseName('example.net.', null),
  key: 'example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==',
  private: 'Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=\n',
  tag: 55648,
  ds: '55648 13 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17',
};
const RFC8080 = {
  zone: parseName('example.com.', null),
  key: 'example.com. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=',
  private: 'Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=\n',
  tag: 3613,
  ds: '3613 15 2 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b',
  // RFC 8080 §6.1: example.com. 3600 IN MX 10 mail.example.com. and its RRSIG.
  rrsig: 'oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==',
};

describe('DNSSEC key files (BIND format)', () => {
  it('reads the RFC 6605 P-256 key: key tag, DS digest, private key matching the public one', () => {
    const dir = tmp();
    const key = readKey(writeKey(dir, 'Kexample.net.+013+55648', RFC6605.key, RFC6605.private), RFC6605.zone);
    assert.equal(key.tag, RFC6605.tag);
    assert.equal(keyTag(key.dnskey), RFC6605.tag);
    assert.deepEqual(dsRdata(RFC6605.zone, key.dnskey), encodeRdataText(RRType.DS, RFC6605.ds, null));
    // r||s, 64 octets, and it verifies with the public key of the DNSKEY.
    const rdata = rrsigRdata(key, RRType.A, 2, 3600, { inception: 1000, expiration: 2000 }, canonicalRRset(RFC6605.zone, RRType.A, 1, 3600, [Buffer.from([192, 0, 2, 1])]));
    const signerLen = 13;
    const sig = rdata.subarray(18 + signerLen);
    assert.equal(sig.length, 64);
    const pub = crypto.createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: key.dnskey.subarray(4, 36).toString('base64url'), y: key.dnskey.subarray(36).toString('base64url') }, format: 'jwk' });
    const data = Buffer.concat([rdata.subarray(0, 18 + signerLen), canonicalRRset(RFC6605.zone, RRType.A, 1, 3600, [Buffer.from([192, 0, 2, 1])])]);
    assert.ok(crypto.verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig));
  });

  it('reads a P-256 key whose scalar BIND wrote without its leading zero octet (1 key in 256)', () => {
    // A key pair whose d starts with 0x00, as dnssec-keygen writes it: 31 octets.
    let jwk: crypto.JsonWebKey;
    do jwk = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    while (Buffer.from(jwk.d!, 'base64url')[0] !== 0);
    const d = Buffer.from(jwk.d!, 'base64url').subarray(1);
    const publicKey = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    const dnskey = Buffer.concat([Buffer.from([0x01, 0x01, 3, 13]), publicKey]);
    const tag = keyTag(dnskey);
    const dir = tmp();
    const base = writeKey(
      dir,
      `Kexample.net.+013+${String(tag).padStart(5, '0')}`,
      `example.net. 3600 IN DNSKEY 257 3 13 ${publicKey.toString('base64')}`,
      `Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: ${d.toString('base64')}\n`,
    );
    const key = readKey(base, RFC6605.zone);
    const rrset = canonicalRRset(RFC6605.zone, RRType.A, 1, 3600, [Buffer.from([192, 0, 2, 1])]);
    const rdata = rrsigRdata(key, RRType.A, 2, 3600, { inception: 1000, expiration: 2000 }, rrset);
    const pub = crypto.createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! }, format: 'jwk' });
    assert.ok(crypto.verify('sha256', Buffer.concat([rdata.subarray(0, 18 + 13), rrset]), { key: pub, dsaEncoding: 'ieee-p1363' }, rdata.subarray(18 + 13)));
  });

  it('reads the RFC 8080 Ed25519 key and signs its MX example byte for byte', () => {
    const dir = tmp();
    const key = readKey(writeKey(dir, 'Kexample.com.+015+03613', RFC8080.key, RFC8080.private), RFC8080.zone);
    assert.equal(key.tag, RFC8080.tag);
    assert.deepEqual(dsRdata(RFC8080.zone, key.dnskey), encodeRdataText(RRType.DS, RFC8080.ds, null));
    const mx = encodeRdataText(RRType.MX, '10 mail.example.com.', null);
    const rdata = rrsigRdata(key, RRType.MX, 2, 3600, { inception: 1438207200, expiration: 1440021600 }, canonicalRRset(RFC8080.zone, RRType.MX, 1, 3600, [mx]));
    assert.equal(rdata.subarray(18 + 13).toString('base64'), RFC8080.rrsig);
  });

  it('keygen writes files BIND names, the .private one 0600, that read back; never overwrites', () => {
    const dir = tmp();
    for (const alg of [ALGORITHMS.ECDSAP256SHA256, ALGORITHMS.ED25519]) {
      const made = generateKey(parseName('Example.COM.', null), alg, dir);
      assert.match(path.basename(made.keyFile), new RegExp(`^Kexample\\.com\\.\\+0${alg}\\+\\d{5}\\.key$`));
      assert.equal(fs.statSync(made.privateFile).mode & 0o777, 0o600);
      const back = readKey(made.key.base, parseName('example.com.', null));
      assert.equal(back.tag, made.key.tag);
      assert.equal(back.flags, 257);
      assert.deepEqual(back.dnskey, made.key.dnskey);
      assert.equal(back.timing.activate, made.key.timing.activate);
    }
    assert.equal(readZoneKeys(dir, parseName('example.com.', null), ALGORITHMS.ED25519).length, 1);
  });

  it('says which keys are published and which sign, from their timing fields and the REVOKE flag', () => {
    const dir = tmp();
    const zone = parseName('example.com.', null);
    const key = generateKey(zone, ALGORITHMS.ECDSAP256SHA256, dir, 1_000_000).key;
    const t = (timing: Partial<typeof key.timing>, flags = key.flags): typeof key => ({ ...key, flags, timing: { ...key.timing, ...timing } });
    assert.deepEqual([isPublished(key, 1_000_000), isActive(key, 1_000_000)], [true, true]);
    assert.deepEqual([isPublished(key, 999_999), isActive(key, 999_999)], [false, false], 'before Publish');
    const successor = t({ publish: 1_000_000, activate: 2_000_000 });
    assert.deepEqual([isPublished(successor, 1_500_000), isActive(successor, 1_500_000)], [true, false], 'pre-published, not yet active');
    const retiring = t({ inactive: 2_000_000, delete: 3_000_000 });
    assert.deepEqual([isPublished(retiring, 2_500_000), isActive(retiring, 2_500_000)], [true, false], 'inactive, still published');
    assert.deepEqual([isPublished(retiring, 3_000_000), isActive(retiring, 3_000_000)], [false, false], 'deleted');
    assert.deepEqual([isPublished(t({}, 257 | 128), 1_000_000), isActive(t({}, 257 | 128), 1_000_000)], [true, false], 'revoked');
    assert.equal(readZoneKeys(dir, parseName('example.org.', null), ALGORITHMS.ED25519).length, 0);
  });

  it('refuses broken key files with the file and the reason, and no key material in the message', () => {
    const dir = tmp();
    const zone = RFC6605.zone;
    const secret = 'GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=';
    const cases: [string, string, RegExp][] = [
      [RFC6605.key, RFC6605.private.replace(secret, 'AAAA'.repeat(11)), /PrivateKey is 33 octets; ECDSAP256SHA256 needs 32/],
      // short, as BIND writes a scalar with leading zeros, but not this key's
      [RFC6605.key, RFC6605.private.replace(secret, 'AAAB'), /does not belong to the public key/],
      [RFC6605.key, RFC6605.private.replace('Algorithm: 13', 'Algorithm: 15'), /:2: the Algorithm field differs from 13/],
      [RFC6605.key, RFC6605.private.replace(/Private-key-format.*\n/, ''), /Private-key-format/],
      [RFC6605.key, RFC8080.private.replace('15 (ED25519)', '13 (ECDSAP256SHA256)'), /does not belong to the public key/],
      [RFC6605.key.replace('example.net.', 'example.org.'), RFC6605.private, /for example\.org\., not example\.net\./],
      [RFC6605.key.replace(' 13 Goj', ' 8 Goj'), RFC6605.private, /algorithm 8 is not supported/],
      [RFC6605.key.replace('257', '1'), RFC6605.private, /not a zone key/],
      ['garbage', RFC6605.private, /not a DNSKEY record/],
    ];
    for (const [keyLine, priv, expected] of cases) {
      const base = writeKey(dir, 'Kexample.net.+013+55648', keyLine, priv);
      assert.throws(
        () => readKey(base, zone),
        (err: Error) => {
          assert.ok(err instanceof KeyFileError, err.message);
          assert.match(err.message, expected);
          assert.ok(!err.message.includes(secret.slice(0, 12)), 'no key material');
          return true;
        },
      );
    }
    assert.throws(() => readKey(path.join(dir, 'Knope.+013+00001'), zone), /Knope\.\+013\+00001\.key: cannot read: ENOENT/);
  });

  const bindTools = findBinary('dnssec-keygen') !== null && findBinary('dnssec-dsfromkey') !== null ? false : 'dnssec-keygen is not installed (Debian package bind9-utils)';
  it('loads keys dnssec-keygen made, and dnssec-dsfromkey gives the DS we compute, for its keys and ours', { skip: bindTools }, () => {
    const dir = tmp();
    const zone = parseName('example.com.', null);
    for (const [alg, extra] of [
      ['ECDSAP256SHA256', ['-f', 'KSK']],
      ['ED25519', []],
    ] as const) {
      const r = spawnSync(findBinary('dnssec-keygen')!, ['-q', '-K', dir, '-a', alg, ...extra, 'example.com'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    generateKey(zone, ALGORITHMS.ECDSAP256SHA256, dir);
    const keys = [...readZoneKeys(dir, zone, ALGORITHMS.ECDSAP256SHA256), ...readZoneKeys(dir, zone, ALGORITHMS.ED25519)];
    assert.equal(keys.length, 3);
    for (const key of keys) {
      const r = spawnSync(findBinary('dnssec-dsfromkey')!, ['-2', `${key.base}.key`], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const theirs = r.stdout
        .trim()
        .replace(/^\S+\s+IN\s+DS\s+/, '')
        .toUpperCase();
      assert.equal(rdataToText(RRType.DS, dsRdata(zone, key.dnskey)).toUpperCase(), theirs);
    }
  });

  const settime = findBinary('dnssec-keygen') !== null && findBinary('dnssec-settime') !== null ? false : 'dnssec-keygen is not installed (Debian package bind9-utils)';
  it('reads the timing dnssec-keygen writes (-P -A -I -D, -P sync, -D sync), and dnssec-settime reads the timing meridian writes', { skip: settime }, () => {
    const dir = tmp();
    const zone = parseName('example.com.', null);
    const r = spawnSync(
      findBinary('dnssec-keygen')!,
      [
        '-q',
        '-K',
        dir,
        '-a',
        'ECDSAP256SHA256',
        '-f',
        'KSK',
        '-P',
        '20270101000000',
        '-A',
        '20270102000000',
        '-I',
        '20270301000000',
        '-D',
        '20270401000000',
        '-P',
        'sync',
        '20270103000000',
        '-D',
        'sync',
        '20270302000000',
        'example.com',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const [theirs] = readZoneKeys(dir, zone, ALGORITHMS.ECDSAP256SHA256);
    const at = (y: number, m: number, d: number): number => Date.UTC(y, m - 1, d) / 1000;
    assert.deepEqual(
      { ...theirs!.timing, created: null },
      { created: null, publish: at(2027, 1, 1), activate: at(2027, 1, 2), inactive: at(2027, 3, 1), delete: at(2027, 4, 1), syncPublish: at(2027, 1, 3), syncDelete: at(2027, 3, 2) },
    );
    const ours = generateKey(zone, ALGORITHMS.ED25519, dir, at(2027, 1, 1), { timing: { inactive: at(2027, 6, 1), delete: at(2027, 7, 1), syncPublish: at(2027, 1, 5) } });
    // It prints local time: UTC here.
    const p = spawnSync(findBinary('dnssec-settime')!, ['-p', 'all', ours.key.base], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, /^Inactive: Tue Jun {2}1 00:00:00 2027$/m);
    assert.match(p.stdout, /^Delete: Thu Jul {2}1 00:00:00 2027$/m);
    assert.match(p.stdout, /^SYNC Publish: Tue Jan {2}5 00:00:00 2027$/m);
  });
});
