/**
 * DNS cookies (RFC 7873, server cookies per RFC 9018) over real sockets: a client cookie
 * alone gets a server cookie; a valid one is echoed; a bad one still gets an answer with a
 * fresh cookie; a COOKIE option of a length no cookie has is FORMERR; the same on the fast
 * path, over TCP, beside ECS and NSID; dig and kdig see a good cookie; Knot with the same
 * secret accepts our cookies and we accept its. With cookies off (the default) nothing changes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildQuery, sendTcp, sendUdp } from '../support/dns-client.js';
import { knotUnavailableReason, startKnot, type RunningKnot } from '../support/knot.js';
import { fixtureZones } from '../support/test-server.js';
import { CookieVerdict, parseSecret, ServerCookies } from '../../src/protect/cookies.js';
import { ednsOptions, fullRcode, startConfigured, type ConfiguredServer } from './helpers.js';
import { workspace, type Workspace } from '../admin/helpers.js';

const SECRET = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const COOKIE = 10;
const NSID = 3;
const run = promisify(execFile);
const CLIENT = Buffer.from('0123456789abcdef', 'hex');
const LOOPBACK = Uint8Array.from([127, 0, 0, 1]);

const withCookie = (data: Buffer, extra: Array<{ code: number; data?: Buffer }> = []): Buffer => buildQuery('www.rules.test', 'A', { edns: true, options: [{ code: COOKIE, data }, ...extra] });

/** The COOKIE option of an answer, which must have one. */
function cookieOf(raw: Buffer): Buffer {
  const c = ednsOptions(raw)?.get(COOKIE);
  assert.ok(c, 'the answer carries a COOKIE option');
  return c;
}

/** Whether `cookie` (client + server) is one we made for 127.0.0.1, checked as the server would. */
function verdictOf(cookie: Buffer): number {
  return new ServerCookies({ secret: parseSecret(SECRET), previous: null }).checkOption(cookie, LOOPBACK);
}

/** dig, run without blocking: the server answers in this very process. */
async function dig(port: number, ...args: string[]): Promise<string> {
  return (await run('dig', ['@127.0.0.1', '-p', String(port), '+norec', '+tries=1', '+time=2', ...args], { encoding: 'utf8' })).stdout;
}

describe('DNS cookies, on', () => {
  let s: ConfiguredServer;
  let port: number;
  before(async () => {
    s = await startConfigured(`dns:\n  nsid: meridian-1\n  cookies: { enabled: true, secret: "${SECRET}" }\n`);
    port = s.ports[0]!;
  });
  after(() => s.stop());

  it('answers a client cookie alone with the client cookie and a new server cookie, every time (fast path included)', async () => {
    for (let i = 0; i < 3; i++) {
      const raw = await sendUdp(port, withCookie(CLIENT));
      assert.equal(fullRcode(raw), 0);
      assert.equal(raw.readUInt16BE(6), 1, 'the answer is there');
      const c = cookieOf(raw);
      assert.equal(c.length, 24);
      assert.deepEqual(c.subarray(0, 8), CLIENT);
      assert.equal(c[8], 1, 'RFC 9018 version 1');
      assert.equal(verdictOf(c), CookieVerdict.VALID);
    }
  });

  it('echoes a valid server cookie', async () => {
    const learnt = cookieOf(await sendUdp(port, withCookie(CLIENT)));
    const again = await sendUdp(port, withCookie(Buffer.from(learnt)));
    assert.equal(fullRcode(again), 0);
    assert.deepEqual(cookieOf(again), learnt);
  });

  it('answers a bad or foreign server cookie normally, with a fresh cookie', async () => {
    const learnt = Buffer.from(cookieOf(await sendUdp(port, withCookie(CLIENT))));
    learnt[23] = learnt[23]! ^ 0xff;
    const foreign = Buffer.concat([CLIENT, Buffer.from('00112233445566778899aabbccddeeff', 'hex')]);
    for (const bad of [learnt, foreign, Buffer.concat([CLIENT, Buffer.alloc(8)]), Buffer.concat([CLIENT, Buffer.alloc(32)])]) {
      const raw = await sendUdp(port, withCookie(bad));
      assert.equal(fullRcode(raw), 0);
      assert.equal(raw.readUInt16BE(6), 1);
      const c = cookieOf(raw);
      assert.notDeepEqual(c, bad);
      assert.equal(verdictOf(c), CookieVerdict.VALID);
    }
  });

  it('FORMERR for a COOKIE option of a length no cookie has (RFC 7873 §5.2.2)', async () => {
    for (const n of [0, 1, 7, 9, 15, 41, 64]) {
      const raw = await sendUdp(port, withCookie(Buffer.alloc(n, 0x5a)));
      assert.equal(raw[3]! & 0x0f, 1, `length ${n}`);
      assert.equal(raw.readUInt16BE(6), 0);
    }
    // And the server still answers well-formed queries for the same name.
    assert.equal(fullRcode(await sendUdp(port, withCookie(CLIENT))), 0);
  });

  it('hostile COOKIE/NSID options over UDP: several COOKIEs, an overrunning length, the longest cookie, an NSID with a payload', async () => {
    /** Asserts the answer ends in an OPT record whose RDATA is exactly `rdlen` octets (so no option was written twice). */
    const optRdlen = (raw: Buffer, rdlen: number): void => {
      const opt = raw.subarray(raw.length - rdlen - 11);
      assert.equal(opt[0], 0, 'OPT owner is the root');
      assert.equal(opt.readUInt16BE(1), 41, 'the last record is OPT');
      assert.equal(opt.readUInt16BE(9), rdlen);
    };
    const foreign = Buffer.concat([CLIENT, Buffer.from('01000000', 'hex'), Buffer.alloc(12, 0xee)]);
    // Two COOKIE options: the first is judged, the rest ignored; one cookie comes back.
    for (const second of [foreign, Buffer.alloc(7, 0x11), Buffer.alloc(64, 0x22)]) {
      const raw = await sendUdp(port, withCookie(CLIENT, [{ code: COOKIE, data: second }]));
      assert.equal(fullRcode(raw), 0);
      assert.deepEqual(cookieOf(raw).subarray(0, 8), CLIENT);
      assert.equal(verdictOf(cookieOf(raw)), CookieVerdict.VALID);
      optRdlen(raw, 4 + 24);
    }
    // A COOKIE option whose length runs past the OPT RDATA: FORMERR, not a read beyond it.
    const over = withCookie(CLIENT);
    over.writeUInt16BE(40, over.length - 8 - 2);
    assert.equal(over.readUInt16BE(over.length - 8 - 4), COOKIE);
    assert.equal(fullRcode(await sendUdp(port, over)), 1);
    // The longest cookie a client may send (8 + 32): not ours, answered with a fresh one.
    const longest = await sendUdp(port, withCookie(Buffer.concat([CLIENT, Buffer.alloc(32, 0x33)])));
    assert.equal(fullRcode(longest), 0);
    assert.equal(verdictOf(cookieOf(longest)), CookieVerdict.VALID);
    // NSID sent with a payload (RFC 5001 says empty): ignored payload, our NSID back, once.
    const nsid = await sendUdp(
      port,
      withCookie(CLIENT, [
        { code: NSID, data: Buffer.alloc(300, 0x44) },
        { code: NSID, data: Buffer.alloc(0) },
      ]),
    );
    assert.equal(fullRcode(nsid), 0);
    assert.equal(ednsOptions(nsid)!.get(NSID)!.toString(), 'meridian-1');
    optRdlen(nsid, 4 + 24 + 4 + 'meridian-1'.length);
  });

  it('answers cookies over TCP, and beside ECS and NSID in one OPT', async () => {
    const [raw] = await sendTcp(port, [withCookie(CLIENT)]);
    assert.equal(verdictOf(cookieOf(raw!)), CookieVerdict.VALID);
    const ecs = { code: 8, data: Buffer.from([0, 1, 24, 0, 81, 2, 69]) };
    for (let i = 0; i < 2; i++) {
      const both = await sendUdp(port, withCookie(CLIENT, [ecs, { code: NSID, data: Buffer.alloc(0) }]));
      const options = ednsOptions(both)!;
      assert.deepEqual(options.get(8), Buffer.from([0, 1, 24, 0, 81, 2, 69]));
      assert.equal(verdictOf(options.get(COOKIE)!), CookieVerdict.VALID);
      assert.equal(options.get(NSID)!.toString(), 'meridian-1');
      assert.equal(both.readUInt16BE(6), 1);
    }
  });

  it('dig +cookie sees a good cookie, sends it back and sees it echoed', async () => {
    const first = await dig(port, 'www.rules.test', 'A', '+cookie');
    assert.match(first, /status: NOERROR/);
    const m = /COOKIE: ([0-9a-f]{48}) \(good\)/.exec(first);
    assert.ok(m, first);
    const second = await dig(port, 'www.rules.test', 'A', `+cookie=${m[1]}`);
    assert.match(second, new RegExp(`COOKIE: ${m[1]} \\(good\\)`));
  });

  it('kdig +cookie gets a server cookie', async () => {
    const out = (await run('kdig', ['@127.0.0.1', '-p', String(port), '+norec', '+cookie', 'www.rules.test', 'A'], { encoding: 'utf8' })).stdout;
    assert.match(out, /status: NOERROR/);
    assert.match(out, /COOKIE: [0-9a-f]{16}[0-9a-f]{32}/i);
  });
});

describe('DNS cookies, interoperable with Knot (RFC 9018)', { skip: knotUnavailableReason() ?? false }, () => {
  let s: ConfiguredServer;
  let knot: RunningKnot;
  before(async () => {
    s = await startConfigured(`dns:\n  cookies: { enabled: true, secret: "${SECRET}" }\n`);
    knot = await startKnot([{ origin: 'rules.test.', file: path.join(fixtureZones, 'rules.test.zone') }], { cookieSecret: SECRET });
  });
  after(async () => {
    await knot?.stop();
    await s?.stop();
  });

  it('a cookie Knot made is valid here (echoed), and one made here is valid at Knot (no BADCOOKIE)', async () => {
    // Knot answers a client cookie alone with BADCOOKIE and its server cookie.
    const fromKnot = Buffer.from(cookieOf(await sendUdp(knot.port, withCookie(CLIENT))));
    assert.equal(verdictOf(fromKnot), CookieVerdict.VALID);
    assert.deepEqual(cookieOf(await sendUdp(s.ports[0]!, withCookie(fromKnot))), fromKnot);
    const fromUs = Buffer.from(cookieOf(await sendUdp(s.ports[0]!, withCookie(Buffer.from('fedcba9876543210', 'hex')))));
    const atKnot = await sendUdp(knot.port, withCookie(fromUs));
    assert.equal(fullRcode(atKnot), 0, 'Knot accepts our cookie');
    assert.equal(atKnot.readUInt16BE(6), 1);
  });
});

describe('DNS cookies, off (the default)', () => {
  let s: ConfiguredServer;
  before(async () => {
    s = await startConfigured('');
  });
  after(() => s.stop());

  it('ignores COOKIE options: no cookie back, no FORMERR', async () => {
    const raw = await sendUdp(s.ports[0]!, withCookie(CLIENT));
    assert.equal(fullRcode(raw), 0);
    assert.equal(ednsOptions(raw)!.has(COOKIE), false);
    assert.equal(fullRcode(await sendUdp(s.ports[0]!, withCookie(Buffer.alloc(7)))), 0);
  });
});

describe('DNS cookies: a malformed COOKIE option is refused before any steering', () => {
  let ws: Workspace;
  let s: ConfiguredServer;
  before(async () => {
    ws = workspace();
    s = await startConfigured(`dns:\n  cookies: { enabled: true, secret: "${SECRET}" }\n`, ['127.0.0.1:0'], ws.zones);
  });
  after(async () => {
    await s.stop();
    ws.remove();
  });

  it('FORMERR for a steered name counts no answer, on the full and the fast path', async () => {
    const total = (): number => [...s.server.responder.stats.answerTotals().values()].reduce((n, t) => n + t.count, 0);
    // A good query first, so the name is in the question index and its decision cached.
    const good = buildQuery('fo.adm.test', 'A', { edns: true, options: [{ code: COOKIE, data: CLIENT }] });
    assert.equal(fullRcode(await sendUdp(s.ports[0]!, good)), 0);
    const before = total();
    assert.ok(before > 0, 'a steered answer is counted');
    for (let i = 0; i < 3; i++) {
      const bad = buildQuery('fo.adm.test', 'A', { edns: true, options: [{ code: COOKIE, data: Buffer.alloc(9, 0x5a) }] });
      assert.equal((await sendUdp(s.ports[0]!, bad))[3]! & 0x0f, 1);
    }
    assert.equal(total(), before, 'a FORMERR query is no steered answer');
  });
});
