/** TCP resource limits (RFC 7766 §6.2): idle timeout, connection cap, slow and half-written clients. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { startServer, type RunningServer } from '../../src/main.js';
import { buildQuery, frame, sendTcp, udp } from '../support/dns-client.js';
import { fixtureZones } from '../support/test-server.js';

let server: RunningServer;
let port: number;

before(async () => {
  const base = loadConfig(null, { listen: ['127.0.0.1:0'], zonesDir: fixtureZones, logLevel: 'silent' }, {});
  const config = {
    ...base,
    zones: { ...base.zones, watch: false },
    dns: { ...base.dns, tcp: { idleTimeoutMs: 300, messageTimeoutMs: 300, maxConnections: 5, maxConnectionsPerClient: 5 } },
    admin: { ...base.admin, listen: null },
  };
  server = await startServer(config, pino({ level: 'silent' }));
  port = server.addresses[0]!.port;
});
after(() => server.close());

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

const closed = (s: net.Socket): Promise<number> => {
  const started = Date.now();
  return new Promise((resolve) => s.once('close', () => resolve(Date.now() - started)));
};

describe('TCP limits', () => {
  it('closes an idle connection after the idle timeout', async () => {
    const s = await connect();
    const ms = await closed(s);
    assert.ok(ms >= 250 && ms < 2000, `closed after ${ms} ms`);
  });

  it('closes a connection whose message never completes, even if it trickles bytes', async () => {
    const s = await connect();
    const q = frame(buildQuery('www.rules.test', 'A'));
    s.write(q.subarray(0, 5));
    const trickle = setInterval(() => {
      if (!s.destroyed) s.write(Buffer.from([0]));
    }, 100);
    const ms = await closed(s);
    clearInterval(trickle);
    assert.ok(ms < 2000, `slow client held the connection ${ms} ms`);
  });

  it('caps concurrent connections and keeps serving after they go', async () => {
    const sockets = await Promise.all(Array.from({ length: 5 }, connect));
    const extra = net.connect(port, '127.0.0.1');
    const extraClosed = await new Promise<boolean>((resolve) => {
      extra.on('close', () => resolve(true));
      extra.on('error', () => undefined);
      setTimeout(() => resolve(false), 1000);
    });
    assert.ok(extraClosed, 'a sixth connection is refused while five are open');
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const [answer] = await sendTcp(port, [buildQuery('www.rules.test', 'A')]);
    assert.equal(answer!.readUInt16BE(6), 1);
    const u = await udp(port, 'www.rules.test', 'A');
    assert.equal(u.msg.answers?.length, 1);
  });

  it('answers a message split across many small writes', async () => {
    const s = await connect();
    const q = frame(buildQuery('mail.rules.test', 'A', { id: 4242 }));
    const got = new Promise<Buffer>((resolve) => s.once('data', resolve));
    for (let i = 0; i < q.length; i++) s.write(q.subarray(i, i + 1));
    const answer = await got;
    assert.equal(answer.readUInt16BE(2), 4242);
    s.destroy();
  });
});
