/** Answer rules of issue #2 (RFC 1034, 1035, 2181, 2308, 4592, 6891, 7766, 8482) over real UDP and TCP. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildQuery, decode, flagsOf, rcodeOf, sendTcp, sendUdp, tcp, udp } from '../support/dns-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const NOERROR = 0,
  FORMERR = 1,
  NXDOMAIN = 3,
  NOTIMP = 4,
  REFUSED = 5;

let server: TestServer;
let port: number;
before(async () => {
  server = await startTestServer();
  port = server.port;
});
after(() => server.close());

const names = (rrs: ReadonlyArray<{ name: string }> | undefined) => (rrs ?? []).map((r) => r.name);
const types = (rrs: ReadonlyArray<{ type: string }> | undefined) => (rrs ?? []).map((r) => r.type);

describe('authoritative answers', () => {
  it('answers A with AA set, RA clear, RD echoed', async () => {
    const { raw, msg } = await udp(port, 'www.rules.test', 'A');
    const f = flagsOf(raw);
    assert.equal(rcodeOf(raw), NOERROR);
    assert.ok(f.qr && f.aa && f.rd && !f.ra && !f.tc);
    assert.deepEqual(
      msg.answers?.map((a) => [a.name, a.type, a.ttl, a.data]),
      [['www.rules.test', 'A', 300, '192.0.2.10']],
    );
    const noRd = await udp(port, 'www.rules.test', 'A', { recursionDesired: false });
    assert.equal(flagsOf(noRd.raw).rd, false);
  });

  it('matches case-insensitively and echoes the question exactly as asked', async () => {
    const { raw, msg } = await udp(port, 'wWw.RuLeS.TeSt', 'A');
    assert.equal(rcodeOf(raw), NOERROR);
    assert.equal(msg.questions?.[0]?.name, 'wWw.RuLeS.TeSt');
    assert.equal(msg.answers?.[0]?.name, 'wWw.RuLeS.TeSt');
    // The same question in another case is served from the cache with its own case.
    const again = await udp(port, 'WWW.rules.TEST', 'A');
    assert.equal(again.msg.questions?.[0]?.name, 'WWW.rules.TEST');
    const mixed = await udp(port, 'www.mixed.rules.test', 'A');
    assert.equal(mixed.msg.answers?.[0]?.data, '192.0.2.11');
  });

  it('REFUSED without AA for names outside every zone', async () => {
    const { raw } = await udp(port, 'www.example.org', 'A');
    assert.equal(rcodeOf(raw), REFUSED);
    assert.equal(flagsOf(raw).aa, false);
  });

  it('NXDOMAIN with the SOA in authority, TTL = min(SOA TTL, MINIMUM)', async () => {
    const { raw, msg } = await udp(port, 'nothere.rules.test', 'A');
    assert.equal(rcodeOf(raw), NXDOMAIN);
    assert.ok(flagsOf(raw).aa);
    assert.equal(msg.answers?.length, 0);
    assert.deepEqual(
      msg.authorities?.map((a) => [a.name, a.type, a.ttl]),
      [['rules.test', 'SOA', 60]],
    );
  });

  it('NODATA for an existing name without the type, and for empty non-terminals', async () => {
    for (const name of ['www.rules.test', 'b.ent.rules.test', 'ent.rules.test']) {
      const { raw, msg } = await udp(port, name, name === 'www.rules.test' ? 'MX' : 'A');
      assert.equal(rcodeOf(raw), NOERROR, name);
      assert.equal(msg.answers?.length, 0, name);
      assert.deepEqual(types(msg.authorities), ['SOA'], name);
      assert.equal(msg.authorities?.[0]?.ttl, 60);
    }
  });

  it('follows a CNAME chain and stops at loops and at names outside our zones', async () => {
    const chain = await udp(port, 'c1.rules.test', 'A');
    assert.deepEqual(
      chain.msg.answers?.map((a) => [a.name, a.type]),
      [
        ['c1.rules.test', 'CNAME'],
        ['c2.rules.test', 'CNAME'],
        ['www.rules.test', 'A'],
      ],
    );
    const loop = await udp(port, 'loop1.rules.test', 'A');
    assert.equal(rcodeOf(loop.raw), NOERROR);
    assert.deepEqual(names(loop.msg.answers), ['loop1.rules.test', 'loop2.rules.test']);
    const ext = await udp(port, 'cext.rules.test', 'A');
    assert.deepEqual(
      ext.msg.answers?.map((a) => [a.type, a.data]),
      [['CNAME', 'www.example.org']],
    );
    const cross = await udp(port, 'cother.rules.test', 'A');
    assert.deepEqual(
      cross.msg.answers?.map((a) => a.data),
      ['www.other.test', '198.51.100.10'],
    );
    const cname = await udp(port, 'c1.rules.test', 'CNAME');
    assert.deepEqual(
      cname.msg.answers?.map((a) => a.data),
      ['c2.rules.test'],
    );
  });

  it('a CNAME to a missing name ends in NXDOMAIN with the CNAME kept (RFC 6604)', async () => {
    const { raw, msg } = await udp(port, 'cnx.rules.test', 'A');
    assert.equal(rcodeOf(raw), NXDOMAIN);
    assert.deepEqual(types(msg.answers), ['CNAME']);
    assert.deepEqual(types(msg.authorities), ['SOA']);
  });

  it('wildcards synthesise with QNAME as owner, never for existing names (RFC 4592)', async () => {
    const w = await udp(port, 'Anything.Wild.rules.test', 'A');
    assert.deepEqual(
      w.msg.answers?.map((a) => [a.name, a.data]),
      [['Anything.Wild.rules.test', '192.0.2.50']],
    );
    const deep = await udp(port, 'a.b.wild.rules.test', 'TXT');
    assert.equal(deep.msg.answers?.[0]?.name, 'a.b.wild.rules.test');
    const exists = await udp(port, 'exists.wild.rules.test', 'A');
    assert.equal(rcodeOf(exists.raw), NOERROR);
    assert.equal(exists.msg.answers?.length, 0, 'existing name gets NODATA, not the wildcard');
    const cw = await udp(port, 'cwild.rules.test', 'A');
    assert.deepEqual(
      cw.msg.answers?.map((a) => [a.name, a.type]),
      [
        ['cwild.rules.test', 'CNAME'],
        ['x.wild.rules.test', 'A'],
      ],
    );
  });

  it('a wildcard does not match across a delegation', async () => {
    const { raw, msg } = await udp(port, 'x.d.w2.rules.test', 'A');
    assert.equal(flagsOf(raw).aa, false);
    assert.deepEqual(
      msg.authorities?.map((a) => [a.name, a.type]),
      [['d.w2.rules.test', 'NS']],
    );
  });

  it('refers queries at or below a cut: no AA, NS in authority, glue in additional', async () => {
    for (const name of ['sub.rules.test', 'deep.www.sub.rules.test']) {
      const { raw, msg } = await udp(port, name, 'A');
      assert.equal(rcodeOf(raw), NOERROR);
      assert.equal(flagsOf(raw).aa, false);
      assert.equal(msg.answers?.length, 0);
      assert.deepEqual(msg.authorities?.map((a) => [a.name, a.type, a.data]).sort(), [
        ['sub.rules.test', 'NS', 'ns.other.test'],
        ['sub.rules.test', 'NS', 'ns.sub.rules.test'],
      ]);
      assert.deepEqual(
        msg.additionals?.map((a) => [a.name, a.type, a.data]),
        [['ns.sub.rules.test', 'A', '192.0.2.53']],
      );
    }
  });

  it('answers DS at a cut from the parent side, authoritatively', async () => {
    const { raw, msg } = await udp(port, 'sub.rules.test', 'DS');
    assert.ok(flagsOf(raw).aa);
    assert.deepEqual(types(msg.answers), ['DS']);
    const child = await udp(port, 'child.rules.test', 'DS');
    assert.ok(flagsOf(child.raw).aa);
    assert.deepEqual(
      child.msg.authorities?.map((a) => [a.name, a.type]),
      [['rules.test', 'SOA']],
      'DS for a served child comes from the parent',
    );
  });

  it('serves a nested child zone beside its parent by longest match', async () => {
    const { raw, msg } = await udp(port, 'www.child.rules.test', 'A');
    assert.ok(flagsOf(raw).aa);
    assert.equal(msg.answers?.[0]?.data, '192.0.2.71');
    const soa = await udp(port, 'child.rules.test', 'SOA');
    assert.equal((soa.msg.answers?.[0]?.data as { serial: number } | undefined)?.serial, 7);
  });

  it('adds in-zone addresses of NS, MX and SRV targets', async () => {
    const mx = await udp(port, 'rules.test', 'MX');
    assert.deepEqual(
      mx.msg.additionals?.map((a) => [a.name, a.type]),
      [
        ['mail.rules.test', 'A'],
        ['mail.rules.test', 'AAAA'],
      ],
    );
    const ns = await udp(port, 'rules.test', 'NS');
    assert.deepEqual(
      ns.msg.additionals?.map((a) => [a.name, a.type]),
      [
        ['ns1.rules.test', 'A'],
        ['ns1.rules.test', 'AAAA'],
      ],
    );
    const srv = await udp(port, '_sip._udp.rules.test', 'SRV');
    assert.deepEqual(
      srv.msg.additionals?.map((a) => [a.name, a.type]),
      [['sip.rules.test', 'A']],
    );
  });

  it('serves TXT longer than 255 octets as several strings and unknown types per RFC 3597', async () => {
    const { msg } = await udp(port, 'long.rules.test', 'TXT');
    const data = msg.answers?.[0]?.data as Buffer[];
    assert.deepEqual(
      data.map((b) => b.length),
      [200, 150],
    );
    const unknown = await udp(port, 'unknown.rules.test', 'TYPE65280');
    assert.equal(rcodeOf(unknown.raw), NOERROR);
    assert.deepEqual(unknown.raw.subarray(unknown.raw.length - 4), Buffer.from('0a000001', 'hex'));
  });
});

describe('EDNS0 (RFC 6891)', () => {
  it('answers with OPT only when the query had one', async () => {
    const plain = await udp(port, 'www.rules.test', 'A');
    assert.equal(plain.msg.additionals?.length, 0);
    const edns = await udp(port, 'www.rules.test', 'A', { edns: true, udpSize: 4096, dnssecOk: true });
    const opt = edns.msg.additionals?.find((a) => a.type === 'OPT') as unknown as { udpPayloadSize: number; flags: number; ednsVersion: number };
    assert.ok(opt);
    assert.equal(opt.udpPayloadSize, 1232);
    assert.equal(opt.ednsVersion, 0);
    assert.equal(opt.flags & 0x8000, 0x8000, 'DO echoed');
  });

  it('BADVERS for EDNS version > 0', async () => {
    const { raw, msg } = await udp(port, 'www.rules.test', 'A', { edns: true, ednsVersion: 1 });
    const opt = msg.additionals?.find((a) => a.type === 'OPT') as unknown as { extendedRcode: number; ednsVersion: number };
    assert.equal(rcodeOf(raw), 0);
    assert.equal(opt.extendedRcode, 1, 'BADVERS = 16: upper bits 1 in OPT');
    assert.equal(opt.ednsVersion, 0);
  });

  it('truncates with TC over UDP and answers in full over TCP', async () => {
    const small = await udp(port, 'big.rules.test', 'TXT');
    assert.ok(flagsOf(small.raw).tc);
    assert.equal(small.msg.answers?.length, 0);
    assert.ok(small.raw.length <= 512);
    const edns = await udp(port, 'big.rules.test', 'TXT', { edns: true, udpSize: 1232 });
    assert.ok(flagsOf(edns.raw).tc);
    assert.ok(
      edns.msg.additionals?.some((a) => a.type === 'OPT'),
      'TC answer still carries OPT',
    );
    const large = await udp(port, 'big.rules.test', 'TXT', { edns: true, udpSize: 4096 });
    assert.ok(flagsOf(large.raw).tc, 'our own 1232 limit applies');
    const full = await tcp(port, 'big.rules.test', 'TXT');
    assert.equal(flagsOf(full.raw).tc, false);
    assert.equal(full.msg.answers?.length, 20);
  });

  it('honours a client payload size between 512 and ours', async () => {
    const q = await udp(port, 'big.rules.test', 'TXT', { edns: true, udpSize: 1232 });
    assert.ok(q.raw.length <= 1232);
    const half = await udp(port, 'mxbig.rules.test', 'MX', { edns: true, udpSize: 900 });
    assert.ok(half.raw.length <= 900);
  });

  it('leaves out additional RRsets that do not fit, without setting TC (RFC 2181 §9)', async () => {
    const { raw, msg } = await udp(port, 'mxbig.rules.test', 'MX');
    assert.equal(flagsOf(raw).tc, false);
    assert.equal(msg.answers?.length, 12);
    const kept = msg.additionals?.length ?? 0;
    assert.ok(kept > 0 && kept < 24, `${kept} additional records kept`);
    assert.deepEqual(
      msg.additionals?.slice(0, 2).map((a) => [a.name, a.type]),
      [
        ['mx00.rules.test', 'A'],
        ['mx00.rules.test', 'AAAA'],
      ],
    );
    assert.ok(raw.length <= 512);
    const big = await udp(port, 'mxbig.rules.test', 'MX', { edns: true, udpSize: 1232 });
    assert.equal(big.msg.additionals?.filter((a) => a.type !== 'OPT').length, 24);
  });
});

describe('opcodes, classes and malformed questions', () => {
  it('NOTIMP for opcodes other than QUERY', async () => {
    const q = buildQuery('www.rules.test', 'A');
    q[2] = (q[2]! & 0x87) | (2 << 3); // STATUS
    const raw = await sendUdp(port, q);
    assert.equal(rcodeOf(raw), NOTIMP);
    assert.equal(flagsOf(raw).opcode, 2);
  });

  it('FORMERR for QDCOUNT != 1', async () => {
    const q = buildQuery('www.rules.test', 'A');
    q.writeUInt16BE(2, 4);
    assert.equal(rcodeOf(await sendUdp(port, q)), FORMERR);
    const none = Buffer.from(q.subarray(0, 12));
    none.writeUInt16BE(0, 4);
    assert.equal(rcodeOf(await sendUdp(port, none)), FORMERR);
  });

  it('FORMERR for a truncated question', async () => {
    const q = buildQuery('www.rules.test', 'A');
    const raw = await sendUdp(port, q.subarray(0, q.length - 2));
    assert.equal(rcodeOf(raw), FORMERR);
  });

  it('CHAOS version.bind is refused by default', async () => {
    const { raw } = await udp(port, 'version.bind', 'TXT', { qclass: 'CH' });
    assert.equal(rcodeOf(raw), REFUSED);
  });
});

describe('ANY (RFC 8482)', () => {
  it('gives one RRset over UDP and all over TCP', async () => {
    const u = await udp(port, 'rules.test', 'ANY');
    const rrsetTypes = new Set(types(u.msg.answers));
    assert.equal(rrsetTypes.size, 1);
    const t = await tcp(port, 'rules.test', 'ANY');
    assert.deepEqual(new Set(types(t.msg.answers)), new Set(['SOA', 'NS', 'MX', 'TXT']));
  });
});

describe('TCP (RFC 7766)', () => {
  it('answers many pipelined queries on one connection, in order', async () => {
    const qs = ['www.rules.test', 'mail.rules.test', 'nothere.rules.test', 'sip.rules.test'].map((n, i) => buildQuery(n, 'A', { id: 100 + i }));
    const answers = await sendTcp(port, [...qs, ...qs]);
    assert.deepEqual(
      answers.map((a) => a.readUInt16BE(0)),
      [100, 101, 102, 103, 100, 101, 102, 103],
    );
    assert.deepEqual(answers.slice(0, 4).map(rcodeOf), [0, 0, 3, 0]);
    assert.equal(decode(answers[1]!).answers?.[0]?.data, '192.0.2.25');
  });
});
