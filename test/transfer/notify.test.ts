/**
 * NOTIFY out over real sockets (RFC 1996): a fake secondary on loopback receives one for
 * every zone at start, again (same ID) until it answers, and one with the new serial after
 * a zone file is edited and reloaded. An incoming NOTIFY is answered NOTAUTH.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, fixtureZones, type TestServer } from '../support/test-server.js';
import { buildQuery, decode, sendUdp } from '../support/dns-client.js';

interface Received {
  readonly msg: Buffer;
  readonly from: dgram.RemoteInfo;
}

describe('NOTIFY out', () => {
  let dir: string;
  let zones: string;
  let server: TestServer;
  let secondary: dgram.Socket;
  const inbox: Received[] = [];

  const next = (match: (r: Received) => boolean, timeoutMs = 5000): Promise<Received> =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const look = (): void => {
        const i = inbox.findIndex(match);
        if (i >= 0) return resolve(inbox.splice(i, 1)[0]!);
        if (Date.now() - started > timeoutMs) return reject(new Error('no such NOTIFY in time'));
        setTimeout(look, 20);
      };
      look();
    });
  const zoneOf = (r: Received): string => decode(r.msg).questions[0]!.name;
  const answer = (r: Received): void => {
    const reply = Buffer.from(r.msg.subarray(0, 12));
    reply[2] = 0xa4; // QR, NOTIFY, AA
    reply.writeUInt16BE(0, 4);
    reply.writeUInt16BE(0, 6);
    secondary.send(reply, r.from.port, r.from.address);
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-notify-'));
    zones = path.join(dir, 'zones');
    fs.cpSync(fixtureZones, zones, { recursive: true });
    secondary = dgram.createSocket('udp4');
    secondary.on('message', (msg, from) => inbox.push({ msg, from }));
    await new Promise<void>((resolve) => secondary.bind(0, '127.0.0.1', () => resolve()));
    const config = path.join(dir, 'config.yaml');
    fs.writeFileSync(config, `dns:\n  transfer:\n    notify: ["127.0.0.1:${secondary.address().port}"]\n`);
    server = await startTestServer(zones, config);
  });

  after(async () => {
    await server.close();
    secondary.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sends every zone at start, resends one not answered with the same ID, stops once answered', async () => {
    const first = await next((r) => zoneOf(r) === 'rules.test');
    const header = first.msg;
    assert.equal((header[2]! >> 3) & 0x0f, 4, 'opcode NOTIFY');
    assert.equal(header[2]! & 0x80, 0, 'a request');
    assert.equal(header[2]! & 0x04, 0x04, 'AA');
    const soa = decode(header).answers[0]!;
    assert.equal(soa.type, 'SOA');
    assert.equal(soa.data.serial, 2026010101);
    for (const zone of ['other.test', 'child.rules.test']) answer(await next((r) => zoneOf(r) === zone));
    // Not answered: sent again after a second, with the same ID.
    const again = await next((r) => zoneOf(r) === 'rules.test', 4000);
    assert.equal(again.msg.readUInt16BE(0), header.readUInt16BE(0));
    answer(again);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(inbox.filter((r) => zoneOf(r) === 'rules.test').length, 0, 'no NOTIFY after the answer');
  });

  it('sends the new serial after a zone file edit and reload', async () => {
    const file = path.join(zones, 'other.test.zone');
    const text = fs.readFileSync(file, 'utf8');
    const serial = /SOA\s+\S+\s+\S+\s+\(?\s*(\d+)/.exec(text)![1]!;
    fs.writeFileSync(file, text.replace(serial, String(Number(serial) + 1)));
    server.reload();
    const r = await next((m) => zoneOf(m) === 'other.test' && decode(m.msg).answers[0]?.data.serial === Number(serial) + 1);
    answer(r);
  });

  it('answers an incoming NOTIFY NOTAUTH, as Knot', async () => {
    const q = buildQuery('rules.test.', 'SOA', { id: 77 });
    q[2] = 0x24;
    const r = await sendUdp(server.port, q);
    assert.equal(r[3]! & 0x0f, 9);
    assert.equal((r[2]! >> 3) & 0x0f, 4);
  });
});
