/**
 * The question index (issue #7): the fast path that finds a repeated question's answer, or its
 * steered name's cached decision, straight from the packet. A server using it must answer
 * byte for byte as a server without caches does, for every variant of a query and for every
 * packet the fast path must hand back to the full reader.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QuestionIndex } from '../../src/answer/question-index.js';
import { buildQuery, sendTcp, sendUdp, type QueryOptions } from '../support/dns-client.js';
import { ecsOption } from '../support/ecs.js';
import { nativeUdpOrSkip } from '../support/native-udp.js';
import { projectRoot, startTestServer, type TestServer } from '../support/test-server.js';

/** The example zones (steered names, every record type) beside the fixture zones (a large TXT RRset, referrals with glue). */
function zonesDir(tmp: string): string {
  const dir = path.join(tmp, 'zones');
  fs.cpSync(path.join(projectRoot, 'zones'), dir, { recursive: true });
  fs.cpSync(path.join(projectRoot, 'test/fixtures/zones'), dir, { recursive: true });
  return dir;
}

/** A query's wire form with its question name written exactly as given (dns-packet keeps case, but not TYPE numbers for all). */
function query(name: string, type: string, opts: QueryOptions = {}): Buffer {
  return buildQuery(name, type, { id: 0x1234, ...opts });
}

function withQtype(packet: Buffer, qtype: number): Buffer {
  const out = Buffer.from(packet);
  let pos = 12;
  while (out[pos]! !== 0) pos += out[pos]! + 1;
  out.writeUInt16BE(qtype, pos + 1);
  return out;
}

/** The index keeps values that say what they depend on (AnswerTags); these tests keep plain values in them. */
class Index<X> {
  readonly inner: QuestionIndex<{ name: string; own: boolean; negative: boolean; x: X }>;
  constructor(maxEntries: number) {
    this.inner = new QuestionIndex(maxEntries);
  }
  useVersion(version: number): void {
    this.inner.useVersion(version);
  }
  set(packet: Buffer, transport: 'udp' | 'tcp', x: X): void {
    this.inner.set(packet, transport, { name: 'n', own: true, negative: false, x });
  }
  get(packet: Buffer, transport: 'udp' | 'tcp'): X | undefined {
    return this.inner.get(packet, transport)?.x;
  }
  get size(): number {
    return this.inner.size;
  }
  get questionEnd(): number {
    return this.inner.questionEnd;
  }
}

describe('QuestionIndex', () => {
  const plain = (name: string, type: string, opts: QueryOptions = {}): Buffer => query(name, type, { edns: true, ...opts });

  it('finds a question whatever the case of its name, and reports where the question ends', () => {
    const index = new Index<string>(10);
    index.useVersion(1);
    const first = plain('www.example.com', 'MX');
    index.set(first, 'udp', 'mx');
    assert.equal(index.get(plain('WwW.ExAmPle.COM', 'MX'), 'udp'), 'mx');
    assert.equal(index.questionEnd, 12 + 17 + 4);
    assert.equal(index.get(plain('www.example.com', 'MX'), 'tcp'), 'mx', 'MX does not depend on the transport');
    assert.equal(index.get(plain('www.example.org', 'MX'), 'udp'), undefined);
    assert.equal(index.get(plain('www.example.com', 'TXT'), 'udp'), undefined);
  });

  it('folds only the letters of the name: QTYPE 65 (byte "A") is not QTYPE 97 (byte "a")', () => {
    const index = new Index<string>(10);
    index.useVersion(1);
    index.set(withQtype(plain('example.com', 'A'), 65), 'udp', 'https');
    assert.equal(index.get(withQtype(plain('example.com', 'A'), 97), 'udp'), undefined);
    assert.equal(index.get(withQtype(plain('EXAMPLE.com', 'A'), 65), 'udp'), 'https');
  });

  it('keeps ANY apart per transport (RFC 8482 answers it differently over UDP)', () => {
    const index = new Index<string>(10);
    index.useVersion(1);
    index.set(plain('example.com', 'ANY'), 'udp', 'minimal');
    assert.equal(index.get(plain('example.com', 'ANY'), 'tcp'), undefined);
    index.set(plain('example.com', 'ANY'), 'tcp', 'full');
    assert.equal(index.get(plain('example.com', 'ANY'), 'udp'), 'minimal');
    assert.equal(index.get(plain('example.com', 'ANY'), 'tcp'), 'full');
  });

  it('ignores packets that are not plain queries, and malformed ones', () => {
    const index = new Index<string>(10);
    index.useVersion(1);
    const ok = plain('example.com', 'A');
    const variants: Array<[string, Buffer]> = [
      ['a response', Buffer.from(ok).fill(0x80, 2, 3)],
      ['opcode NOTIFY', Buffer.from(ok).fill(0x20, 2, 3)],
      ['two questions', Buffer.from(ok).fill(2, 5, 6)],
      ['an answer record', Buffer.from(ok).fill(1, 7, 8)],
      ['two additional records', Buffer.from(ok).fill(2, 11, 12)],
      ['a compressed name', Buffer.concat([ok.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])])],
      ['a label over 63 octets', Buffer.concat([ok.subarray(0, 12), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0, 0, 1, 0, 1])])],
      ['a question cut short', ok.subarray(0, 12 + 13 + 2)],
      ['a header only', ok.subarray(0, 12)],
    ];
    for (const [what, packet] of variants) {
      index.set(packet, 'udp', what);
      assert.equal(index.size, 0, `${what} is not indexed`);
    }
    index.set(ok, 'udp', 'plain');
    for (const [what, packet] of variants) assert.equal(index.get(packet, 'udp'), undefined, `${what} is not found`);
  });

  it('empties on a new snapshot version and stays within its bound', () => {
    const index = new Index<number>(3);
    index.useVersion(1);
    for (let i = 0; i < 10; i++) index.set(plain(`h${i}.example.com`, 'A'), 'udp', i);
    assert.equal(index.size, 3);
    assert.equal(index.get(plain('h9.example.com', 'A'), 'udp'), 9, 'the newest stay');
    assert.equal(index.get(plain('h0.example.com', 'A'), 'udp'), undefined, 'the oldest went first');
    index.useVersion(1);
    assert.equal(index.size, 3, 'the same version keeps them');
    index.useVersion(2);
    assert.equal(index.size, 0);
    assert.equal(index.get(plain('h9.example.com', 'A'), 'udp'), undefined);
    const off = new Index<number>(0);
    off.set(plain('h1.example.com', 'A'), 'udp', 1);
    assert.equal(off.size, 0, 'a limit of 0 disables it');
  });
});

// Both UDP socket layers (issue #19): the native one where it is built, and node:dgram.
const { skip: nativeSkip } = nativeUdpOrSkip();
for (const udpSocket of ['native', 'dgram'] as const)
  describe(`question index over real sockets (${udpSocket} UDP): byte for byte the answers of a server without caches`, { skip: udpSocket === 'native' ? nativeSkip : false }, () => {
    let cached: TestServer;
    let reference: TestServer;
    let tmp: string;
    before(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-qindex-'));
      const zones = zonesDir(tmp);
      const config = path.join(tmp, 'meridian.yaml');
      fs.writeFileSync(config, `dns:\n  cacheMaxEntries: 0\nzones:\n  directory: ${JSON.stringify(zones)}\n  watch: false\n`);
      cached = await startTestServer(zones, null, { udpSocket });
      // The reference always answers through node:dgram: the native layer must match it byte for byte.
      reference = await startTestServer(zones, config, { udpSocket: 'dgram' });
      assert.equal(cached.udp?.socket, udpSocket);
      assert.equal(reference.udp?.socket, 'dgram');
    });
    after(async () => {
      await cached?.close();
      await reference?.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    /** Asks the cached server three times (fill, then the fast path twice) and the reference once. */
    async function same(what: string, packet: Buffer, transport: 'udp' | 'tcp'): Promise<void> {
      const ask = async (port: number): Promise<Buffer | null> => {
        if (transport === 'tcp') return (await sendTcp(port, [packet]))[0]!;
        return sendUdp(port, packet, '127.0.0.1', 500).catch(() => null);
      };
      const expected = await ask(reference.port);
      for (let i = 0; i < 3; i++) assert.deepEqual(await ask(cached.port), expected, `${what} over ${transport}, round ${i + 1}`);
    }

    it('every kind of static answer, in every EDNS variant and letter case, over UDP and TCP', async () => {
      const questions: Array<[string, string]> = [
        ['example.com', 'SOA'],
        ['example.com', 'NS'],
        ['example.com', 'MX'],
        ['example.com', 'TXT'],
        ['example.com', 'CAA'],
        ['example.com', 'A'],
        ['example.com', 'AAAA'],
        ['example.com', 'ANY'],
        ['www.example.com', 'HTTPS'],
        ['www.example.com', 'TXT'],
        ['_443._tcp.www.example.com', 'TLSA'],
        ['_sip._tcp.example.com', 'SRV'],
        ['app.example.com', 'CNAME'],
        ['x.customers.example.com', 'A'],
        ['x.customers.example.com', 'TXT'],
        ['nope.example.com', 'A'],
        ['mail.example.com', 'TXT'],
        ['host.eu.example.com', 'A'],
        ['example.org', 'A'],
        ['ns1.example.com', 'TYPE65'],
        ['ns1.example.com', 'TYPE97'],
      ];
      const variants: Array<[string, QueryOptions]> = [
        ['no EDNS', {}],
        ['EDNS', { edns: true }],
        ['EDNS with DO and RD', { edns: true, dnssecOk: true, recursionDesired: true }],
        ['EDNS with a 512-octet payload', { edns: true, udpSize: 512 }],
        ['ECS', { edns: true, options: [ecsOption('81.2.69.0/24')] }],
        ['a cookie', { edns: true, options: [{ code: 10, data: Buffer.from('0102030405060708', 'hex') }] }],
      ];
      for (const [name, type] of questions) {
        for (const [variant, opts] of variants) {
          for (const spelled of [name, name.toUpperCase()]) {
            for (const transport of ['udp', 'tcp'] as const) await same(`${spelled} ${type}, ${variant}`, query(spelled, type, opts), transport);
          }
        }
      }
      // One entry per question whatever its case or EDNS; ANY once per transport.
      assert.equal(cached.responder.questions.size, questions.length + 1);
      assert.equal(reference.responder.questions.size, 0, 'the reference indexes nothing');
    });

    it('answers too long for the payload: truncated, or cut in the additional section, as without caches', async () => {
      for (const opts of [{}, { edns: true, udpSize: 512 }, { edns: true, udpSize: 1232 }, { edns: true, udpSize: 4096 }]) {
        for (const [name, type] of [
          ['big.rules.test', 'TXT'],
          ['x.sub.rules.test', 'A'],
          ['rules.test', 'NS'],
          ['rules.test', 'ANY'],
        ]) {
          for (const transport of ['udp', 'tcp'] as const) await same(`${name} ${type} ${JSON.stringify(opts)}`, query(name!, type!, opts), transport);
        }
      }
    });

    it('steered names from many client networks, the decision found by the fast path', async () => {
      const clients = ['81.2.69.0/24', '81.2.69.142/32', '89.160.20.0/24', '216.160.83.0/24', '175.16.199.0/24', '2.125.160.216/32', '11.22.33.0/24', '10.1.2.0/24', '2001:218::/32'];
      for (const name of ['www.example.com', 'api.example.com', 'near.example.com', 'pool.example.com', 'legacy.example.com']) {
        for (const type of ['A', 'AAAA']) {
          await same(`${name} ${type}, no ECS`, query(name, type, { edns: true }), 'udp');
          for (const ecs of clients) await same(`${name} ${type} for ${ecs}`, query(name, type, { edns: true, options: [ecsOption(ecs)] }), 'udp');
        }
      }
      const hitsBefore = cached.responder.decisions.hits;
      await same('www again', query('www.example.com', 'A', { edns: true, options: [ecsOption('81.2.69.0/24')] }), 'udp');
      assert.ok(cached.responder.decisions.hits >= hitsBefore + 3, 'decisions came from the cache');
    });

    it('an indexed question in a packet the full reader must judge: the same error, or the same drop', async () => {
      const base = query('example.com', 'MX', { edns: true });
      await same('fill', base, 'udp');
      const optAt = base.length - 11;
      const edit = (fn: (b: Buffer) => Buffer): Buffer => fn(Buffer.from(base));
      const cases: Array<[string, Buffer]> = [
        ['EDNS version 1 (BADVERS)', query('example.com', 'MX', { edns: true, ednsVersion: 1 })],
        ['a malformed ECS option (FORMERR)', query('example.com', 'MX', { edns: true, options: [{ code: 8, data: Buffer.from([0, 1, 33, 0, 1, 2, 3, 4, 5]) }] })],
        ['OPT owned by a name other than the root', Buffer.concat([base.subarray(0, optAt), Buffer.from([1, 0x61]), base.subarray(optAt)])],
        ['an additional record that is not OPT', edit((b) => b.fill(0, optAt + 1, optAt + 2).fill(1, optAt + 2, optAt + 3))],
        ['OPT RDLENGTH past the end', edit((b) => b.fill(9, optAt + 10, optAt + 11))],
        ['OPT cut short', base.subarray(0, base.length - 3)],
        ['opcode IQUERY (NOTIMP)', edit((b) => b.fill(0x08, 2, 3))],
        ['a response (dropped)', edit((b) => b.fill(0x80, 2, 3))],
        ['trailing octets', Buffer.concat([base, Buffer.from([1, 2, 3])])],
      ];
      for (const [what, packet] of cases) await same(what, packet, 'udp');
    });
  });
