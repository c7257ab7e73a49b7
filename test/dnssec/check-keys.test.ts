/**
 * Issue #16: `meridian check` reports each key problem as file:line with its stable code:
 * a missing private key, a key past Inactive (or going inactive) with no successor signing,
 * an unsupported or foreign algorithm, an unreadable file, duplicated key tags, private keys
 * other users can read, and parent DS records (--parent-ds) that match no signing key. Also
 * `dnssec keygen` and `settime` with the timing flags, and hostile key files.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { runCli } from '../support/process.js';
import { writeSignedServer } from '../support/signed-zone.js';
import { parseName } from '../../src/dns/name.js';
import { RRType } from '../../src/dns/constants.js';
import { ALGORITHMS, dsRdata, generateKey, readKey, readZoneKeys, type KeyTiming } from '../../src/dnssec/keys.js';
import { checkParentDs, checkZoneKeys, formatKeyProblem, readParentDs } from '../../src/dnssec/check.js';
import type { ZoneConfig } from '../../src/dnssec/load.js';
import { parseTimeFlag } from '../../src/cli/dnssec.js';
import { rdataToText } from '../../src/zone/rdata/index.js';

const origin = parseName('example.com.', null);
const DAY = 86_400;
const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-check-keys-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const zoneConfig = (keyDir: string, extra: Partial<ZoneConfig> = {}): ZoneConfig => ({ enabled: true, algorithm: 'ECDSAP256SHA256', keyDir, split: false, denial: 'compact', ...extra });
const now = Math.floor(Date.now() / 1000);
const key = (dir: string, timing: Partial<Omit<KeyTiming, 'created'>> = {}, created = now - 10 * DAY) => generateKey(origin, ALGORITHMS.ECDSAP256SHA256, dir, created, { timing });
const found = (dir: string): string[] => checkZoneKeys('example.com', zoneConfig(dir), now).problems.map(formatKeyProblem);

describe('meridian check: DNSSEC key problems', () => {
  it('a .key with no .private: GSLB_ERR_DNSSEC_KEY_NO_PRIVATE, naming the file', () => {
    const dir = tmp();
    key(dir);
    const lonely = key(dir);
    fs.rmSync(lonely.privateFile);
    assert.deepEqual(found(dir), [`${lonely.privateFile}:0: GSLB_ERR_DNSSEC_KEY_NO_PRIVATE: the private key file is missing: the key can be published but cannot sign`]);
  });

  it('a key past Inactive, or going inactive, with no successor: GSLB_ERR_DNSSEC_NO_SIGNING_KEY at its Inactive line', () => {
    const past = tmp();
    const gone = key(past, { inactive: now - DAY });
    const [problem] = found(past);
    assert.match(problem!, /: GSLB_ERR_DNSSEC_NO_SIGNING_KEY: example\.com\.: now none of its 1 key\(s\) is active/);
    const coming = tmp();
    const retiring = key(coming, { inactive: now + 3 * DAY, delete: now + 4 * DAY });
    const line =
      fs
        .readFileSync(retiring.privateFile, 'utf8')
        .split('\n')
        .findIndex((l) => l.startsWith('Inactive:')) + 1;
    assert.deepEqual(
      found(coming).map((p) => p.replace(/from \S+ \(\S+\)/, 'from T')),
      [
        `${retiring.privateFile}:${line}: GSLB_ERR_DNSSEC_NO_SIGNING_KEY: example.com.: from T key ${retiring.key.tag} stops signing (its Inactive) and no successor is active: answers go unsigned and validators find the zone bogus; make a successor first (README "DNSSEC", key rollover)`,
      ],
    );
    // With a successor active by then: nothing to say.
    key(coming, { publish: now + DAY, activate: now + 2 * DAY });
    assert.deepEqual(found(coming), []);
    assert.ok(gone);
  });

  it("an unsupported algorithm, the zone's other algorithm, an unreadable file, timing out of order, modes, duplicated tags", () => {
    const dir = tmp();
    const ok = key(dir, { publish: now - DAY, activate: now - 2 * DAY });
    fs.writeFileSync(path.join(dir, 'Kexample.com.+008+01234.key'), 'example.com. IN DNSKEY 257 3 8 AwEAAa==\n');
    generateKey(origin, ALGORITHMS.ED25519, dir);
    fs.mkdirSync(path.join(dir, 'Kexample.com.+013+00001.key'));
    fs.chmodSync(ok.privateFile, 0o640);
    const problems = found(dir).map((p) => p.replace(/\d{14} \(\S+\)/g, 'T'));
    assert.ok(
      problems.some((p) =>
        p.endsWith('Kexample.com.+008+01234.key:0: warning: GSLB_ERR_DNSSEC_KEY_ALGORITHM: never published nor used: algorithm 8 (algorithm 8) is not supported (ECDSAP256SHA256 = 13, ED25519 = 15)'),
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /\+015\+\d{5}\.key:0: warning: GSLB_ERR_DNSSEC_KEY_ALGORITHM: never published nor used: the zone signs with ECDSAP256SHA256/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.endsWith('Kexample.com.+013+00001.key:0: GSLB_ERR_DNSSEC_KEY_UNREADABLE: not a file')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => /\.private:\d+: warning: GSLB_ERR_DNSSEC_KEY_TIMING: Activate T is before Publish T/.test(p)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes(".private:0: warning: GSLB_ERR_DNSSEC_KEY_MODE: readable by the file's group (mode 640)")),
      problems.join('\n'),
    );
    fs.chmodSync(ok.privateFile, 0o644);
    assert.ok(found(dir).some((p) => p === `${ok.privateFile}:0: GSLB_ERR_DNSSEC_KEY_MODE: readable by every user (mode 644): serve refuses it; chmod 600 it`));
    // The same key under a file name in another case: one tag, two files.
    const dup = tmp();
    const k = key(dup);
    const upper = path.join(dup, path.basename(k.key.base).replace('example.com', 'EXAMPLE.com'));
    fs.copyFileSync(k.keyFile, `${upper}.key`);
    fs.copyFileSync(k.privateFile, `${upper}.private`);
    assert.ok(
      found(dup).some((p) => p.includes(`GSLB_ERR_DNSSEC_KEY_INVALID: key tag ${k.key.tag} is also`)),
      found(dup).join('\n'),
    );
    assert.throws(() => readZoneKeys(dup, origin, ALGORITHMS.ECDSAP256SHA256), /key tag \d+ is also/, 'serve refuses it too');
  });

  it('parent DS records: each must match a key, one a key that signs the DNSKEY RRset', () => {
    const dir = tmp();
    const active = key(dir);
    const coming = key(dir, { publish: now, activate: now + 5 * DAY });
    const z = checkZoneKeys('example.com', zoneConfig(dir), now).zone!;
    const ds = (k: typeof active): string => `example.com. 3600 IN DS ${rdataToText(RRType.DS, dsRdata(origin, k.key.dnskey))}`;
    const file = path.join(dir, 'parent-ds.txt');
    const check = (text: string): string[] => {
      fs.writeFileSync(file, text);
      const read = readParentDs(file);
      return [...read.problems, ...checkParentDs(read.records, [z], now)].map(formatKeyProblem);
    };
    assert.deepEqual(check(`; from dig\n${ds(active)}\n`), []);
    assert.deepEqual(check(`${ds(active)}\n${ds(coming)}\n`), [], 'a DS of a key not yet signing beside one that signs: fine (a rollover)');
    assert.deepEqual(check(`${ds(coming)}\n`), [
      `${file}:1: GSLB_ERR_DNSSEC_DS_MISMATCH: no DS of example.com. matches a key that signs its DNSKEY RRset now (${active.key.tag}): validators would find the zone bogus`,
    ]);
    const wrong = ds(active).replace(/[0-9A-F]{8}$/, '00000000');
    assert.deepEqual(check(`${ds(active)}\n${wrong}\n`), [
      `${file}:2: GSLB_ERR_DNSSEC_DS_MISMATCH: DS ${active.key.tag} 13 2 matches no key of example.com. (key ${active.key.tag}, ${path.basename(active.key.base)}, has that tag but another digest)`,
    ]);
    assert.deepEqual(check(`${ds(active)}\nother.example. IN DS 1 13 2 00\ngarbage here\n`), [
      `${file}:3: GSLB_ERR_DNSSEC_DS_MISMATCH: not a DS record (owner [TTL] [IN] DS key-tag algorithm digest-type digest)`,
      `${file}:2: GSLB_ERR_DNSSEC_DS_MISMATCH: other.example. is not signed here (dns.dnssec.zones): validators would find every answer bogus`,
    ]);
  });

  it('meridian check --parent-ds exits 1 with the file:line: CODE line, 0 when the DS matches', async () => {
    const d = tmp();
    const k = key(path.join(d, 'keys'));
    const config = writeSignedServer(
      d,
      { 'example.com.zone': '$ORIGIN example.com.\n$TTL 60\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 30\n  IN NS ns1\nns1 IN A 192.0.2.53\n' },
      '      example.com: { keyDir: keys }\n',
    ).config;
    const dsFile = path.join(d, 'ds.txt');
    fs.writeFileSync(dsFile, `example.com. IN DS ${rdataToText(RRType.DS, dsRdata(origin, k.key.dnskey))}\n`);
    const good = await runCli(['check', '--config', config, '--parent-ds', dsFile]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(
      good.stdout,
      new RegExp(`Kexample\\.com\\.\\+013\\+${String(k.key.tag).padStart(5, '0')}\\.key: example\\.com\\. key ${k.key.tag} \\(ECDSAP256SHA256, CSK\\): published, signing, CDS/CDNSKEY`),
    );
    fs.writeFileSync(dsFile, 'example.com. IN DS 1 13 2 0000\n');
    const bad = await runCli(['check', '--config', config, '--parent-ds', dsFile]);
    assert.equal(bad.code, 1);
    assert.ok(bad.stderr.includes(`${dsFile}:1: GSLB_ERR_DNSSEC_DS_MISMATCH: DS 1 13 2 matches no key of example.com.`), bad.stderr);
  });
});

describe('dnssec keygen and settime: timing flags', () => {
  it('reads times as BIND tools do', () => {
    assert.equal(parseTimeFlag('--publish', 'now', 1000), 1000);
    assert.equal(parseTimeFlag('--publish', '+1d', 1000), 1000 + DAY);
    assert.equal(parseTimeFlag('--publish', 'now+2h', 1000), 1000 + 7200);
    assert.equal(parseTimeFlag('--publish', '-30mi', 10_000), 10_000 - 1800);
    assert.equal(parseTimeFlag('--delete', 'none', 1000), null);
    assert.equal(parseTimeFlag('--delete', '20270101000000', 0), Date.UTC(2027, 0, 1) / 1000);
    assert.throws(() => parseTimeFlag('--delete', '20271301000000', 0), /--delete: "20271301000000" is not YYYYMMDDHHMMSS/);
    assert.throws(() => parseTimeFlag('--inactive', 'tomorrow', 0), /--inactive/);
  });

  it('keygen writes the timing fields and a ZSK; settime changes them and keeps the key and the file mode; bad flags exit 2', async () => {
    const d = tmp();
    const made = await runCli([
      'dnssec',
      'keygen',
      'example.com',
      '--key-dir',
      d,
      '--publish',
      '20270101000000',
      '--activate',
      '20270102000000',
      '--inactive',
      '+400d',
      '--sync-publish',
      '20270103000000',
      '--zsk',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const base = made.stdout.split('\n')[0]!.replace(/\.key$/, '');
    const k = readKey(base, origin);
    assert.equal(k.flags, 256, 'a ZSK');
    assert.equal(k.timing.publish, Date.UTC(2027, 0, 1) / 1000);
    assert.equal(k.timing.syncPublish, Date.UTC(2027, 0, 3) / 1000);
    assert.ok(!made.stdout.includes('IN DS'), 'no DS for a ZSK');
    assert.match(fs.readFileSync(`${base}.key`, 'utf8'), /^; This is a zone-signing key, keyid \d+, for example\.com\.\n; Created: \d{14} .*\n; Publish: 20270101000000 /);
    const set = await runCli(['dnssec', 'settime', `${base}.private`, '--inactive', '20280101000000', '--delete', '20280201000000', '--sync-publish', 'none']);
    assert.equal(set.code, 0, set.stderr);
    const after = readKey(base, origin);
    assert.deepEqual([after.timing.inactive, after.timing.delete, after.timing.syncPublish, after.timing.publish], [Date.UTC(2028, 0, 1) / 1000, Date.UTC(2028, 1, 1) / 1000, null, k.timing.publish]);
    assert.ok(after.dnskey.equals(k.dnskey));
    assert.equal(fs.statSync(`${base}.private`).mode & 0o777, 0o600);
    assert.match(fs.readFileSync(`${base}.key`, 'utf8'), /; Inactive: 20280101000000 .*\n; Delete: 20280201000000 .*\nexample\.com\. IN DNSKEY 256 3 13 /);
    const badTime = await runCli(['dnssec', 'keygen', 'example.com', '--key-dir', d, '--activate', 'soon']);
    assert.equal(badTime.code, 2);
    assert.match(badTime.stderr, /--activate: "soon" is not YYYYMMDDHHMMSS, now/);
    const badKey = await runCli(['dnssec', 'settime', path.join(d, 'not-a-key'), '--inactive', 'now']);
    assert.equal(badKey.code, 2);
  });

  it('hostile key files: huge, a symlink to a device, garbage, another zone; nothing read is echoed', () => {
    const dir = tmp();
    const k = key(dir);
    const base = k.key.base;
    const secret = /PrivateKey: (\S+)/.exec(fs.readFileSync(k.privateFile, 'utf8'))![1]!;
    const keyText = fs.readFileSync(k.keyFile, 'utf8');
    fs.writeFileSync(k.keyFile, keyText + `; ${'x'.repeat(70_000)}\n`);
    assert.throws(() => readKey(base, origin), /\.key: \d+ bytes is too large for a key file/);
    fs.writeFileSync(k.keyFile, keyText);
    const privateText = fs.readFileSync(k.privateFile, 'utf8');
    fs.rmSync(k.privateFile);
    fs.symlinkSync('/dev/zero', k.privateFile);
    assert.throws(() => readKey(base, origin), /\.private: not a file/);
    fs.rmSync(k.privateFile);
    fs.writeFileSync(k.privateFile, privateText.replace(/^Activate: .*$/m, `Activate: ${secret}`), { mode: 0o600 });
    assert.throws(
      () => readKey(base, origin),
      (err: Error) => /\.private:\d+: Activate is not a date/.test(err.message) && !err.message.includes(secret),
    );
    fs.writeFileSync(k.privateFile, privateText, { mode: 0o600 });
    fs.writeFileSync(k.keyFile, `${secret} is not a record\n`);
    assert.throws(
      () => readKey(base, origin),
      (err: Error) => err.message.endsWith('.key:1: not a DNSKEY record') && !err.message.includes(secret),
    );
    fs.writeFileSync(k.keyFile, keyText.replace(/^example\.com\./m, 'example.org.'));
    assert.throws(() => readKey(base, origin), /for example\.org\., not example\.com\./);
    // A copy under another tag's name.
    fs.writeFileSync(k.keyFile, keyText);
    fs.copyFileSync(k.keyFile, path.join(dir, 'Kexample.com.+013+00002.key'));
    fs.copyFileSync(k.privateFile, path.join(dir, 'Kexample.com.+013+00002.private'));
    assert.throws(() => readKey(path.join(dir, 'Kexample.com.+013+00002'), origin), /named for key tag 2 but holds key \d+/);
  });
});
