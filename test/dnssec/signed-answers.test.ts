/**
 * Issue #16, the responder's side of signing: a DO=1 query and a DO=0 one for the same
 * question never share a cached answer (the question index, the answer cache and the
 * decision cache keep both), a cached steering decision costs no new signature, a signed
 * answer too large for the client's EDNS size is truncated (TC) and whole over TCP, cached
 * answers are signed afresh once their signatures are due for refresh, and the config's
 * DNSSEC fields and key folders are checked at start with errors naming the field.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildQuery, decode, flagsOf, rcodeOf, tcp, udp } from '../support/dns-client.js';
import { ecsOption } from '../support/ecs.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { GEO_POLICY, SUBNETS, writeSignedServer } from '../support/signed-zone.js';
import { runCli } from '../support/process.js';
import { createMetricsRegistry } from '../../src/metrics/registry.js';
import { loadConfig } from '../../src/config/load-config.js';
import { parseName } from '../../src/dns/name.js';
import { ALGORITHMS, generateKey } from '../../src/dnssec/keys.js';
import { loadSigner } from '../../src/dnssec/load.js';
import { Responder } from '../../src/answer/responder.js';
import { SnapshotBuilder } from '../../src/control/snapshot-builder.js';
import { ZoneDirectory } from '../../src/control/zone-directory.js';
import type { ClientLocator } from '../../src/snapshot/snapshot.js';

const BIG_TXT = Array.from({ length: 9 }, (_, i) => `"${String(i).repeat(120)}"`).join(' ');
const ZONE = `$ORIGIN example.com.
$TTL 60
@     IN SOA ns1 hostmaster 1 7200 3600 1209600 30
      IN NS  ns1
ns1   IN A   192.0.2.53
mail  IN A   192.0.2.25
big   IN TXT ${BIG_TXT}
`;
let dir: string;
let server: TestServer;

function writeWorld(into: string, dnssec = '      example.com: { keyDir: keys }\n'): string {
  return writeSignedServer(into, { 'example.com.zone': ZONE, 'example.com.policy.yaml': GEO_POLICY }, dnssec).config;
}

const types = (rrs: readonly { type: string }[]): string[] => rrs.map((r) => r.type);

describe('signed answers from the responder', () => {
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-signed-'));
    generateKey(parseName('example.com.', null), ALGORITHMS.ECDSAP256SHA256, path.join(dir, 'keys'));
    const config = writeWorld(dir);
    server = await startTestServer(path.join(dir, 'zones'), config);
  });
  after(async () => {
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps DO=1 and DO=0 answers apart in every cache, in either order', async () => {
    for (const [name, order] of [
      ['mail.example.com', [false, true]],
      ['ns1.example.com', [true, false]],
      ['www.example.com', [false, true]],
      ['www.example.com', [true, false]],
    ] as const) {
      for (let round = 0; round < 2; round++) {
        for (const dnssecOk of order) {
          const { msg } = await udp(server.port, name, 'A', { edns: true, dnssecOk, options: [ecsOption(round === 0 ? SUBNETS.eu : SUBNETS.us)] });
          assert.deepEqual(types(msg.answers), dnssecOk ? ['A', 'RRSIG'] : ['A'], `${name} DO=${dnssecOk} round ${round}`);
        }
      }
    }
  });

  it('signs a steered answer once: a cached decision, and another network with the same answer, cost no signature', async () => {
    const signer = server.responder.dnssec!;
    const first = await udp(server.port, 'www.example.com', 'A', { edns: true, dnssecOk: true, options: [ecsOption(SUBNETS.us)] });
    assert.deepEqual(types(first.msg.answers), ['A', 'RRSIG']);
    const made = signer.signatures;
    // 198.51.100.0/24 has no location: the default, us, as for the NA subnet.
    for (const subnet of [SUBNETS.us, SUBNETS.us, '198.51.100.0/24']) {
      const again = await udp(server.port, 'www.example.com', 'A', { edns: true, dnssecOk: true, options: [ecsOption(subnet)] });
      assert.deepEqual(again.msg.answers.find((a) => a.type === 'RRSIG')?.data, first.msg.answers.find((a) => a.type === 'RRSIG')?.data, subnet);
    }
    assert.equal(signer.signatures, made, 'no signature made for answers already signed');
    const r = server.responder;
    const metrics = await createMetricsRegistry({ queryStats: r.stats, cache: r.cache, health: null, dnssec: r.dnssec }, { defaultMetrics: false }).metrics();
    assert.match(metrics, new RegExp(`^meridian_dnssec_signatures_total ${made}$`, 'm'));
    assert.match(metrics, /^meridian_dnssec_signature_cache_entries [1-9]\d*$/m);
  });

  it('truncates a signed answer larger than the EDNS size, and sends it whole over TCP', async () => {
    const plain = await udp(server.port, 'big.example.com', 'TXT', { edns: true, udpSize: 1232 });
    assert.equal(flagsOf(plain.raw).tc, false, 'unsigned, it fits');
    const signed = await udp(server.port, 'big.example.com', 'TXT', { edns: true, udpSize: 1232, dnssecOk: true });
    assert.equal(flagsOf(signed.raw).tc, true, 'signed, it does not');
    assert.equal(signed.msg.answers.length, 0, 'a truncated answer holds no partial RRset');
    const whole = await tcp(server.port, 'big.example.com', 'TXT', { edns: true, dnssecOk: true });
    assert.equal(flagsOf(whole.raw).tc, false);
    assert.deepEqual(types(whole.msg.answers), ['TXT', 'RRSIG']);
    assert.ok(whole.raw.length > 1232);
  });
});

describe('signature refresh', () => {
  it('signs a cached answer afresh once its signatures are due, and not before', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-refresh-'));
    try {
      generateKey(parseName('example.com.', null), ALGORITHMS.ED25519, path.join(d, 'keys'));
      const config = loadConfig(writeWorld(d, '      example.com: { algorithm: ED25519, keyDir: keys }\n'), { zonesDir: path.join(d, 'zones'), logLevel: 'silent' }, {});
      let now = Date.now();
      const signer = loadSigner(config.dns, { now: () => now })!;
      const loaded = new ZoneDirectory(path.join(d, 'zones')).load(true);
      const locate: ClientLocator = (address, family, sourcePrefix, fromEcs) => ({ address, family, sourcePrefix, fromEcs, geo: { found: false } as never });
      const store = SnapshotBuilder.offline(locate).store(1, { zones: loaded.zones });
      const responder = new Responder(store, { udpPayloadSize: 1232, cacheMaxEntries: 1000, dnssec: signer });
      const ask = (): { inception: number; bytes: Buffer } => {
        const out = responder.respond(buildQuery('mail.example.com', 'A', { id: 7, edns: true, dnssecOk: true }), 'udp', '127.0.0.1')!;
        assert.equal(rcodeOf(out), 0);
        const sig = decode(out).answers.find((a) => a.type === 'RRSIG')!;
        return { inception: sig.data.inception as number, bytes: out };
      };
      const first = ask();
      const made = signer.signatures;
      now += 6 * 86_400_000;
      assert.deepEqual(ask().bytes, first.bytes, 'six days on: the cached answer, its signature still fresh');
      assert.equal(signer.signatures, made);
      now += 2 * 86_400_000;
      const later = ask();
      assert.equal(signer.signatures, made + 1, 'eight days on: signed again');
      assert.ok(later.inception >= first.inception + 8 * 86_400 - 60, 'a new inception');
      assert.deepEqual(ask().bytes, later.bytes, 'and the new answer is cached');
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('DNSSEC configuration', () => {
  const configWith = (d: string, yaml: string): string => {
    const file = path.join(d, 'meridian.yaml');
    fs.writeFileSync(file, `dns:\n  dnssec:\n${yaml}`);
    return file;
  };

  it('refuses bad fields with the field named', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-dnssec-config-'));
    try {
      const cases: [string, RegExp][] = [
        ['    zones:\n      example.com: { algorithm: RSASHA1 }\n', /meridian\.yaml:4: dns\.dnssec\.zones\.example\.com\.algorithm: must be equal to constant/],
        ['    zones:\n      __proto__: { enabled: true }\n', /meridian\.yaml:3: dns\.dnssec\.zones\.__proto__: invalid key "__proto__"/],
        ['    zones:\n      "exa mple.com": {}\n', /dns\.dnssec\.zones\.exa mple\.com: invalid key/],
        ['    zones:\n      example.com: { keyDir: "" }\n', /dns\.dnssec\.zones\.example\.com\.keyDir: must NOT have fewer than 1 characters/],
        ['    validityDays: 7\n    refreshDays: 7\n', /dns\.dnssec\.refreshDays: 7 must be below validityDays \(7\)/],
        ['    zones:\n      example.com: { secret: x }\n', /dns\.dnssec\.zones\.example\.com\.secret: unknown field/],
        ['    zones:\n      example.com:\n        keyDir: keys\n        denial: nsec3\n', /meridian\.yaml:6: dns\.dnssec\.zones\.example\.com\.denial: must be one of compact, nsec$/],
      ];
      for (const [yaml, expected] of cases) assert.throws(() => loadConfig(configWith(d, yaml), {}, {}), expected, yaml);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('refuses to start without a key, or with a private key every user can read, naming the zone', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-dnssec-keys-'));
    try {
      const config = loadConfig(configWith(d, '    zones:\n      example.com: { keyDir: keys }\n'), {}, {});
      fs.mkdirSync(path.join(d, 'keys'));
      assert.throws(() => loadSigner(config.dns), /dns\.dnssec\.zones\.example\.com: no ECDSAP256SHA256 key for example\.com\. in .*keys; make one with: meridian dnssec keygen/);
      const made = generateKey(parseName('example.com.', null), ALGORITHMS.ECDSAP256SHA256, path.join(d, 'keys'));
      assert.equal(loadSigner(config.dns)!.zones.size, 1);
      fs.chmodSync(made.privateFile, 0o644);
      assert.throws(() => loadSigner(config.dns), /dns\.dnssec\.zones\.example\.com: .*\.private: readable by every user \(mode 644\); chmod 600 it/);
      const off = loadConfig(configWith(d, '    zones:\n      example.com: { enabled: false, keyDir: nowhere }\n'), {}, {});
      assert.equal(loadSigner(off.dns), null, 'a disabled zone needs no keys');
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('meridian dnssec keygen writes a key serve loads; meridian check lists the keys and DS, and fails on a key problem', async () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-dnssec-cli-'));
    try {
      const config = writeWorld(d, '      example.com: { algorithm: ED25519, keyDir: keys }\n');
      const bad = await runCli(['dnssec', 'keygen', 'example.com', '--algorithm', 'RSASHA256', '--key-dir', path.join(d, 'keys')]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--algorithm: "RSASHA256" is not ECDSAP256SHA256 \(13\) or ED25519 \(15\)/);
      const missing = await runCli(['check', '--config', config]);
      assert.equal(missing.code, 1, 'no key yet');
      assert.match(missing.stderr, /keys:0: GSLB_ERR_DNSSEC_KEY_UNREADABLE: cannot read the key folder: ENOENT/);
      const made = await runCli(['dnssec', 'keygen', 'example.com', '--algorithm', '15', '--key-dir', path.join(d, 'keys')]);
      assert.equal(made.code, 0, made.stderr);
      const [keyFile, privateFile] = made.stdout.split('\n');
      assert.match(path.basename(keyFile!), /^Kexample\.com\.\+015\+\d{5}\.key$/);
      assert.equal(fs.statSync(privateFile!).mode & 0o777, 0o600);
      const ds = /example\.com\. IN DS (\d+ 15 2 [0-9A-F]{64})/.exec(made.stdout)?.[1];
      assert.ok(ds, made.stdout);
      assert.ok(!made.stdout.includes(fs.readFileSync(privateFile!, 'utf8').match(/PrivateKey: (\S+)/)![1]!), 'the private key is never printed');
      const ok = await runCli(['check', '--config', config]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /Kexample\.com\.\+015\+\d{5}\.key: example\.com\. key \d+ \(ED25519, CSK\): published, signing, CDS\/CDNSKEY\n/);
      assert.ok(ok.stdout.includes(`example.com. IN DS ${ds}`));
      fs.chmodSync(privateFile!, 0o604);
      const readable = await runCli(['check', '--config', config]);
      assert.equal(readable.code, 1);
      assert.match(readable.stderr, /\.private:0: GSLB_ERR_DNSSEC_KEY_MODE: readable by every user \(mode 604\)/);
      const walkable = await runCli(['check', '--config', writeWorld(path.join(d, 'walk'), '      example.com: { keyDir: keys, denial: walk }\n')]);
      assert.equal(walkable.code, 1);
      assert.match(walkable.stderr, /walk\/meridian\.yaml:6: dns\.dnssec\.zones\.example\.com\.denial: must be one of compact, nsec/);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});
