/**
 * Issue #16, second slice: which keys publish, sign and are offered as CDS at an instant (a
 * table over a CSK rollover and a KSK/ZSK split); a signed answer is built afresh at the keys'
 * next timing event with no reload; keys read afresh on SIGHUP or when a key file changes
 * (the folder watch) replace the served ones, and every cached answer signed with the old set
 * goes; a broken key file keeps the old keys serving and the log names the file and the
 * reason, never the key material.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { buildQuery, decode, rcodeOf, udp } from '../support/dns-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { servingPorts, startCli } from '../support/process.js';
import { writeSignedServer } from '../support/signed-zone.js';
import { loadConfig } from '../../src/config/load-config.js';
import { parseName } from '../../src/dns/name.js';
import { ALGORITHMS, generateKey, type KeyTiming, type SigningKey } from '../../src/dnssec/keys.js';
import { loadSigner } from '../../src/dnssec/load.js';
import { KeyReloader } from '../../src/dnssec/reload.js';
import { keysAt, type ZoneKeys } from '../../src/dnssec/signer.js';
import { Responder } from '../../src/answer/responder.js';
import { SnapshotBuilder } from '../../src/control/snapshot-builder.js';
import { ZoneDirectory } from '../../src/control/zone-directory.js';
import type { ClientLocator } from '../../src/snapshot/snapshot.js';

const ZONE = `$ORIGIN example.com.
$TTL 60
@     IN SOA ns1 hostmaster 1 7200 3600 1209600 30
      IN NS  ns1
ns1   IN A   192.0.2.53
mail  IN A   192.0.2.25
`;
const origin = parseName('example.com.', null);
const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-key-timing-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('which keys publish, sign and are offered at time T', () => {
  it('follows a CSK rollover and a KSK/ZSK split, field by field', () => {
    const dir = tmp();
    const key = (timing: Partial<Omit<KeyTiming, 'created'>>, zsk = false): SigningKey => generateKey(origin, ALGORITHMS.ED25519, dir, 0, { timing, zsk }).key;
    // old: a CSK since 0, offered until 300, signing until 500, gone at 600. next: published 100, signing 200, offered from 300.
    const old = key({ publish: 0, activate: 0, syncDelete: 300, inactive: 500, delete: 600 });
    const next = key({ publish: 100, activate: 200, syncPublish: 300 });
    const csk: ZoneKeys = { origin, keys: [old, next], split: false };
    const o = old.tag;
    const n = next.tag;
    const table: [number, number[], number[], number[], number][] = [
      // T, published, signing, CDS, next event
      [50, [o], [o], [o], 100],
      [100, [o, n], [o], [o], 200],
      [199, [o, n], [o], [o], 200],
      [200, [o, n], [o, n], [o], 300],
      [300, [o, n], [o, n], [n], 500],
      [500, [o, n], [n], [n], 600],
      [600, [n], [n], [n], Infinity],
    ];
    for (const [t, published, signing, cds, until] of table) {
      const s = keysAt(csk, t);
      const tags = (keys: readonly SigningKey[]): number[] => keys.map((k) => k.tag).sort();
      assert.deepEqual([tags(s.published), tags(s.active), tags(s.synced), s.until], [published.sort(), signing.sort(), cds.sort(), until], `T=${t}`);
      assert.deepEqual([tags(s.keySigners), tags(s.zoneSigners)], [signing.sort(), signing.sort()], `T=${t}: a CSK signs everything`);
    }
    const ksk = key({ publish: 0, activate: 0 });
    const zsk = key({ publish: 0, activate: 100, inactive: 300 }, true);
    const split: ZoneKeys = { origin, keys: [ksk, zsk], split: true };
    for (const [t, keySigners, zoneSigners] of [
      [50, [ksk.tag], [ksk.tag]], // no ZSK active yet: the KSK signs the rest too
      [100, [ksk.tag], [zsk.tag]],
      [300, [ksk.tag], [ksk.tag]],
    ] as const) {
      const s = keysAt(split, t);
      assert.deepEqual([s.keySigners.map((k) => k.tag), s.zoneSigners.map((k) => k.tag), s.synced.map((k) => k.tag)], [keySigners, zoneSigners, [ksk.tag]], `split T=${t}`);
    }
    assert.deepEqual(
      keysAt({ origin, keys: [ksk, zsk], split: false }, 100)
        .zoneSigners.map((k) => k.tag)
        .sort(),
      [ksk.tag, zsk.tag].sort(),
      'without split every active key signs',
    );
  });

  it('signs a cached answer afresh at the next timing event, with no reload', () => {
    const d = tmp();
    const start = Math.floor(Date.now() / 1000);
    const keyDir = path.join(d, 'keys');
    const old = generateKey(origin, ALGORITHMS.ED25519, keyDir, start - 86_400, { timing: { inactive: start + 3600, syncDelete: start + 1000 } }).key;
    const next = generateKey(origin, ALGORITHMS.ED25519, keyDir, start - 86_400, { timing: { activate: start + 1800, syncPublish: start + 1800 } }).key;
    const config = loadConfig(
      writeSignedServer(d, { 'example.com.zone': ZONE }, '      example.com: { algorithm: ED25519, keyDir: keys }\n').config,
      { zonesDir: path.join(d, 'zones'), logLevel: 'silent' },
      {},
    );
    let now = start * 1000;
    const signer = loadSigner(config.dns, { now: () => now })!;
    const loaded = new ZoneDirectory(path.join(d, 'zones')).load(true);
    const locate: ClientLocator = (address, family, sourcePrefix, fromEcs) => ({ address, family, sourcePrefix, fromEcs, geo: { found: false } as never });
    const responder = new Responder(SnapshotBuilder.offline(locate).store(1, { zones: loaded.zones }), { udpPayloadSize: 1232, cacheMaxEntries: 1000, dnssec: signer });
    const signers = (name: string, type: string, dnssecOk = true): number[] => {
      const out = responder.respond(buildQuery(name, type, { id: 7, edns: true, dnssecOk }), 'udp', '127.0.0.1')!;
      assert.equal(rcodeOf(out), 0);
      const msg = decode(out);
      return dnssecOk
        ? msg.answers
            .filter((a) => a.type === 'RRSIG')
            .map((a) => a.data.keyTag as number)
            .sort()
        : [msg.answers.filter((a) => a.type === type).length];
    };
    assert.deepEqual(signers('mail.example.com', 'A'), [old.tag]);
    assert.deepEqual(signers('example.com', 'DNSKEY', false), [2], 'both published');
    assert.deepEqual(signers('example.com', 'CDS', false), [1], 'the old key offered, without DO too');
    now += 1799_000;
    assert.deepEqual(signers('mail.example.com', 'A'), [old.tag], 'before the event: the cached answer');
    assert.deepEqual(signers('example.com', 'CDS', false), [0], 'SyncDelete passed: no key offered (NODATA)');
    now += 2000;
    assert.deepEqual(signers('mail.example.com', 'A'), [old.tag, next.tag].sort(), 'Activate passed: both sign');
    assert.deepEqual(signers('example.com', 'CDS', false), [1], 'SyncPublish passed: the cached NODATA without DO is not served');
    now += 1800_000;
    assert.deepEqual(signers('mail.example.com', 'A'), [next.tag], 'Inactive passed: the new key alone');
    assert.equal(signer.nextEventMs(), Infinity);
  });
});

/** A pino logger whose lines land in `lines`. */
function capture(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

async function until(what: string, ok: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`not in ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('keys reloaded without a restart (real sockets)', () => {
  let d: string;
  let server: TestServer;
  let logged: ReturnType<typeof capture>;
  let first: SigningKey;
  const keyDir = (): string => path.join(d, 'keys');
  const dnskeys = async (): Promise<number> => (await udp(server.port, 'example.com', 'DNSKEY', { edns: true, dnssecOk: true })).msg.answers.filter((a) => a.type === 'DNSKEY').length;
  const rrsigTags = async (): Promise<number[]> =>
    (await udp(server.port, 'mail.example.com', 'A', { edns: true, dnssecOk: true })).msg.answers
      .filter((a) => a.type === 'RRSIG')
      .map((a) => a.data.keyTag as number)
      .sort();

  before(async () => {
    d = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-key-reload-'));
    first = generateKey(origin, ALGORITHMS.ECDSAP256SHA256, path.join(d, 'keys')).key;
    const files = writeSignedServer(d, { 'example.com.zone': ZONE }, '      example.com: { keyDir: keys }\n');
    logged = capture();
    server = await startTestServer(files.zonesDir, files.config, { log: logged.log });
  });
  after(async () => {
    await server?.close();
    if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('SIGHUP (reloadKeys) puts a new key in, and no cached answer signed by the old set is served', async () => {
    assert.equal(await dnskeys(), 1);
    assert.deepEqual(await rrsigTags(), [first.tag]);
    // Written while the watch is on: the reload below may find the watch did it already.
    const second = generateKey(origin, ALGORITHMS.ECDSAP256SHA256, keyDir()).key;
    server.reloadKeys();
    assert.equal(await dnskeys(), 2, 'the DNSKEY answer cached before is not served');
    assert.deepEqual(await rrsigTags(), [first.tag, second.tag].sort(), 'the signed answer cached before is not served');
    assert.deepEqual(server.reloadKeys(), [], 'the same files again: nothing changed');
    fs.rmSync(`${second.base}.key`);
    fs.rmSync(`${second.base}.private`);
    server.reloadKeys();
    assert.equal(await dnskeys(), 1);
  });

  it('the key folder watch picks a new key up by itself', async () => {
    const third = generateKey(origin, ALGORITHMS.ECDSAP256SHA256, keyDir()).key;
    await until('the watch reloads the keys', async () => (await dnskeys()) === 2);
    assert.deepEqual(await rrsigTags(), [first.tag, third.tag].sort());
    fs.rmSync(`${third.base}.key`);
    fs.rmSync(`${third.base}.private`);
    await until('the watch drops the removed key', async () => (await dnskeys()) === 1);
  });

  it('a broken key file keeps the old keys serving; the log names the file and the reason, not the key', async () => {
    const bad = generateKey(origin, ALGORITHMS.ECDSAP256SHA256, keyDir()).key;
    const privateFile = `${bad.base}.private`;
    const text = fs.readFileSync(privateFile, 'utf8');
    const secret = /PrivateKey: (\S+)/.exec(text)![1]!;
    // Another key's private half: the files do not match.
    const other = generateKey(origin, ALGORITHMS.ECDSAP256SHA256, tmp()).key;
    fs.writeFileSync(privateFile, fs.readFileSync(`${other.base}.private`, 'utf8'));
    server.reloadKeys();
    assert.equal(await dnskeys(), 1, 'the old keys serve');
    assert.deepEqual(await rrsigTags(), [first.tag]);
    const line = logged.lines
      .map((l) => JSON.parse(l) as { msg: string; file?: string; reason?: string })
      .reverse()
      .find((l) => l.msg.startsWith('DNSSEC keys not reloaded'));
    assert.ok(line, logged.lines.join('\n'));
    assert.equal(line.file, privateFile);
    assert.match(line.reason!, /does not belong to the public key/);
    for (const l of logged.lines) {
      assert.ok(!l.includes(secret), 'no private key material in the log');
      assert.ok(!l.includes(/PrivateKey: (\S+)/.exec(fs.readFileSync(`${first.base}.private`, 'utf8'))![1]!));
    }
    fs.writeFileSync(privateFile, text, { mode: 0o600 });
    server.reloadKeys();
    assert.equal(await dnskeys(), 2, 'fixed: the key is in');
  });

  it('a reloader stopped does nothing', () => {
    const signer = server.responder.dnssec!;
    const config = loadConfig(path.join(d, 'meridian.yaml'), { zonesDir: path.join(d, 'zones'), logLevel: 'silent' }, {});
    const r = new KeyReloader(signer, config.dns.dnssec, pino({ level: 'silent' }));
    r.stop();
    assert.deepEqual(r.reload(), []);
  });
});

describe('keys reloaded in every worker (serve --workers 2)', () => {
  it('a new key and SIGHUP to the main process: both workers publish and sign with it', async () => {
    const d = tmp();
    const keyDir = path.join(d, 'keys');
    const first = generateKey(origin, ALGORITHMS.ECDSAP256SHA256, keyDir).key;
    const files = writeSignedServer(d, { 'example.com.zone': ZONE }, '      example.com: { keyDir: keys }\n');
    const served = await startCli(
      ['serve', '--workers', '2', '--config', files.config, '--zones', files.zonesDir, '--listen', '127.0.0.1:0', '--admin', 'off', '--log-level', 'info'],
      (out) => out.includes('meridian is serving'),
      60_000,
    );
    try {
      const port = servingPorts(served.output()).dns;
      const second = generateKey(origin, ALGORITHMS.ECDSAP256SHA256, keyDir).key;
      served.child.kill('SIGHUP');
      // Each query from a new source port: the kernel spreads them over both workers.
      const signers = async (): Promise<string> => {
        const r = await udp(port, 'mail.example.com', 'A', { edns: true, dnssecOk: true });
        return r.msg.answers
          .filter((a) => a.type === 'RRSIG')
          .map((a) => a.data.keyTag as number)
          .sort()
          .join(',');
      };
      const both = [first.tag, second.tag].sort().join(',');
      await until(
        'every worker signs with both keys',
        async () => {
          for (let i = 0; i < 12; i++) if ((await signers()) !== both) return false;
          return true;
        },
        20_000,
      );
      // Log lines come through a pipe, after the answers may have changed: waited for, not read at once.
      await until('the reloads are logged', async () => (served.output().match(/DNSSEC keys reloaded/g) ?? []).length >= 2);
    } finally {
      await served.stop();
    }
  });
});
