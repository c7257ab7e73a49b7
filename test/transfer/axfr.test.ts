/**
 * AXFR out over real sockets (RFC 5936): kdig takes whole zones from an allowed address, in
 * many compressed messages for a large one; a client that stops reading stalls only its own
 * transfer; everyone and everything not allowed gets what Knot answers (NOTAUTH; NOTIMP for AXFR over UDP).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestServer, fixtureZones, type TestServer } from '../support/test-server.js';
import { buildQuery, frame, rcodeOf, udp } from '../support/dns-client.js';
import { loadConfig } from '../../src/config/load-config.js';

const run = promisify(execFile);

/** kdig's answer: its exit code, the records (one a line) and the messages it reports. */
async function kdig(port: number, ...args: string[]): Promise<{ ok: boolean; records: string[]; messages: number; text: string }> {
  let text: string;
  let ok = true;
  try {
    text = (await run('kdig', ['-p', String(port), '@127.0.0.1', '+nocomments', ...args], { maxBuffer: 1 << 28 })).stdout;
  } catch (err) {
    const e = err as { stdout: string; stderr: string };
    text = e.stdout + e.stderr;
    ok = false;
  }
  const records = text.split('\n').filter((l) => l !== '' && !l.startsWith(';'));
  const messages = Number(/Received \d+ B \((\d+) messages/.exec(text)?.[1] ?? 0);
  return { ok, records, messages, text };
}

const BIG_NAMES = 30_000;

function writeConfig(dir: string, allow: string[]): string {
  const file = path.join(dir, `config-${allow.length}.yaml`);
  fs.writeFileSync(file, `dns:\n  transfer:\n    allow: [${allow.map((a) => JSON.stringify(a)).join(', ')}]\n`);
  return file;
}

describe('AXFR out', () => {
  let dir: string;
  let server: TestServer;
  let closed: TestServer;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-axfr-'));
    const zones = path.join(dir, 'zones');
    fs.cpSync(fixtureZones, zones, { recursive: true });
    const lines = ['$ORIGIN big.test.', '@ 3600 IN SOA ns1 hostmaster 7 7200 3600 1209600 60', '@ 3600 IN NS ns1', 'ns1 300 IN A 192.0.2.1'];
    for (let i = 0; i < BIG_NAMES; i++) lines.push(`host-${i}.pool 300 IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    fs.writeFileSync(path.join(zones, 'big.test.zone'), lines.join('\n') + '\n');
    server = await startTestServer(zones, writeConfig(dir, ['10.0.0.0/8', '127.0.0.0/30', '::1']));
    closed = await startTestServer(zones, writeConfig(dir, []));
  });

  after(async () => {
    await server.close();
    await closed.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sends an allowed client the whole zone, SOA first and last, every record once', async () => {
    const r = await kdig(server.port, 'AXFR', 'rules.test.');
    assert.ok(r.ok, r.text);
    assert.match(r.records[0]!, /\bSOA\b.*2026010101/);
    assert.match(r.records.at(-1)!, /\bSOA\b.*2026010101/);
    const zone = server.store.current.zones.get('rules.test')!;
    // recordCount counts the SOA once; the transfer sends it twice.
    assert.equal(r.records.length, zone.recordCount + 1);
    assert.equal(new Set(r.records.slice(1, -1)).size, r.records.length - 2, 'no record twice');
    assert.ok(r.records.some((l) => /^mxbig\.rules\.test\.\s+300\s+IN\s+MX\s+11 mx11\.rules\.test\.$/.test(l)));
    assert.ok(r.records.some((l) => /^\*\.wild\.rules\.test\.\s+300\s+IN\s+TXT\s+"wildcard"$/.test(l)));
  });

  it('streams a large zone in many messages of at most 64 KB', async () => {
    const r = await kdig(server.port, 'AXFR', 'big.test.');
    assert.ok(r.ok, r.text.slice(-500));
    assert.equal(r.records.length, BIG_NAMES + 4);
    assert.ok(r.messages > 10, `${r.messages} messages`);
    assert.equal(new Set(r.records).size, BIG_NAMES + 3);
  });

  it('goes on answering others while a client that stopped reading holds a transfer', async () => {
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.pause();
    socket.write(frame(buildQuery('big.test.', 'AXFR', { id: 4242 })));
    // The server fills the socket's buffers and waits for them to drain; meanwhile it answers.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { msg } = await udp(server.port, 'ns1.big.test.', 'A');
    assert.equal(msg.answers[0]?.data, '192.0.2.1');
    // Then the stalled client reads on and gets the whole zone.
    let received = Buffer.alloc(0);
    let soas = 0;
    let records = 0;
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        while (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
          const message = received.subarray(2, 2 + received.readUInt16BE(0));
          received = received.subarray(2 + message.length);
          assert.equal(message.readUInt16BE(0), 4242);
          assert.equal(rcodeOf(message), 0);
          records += message.readUInt16BE(6);
          // SOA of big.test. compresses to a pointer at QNAME: c0 0c 00 06.
          for (let i = 12; i + 4 <= message.length; i++) if (message.readUInt32BE(i) === 0xc00c0006) soas++;
          if (soas === 2) {
            socket.destroy();
            resolve();
          }
        }
      });
      socket.on('error', reject);
      socket.resume();
    });
    assert.equal(records, BIG_NAMES + 4);
  });

  it('answers NOTAUTH to a client outside the allowed list and for a zone not served, NOTIMP to AXFR over UDP (as Knot)', async () => {
    const r = await kdig(closed.port, 'AXFR', 'rules.test.');
    assert.equal(r.ok, false);
    assert.match(r.text, /NOTAUTH/);
    assert.equal(r.records.length, 0);
    const unknown = await kdig(server.port, 'AXFR', 'nope.test.');
    assert.match(unknown.text, /NOTAUTH/);
    const below = await kdig(server.port, 'AXFR', 'c1.rules.test.');
    assert.match(below.text, /NOTAUTH/);
    const overUdp = await udp(server.port, 'rules.test.', 'AXFR');
    assert.equal(rcodeOf(overUdp.raw), 4, 'NOTIMP, as Knot');
    const ixfrOverUdp = await udp(server.port, 'rules.test.', 'IXFR');
    assert.equal(rcodeOf(ixfrOverUdp.raw), 9, 'NOTAUTH, as Knot');
    // The closed server still answers ordinary queries on TCP.
    const soa = await kdig(closed.port, '+tcp', 'SOA', 'rules.test.');
    assert.ok(soa.ok);
    assert.match(soa.records[0]!, /SOA/);
  });

  it('answers IXFR from a current serial with the SOA alone, from an old one AXFR-style (RFC 1995 §4)', async () => {
    const current = await kdig(server.port, 'IXFR=2026010101', 'rules.test.');
    assert.ok(current.ok, current.text);
    assert.equal(current.records.length, 1);
    const old = await kdig(server.port, 'IXFR=1', 'rules.test.');
    assert.ok(old.ok, old.text);
    assert.equal(old.records.length, server.store.current.zones.get('rules.test')!.recordCount + 1);
  });

  it('rejects a malformed allow entry with file:line and the field', () => {
    for (const [bad, why] of [
      ['10.0.0.1/8', /host bits/],
      ['10.0.0.0/33', /prefix length/],
      ['example.com', /not an IPv4 or IPv6/],
      ['__proto__', /not an IPv4/],
    ] as const) {
      const file = path.join(dir, 'bad.yaml');
      fs.writeFileSync(file, `dns:\n  transfer:\n    allow:\n      - 127.0.0.1\n      - ${JSON.stringify(bad)}\n`);
      assert.throws(
        () => loadConfig(file, {}, {}),
        (err: Error) => {
          assert.match(err.message, new RegExp(`bad\\.yaml:5: dns\\.transfer\\.allow\\[1\\]: `));
          assert.match(err.message, why);
          return true;
        },
      );
    }
  });
});
