/**
 * Response rate limiting over real UDP: a flood of one name from 127.0.0.1 gets about `rate`
 * answers a second, the rest dropped except every `slip`-th, sent truncated (TC=1); another
 * client network ([::1]), another name, TCP, and a client with a valid server cookie are
 * still answered in full, and a client with a client cookie alone gets BADCOOKIE slips. With
 * RRL off (the default) every query of the same flood is answered.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { buildQuery, sendTcp, sendUdp } from '../support/dns-client.js';
import { ednsOptions, fullRcode, startConfigured, type ConfiguredServer } from './helpers.js';
import { createMetricsRegistry } from '../../src/metrics/registry.js';

const SECRET = '00112233445566778899aabbccddeeff';
const COOKIE = 10;
const CLIENT = Buffer.from('a1a2a3a4a5a6a7a8', 'hex');

interface Tally {
  full: number;
  truncated: number;
  badCookie: number;
  missing: number;
}

/** Sends every packet at once from one socket, waits `settleMs` for answers, and sorts them. */
function flood(port: number, host: string, packets: Buffer[], settleMs = 800): Promise<Tally> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const t: Tally = { full: 0, truncated: 0, badCookie: 0, missing: packets.length };
    socket.on('message', (raw) => {
      t.missing--;
      if (fullRcode(raw) === 23) t.badCookie++;
      else if ((raw[2]! & 0x02) !== 0 && raw.readUInt16BE(6) === 0) t.truncated++;
      else if (raw.readUInt16BE(6) > 0) t.full++;
    });
    let sent = 0;
    for (const p of packets) {
      socket.send(p, port, host, () => {
        if (++sent === packets.length) {
          setTimeout(() => {
            socket.close();
            resolve(t);
          }, settleMs);
        }
      });
    }
  });
}

const queries = (n: number, name: string, options?: Array<{ code: number; data: Buffer }>): Buffer[] =>
  Array.from({ length: n }, (_, i) => buildQuery(name, 'A', { id: i, ...(options ? { edns: true, options } : {}) }));

const isFull = (raw: Buffer): boolean => fullRcode(raw) === 0 && (raw[2]! & 0x02) === 0 && raw.readUInt16BE(6) === 1;

describe('response rate limiting, on', () => {
  let s: ConfiguredServer;
  before(async () => {
    s = await startConfigured(`dns:\n  cookies: { enabled: true, secret: "${SECRET}" }\n  rrl: { enabled: true, responsesPerSecond: 5, slip: 2, windowSec: 2 }\n`, ['127.0.0.1:0', '[::1]:0']);
  });
  after(() => s.stop());

  it('limits a flood from one network and no one else', async () => {
    const [v4, v6] = s.ports as [number, number];
    // A cookie learnt before the flood (another name, so another bucket).
    const learnt = Buffer.from(ednsOptions(await sendUdp(v4, buildQuery('mail.rules.test', 'A', { edns: true, options: [{ code: COOKIE, data: CLIENT }] })))!.get(COOKIE)!);

    const t = await flood(v4, '127.0.0.1', queries(200, 'www.rules.test'));
    assert.ok(t.full >= 1 && t.full <= 40, `answered in full: ${t.full} (rate 5/s)`);
    assert.ok(t.truncated >= 50, `sent truncated (slip 2): ${t.truncated}`);
    assert.ok(t.missing >= 50, `dropped: ${t.missing}`);
    assert.ok(Math.abs(t.truncated - t.missing) <= 0.2 * (t.truncated + t.missing), `slip 2 truncates about half of what it limits: ${t.truncated} vs ${t.missing}`);
    assert.equal(t.badCookie, 0);

    // The same name from 127.0.0.1 with the valid server cookie: exempt, as in Knot and BIND.
    for (let i = 0; i < 5; i++) assert.ok(isFull(await sendUdp(v4, buildQuery('www.rules.test', 'A', { edns: true, options: [{ code: COOKIE, data: learnt }] }))), 'a valid cookie is not limited');
    // A client cookie alone: what slips out is BADCOOKIE with a fresh cookie, so the client can come back with it.
    const c = await flood(v4, '127.0.0.1', queries(40, 'www.rules.test', [{ code: COOKIE, data: CLIENT }]), 500);
    assert.ok(c.badCookie >= 5, `BADCOOKIE slips: ${c.badCookie}`);
    assert.equal(c.truncated, 0);

    // Another network, another name, and TCP are answered in full.
    for (let i = 0; i < 3; i++) assert.ok(isFull(await sendUdp(v6, buildQuery('www.rules.test', 'A'), '::1')), 'from [::1]');
    assert.ok(isFull(await sendUdp(v4, buildQuery('sip.rules.test', 'A'))), 'another name');
    const [overTcp] = await sendTcp(v4, queries(3, 'www.rules.test'));
    assert.ok(isFull(overTcp!), 'over TCP');

    // The counters, as /metrics shows them.
    const r = s.server.responder;
    const text = await createMetricsRegistry({ queryStats: r.stats, cache: r.cache, health: null, snapshotVersion: () => 1, protection: r.protection }, { defaultMetrics: false }).metrics();
    const value = (re: RegExp): number => Number(re.exec(text)?.[1]);
    assert.ok(value(/meridian_rrl_responses_total\{action="drop"\} (\d+)/) >= t.missing);
    assert.ok(value(/meridian_rrl_responses_total\{action="slip"\} (\d+)/) >= t.truncated + c.badCookie);
    assert.ok(value(/meridian_dns_cookies_total\{cookie="valid"\} (\d+)/) >= 5);
  });

  it('a BADCOOKIE slip carries a fresh server cookie', async () => {
    const [v4] = s.ports as [number, number];
    const socket = dgram.createSocket('udp4');
    const got: Buffer[] = [];
    socket.on('message', (raw) => got.push(raw));
    for (const p of queries(60, 'txt.rules.test', [{ code: COOKIE, data: CLIENT }])) socket.send(p, v4, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 500));
    socket.close();
    const bad = got.filter((raw) => fullRcode(raw) === 23);
    assert.ok(bad.length > 0, `answers: ${got.length}`);
    for (const raw of bad) {
      assert.equal(raw.readUInt16BE(6), 0);
      const cookie = ednsOptions(raw)!.get(COOKIE)!;
      assert.equal(cookie.length, 24);
      assert.deepEqual(cookie.subarray(0, 8), CLIENT);
    }
  });
});

describe('response rate limiting, off (the default)', () => {
  let s: ConfiguredServer;
  before(async () => {
    s = await startConfigured('');
  });
  after(() => s.stop());

  it('answers every query of the same flood', async () => {
    const t = await flood(s.ports[0]!, '127.0.0.1', queries(200, 'www.rules.test'));
    assert.equal(t.full, 200);
  });
});
