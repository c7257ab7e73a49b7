/**
 * One client cannot shut TCP for everyone (issue #14, item 4; RFC 7766 §6.2.2, §6.2.3): a
 * per-client connection cap, idle timeouts that shrink as the table fills, and room made for a
 * new client when it is full. Clients come from distinct 127.0.0.0/8 source addresses, all
 * local on Linux.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { startServer, type RunningServer } from '../../src/main.js';
import { clientKey, TcpConnectionTable } from '../../src/server/tcp-connections.js';
import { buildQuery, frame } from '../support/dns-client.js';
import { fixtureZones } from '../support/test-server.js';

const servers: RunningServer[] = [];
const clients = new Set<net.Socket>();
after(async () => {
  for (const c of clients) c.destroy();
  await Promise.all(servers.map((s) => s.close()));
});

async function start(tcp: { idleTimeoutMs: number; maxConnections: number; maxConnectionsPerClient: number }): Promise<number> {
  const base = loadConfig(null, { listen: ['127.0.0.1:0'], zonesDir: fixtureZones, logLevel: 'silent' }, {});
  const config = {
    ...base,
    zones: { ...base.zones, watch: false },
    health: { ...base.health, stateFile: null },
    admin: { ...base.admin, listen: null },
    dns: { ...base.dns, tcp: { ...base.dns.tcp, ...tcp } },
  };
  const server = await startServer(config, pino({ level: 'silent' }));
  servers.push(server);
  return server.addresses[0]!.port;
}

interface Held {
  readonly socket: net.Socket;
  /** Resolves when the server closes it. */
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

/** An idle connection from `from`, once connected (the server may close it at once). */
function hold(port: number, from: string): Promise<Held> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    clients.add(socket);
    let isClosed = false;
    const closed = new Promise<void>((r) => socket.once('close', () => ((isClosed = true), r())));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, closed, isClosed: () => isClosed }));
    socket.once('close', () => reject(new Error(`connection from ${from} failed`)));
  });
}

async function holdMany(port: number, from: string, n: number): Promise<Held[]> {
  const out: Held[] = [];
  // In batches, within the listen backlog.
  for (let i = 0; i < n; i += 100) out.push(...(await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => hold(port, from)))));
  return out;
}

/** One TCP query from `from`: the answer's ANCOUNT, or the failure. */
function queryFrom(port: number, from: string, timeoutMs = 3000): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from }, () => socket.write(frame(buildQuery('www.rules.test', 'A'))));
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TCP answer for ${from} in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(got.readUInt16BE(2 + 6));
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`the server closed ${from}'s connection without an answer`));
    });
  });
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('TCP clients', () => {
  it('1,000 idle connections from one address do not stop another address, and its own extra ones are closed', async () => {
    const port = await start({ idleTimeoutMs: 60_000, maxConnections: 1000, maxConnectionsPerClient: 16 });
    const flood = await holdMany(port, '127.0.0.1', 1000);
    assert.equal(await queryFrom(port, '127.0.0.2'), 1, 'another address is answered at once');
    await until(() => flood.filter((h) => !h.isClosed()).length <= 16, 'all but 16 of the flood closed');
    const more = await hold(port, '127.0.0.1').catch(() => null);
    if (more !== null) await more.closed; // closed at once: the flood's address holds its 16
    assert.equal(flood.filter((h) => !h.isClosed()).length, 16, 'the 16 admitted stay until their idle timeout');
    for (const h of flood) h.socket.destroy();
  });

  it('when the table is full, a new client gets in', async () => {
    const port = await start({ idleTimeoutMs: 10_000, maxConnections: 40, maxConnectionsPerClient: 4 });
    // 15 clients of four connections each: 60 > 40.
    const heavy: Held[] = [];
    for (let i = 10; i < 25; i++) heavy.push(...(await holdMany(port, `127.0.0.${i}`, 4)));
    await until(() => heavy.filter((h) => !h.isClosed()).length <= 40, 'the table holds at most 40');
    assert.equal(await queryFrom(port, '127.0.0.2'), 1, 'a new client is answered while the table is full');
    for (const h of heavy) h.socket.destroy();
  });

  it('closes idle connections early once the table is more than half full', async () => {
    const port = await start({ idleTimeoutMs: 10_000, maxConnections: 40, maxConnectionsPerClient: 40 });
    const held = await holdMany(port, '127.0.0.1', 38); // 95 % full: idle timeout 1 s
    await new Promise((r) => setTimeout(r, 1500));
    const started = Date.now();
    assert.equal(await queryFrom(port, '127.0.0.2'), 1);
    await Promise.all(held.map((h) => h.closed));
    const ms = Date.now() - started;
    assert.ok(ms < 5000, `idle connections closed ${ms} ms after the new one, well before the 10 s idle timeout`);
  });
});

describe('TcpConnectionTable', () => {
  it('counts an IPv4 address, or an IPv6 /64, as one client', () => {
    assert.equal(clientKey('192.0.2.1'), '192.0.2.1');
    assert.equal(clientKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(clientKey('2001:db8:1:2:aaaa::1'), clientKey('2001:db8:1:2:ffff:1:2:3'));
    assert.notEqual(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:3::1'));
  });

  const closedBy: string[] = [];
  const fake = (address: string, label = address): net.Socket => ({ remoteAddress: address, destroy: () => closedBy.push(label) }) as unknown as net.Socket;

  it('when full, closes the least recently active connection of the client holding the most', () => {
    closedBy.length = 0;
    let now = 0;
    const table = new TcpConnectionTable({ maxConnections: 6, maxConnectionsPerClient: 4, idleTimeoutMs: 60_000 }, () => now);
    table.admit(fake('192.0.2.1', 'a1'));
    const b = ['b1', 'b2', 'b3'].map((label) => table.admit(fake('192.0.2.2', label))!);
    table.admit(fake('192.0.2.3', 'c1'));
    table.admit(fake('192.0.2.3', 'c2'));
    now = 10;
    table.touch(b[0]!); // b2 is now b's idlest
    assert.ok(table.admit(fake('192.0.2.4', 'd1')));
    assert.deepEqual(closedBy, ['b2']);
    assert.ok(table.admit(fake('192.0.2.4', 'd2')));
    assert.deepEqual(closedBy, ['b2', 'c1'], 'b and c hold two each now; c got there first');
    assert.equal(table.size, 6);
  });

  it('shrinks the idle timeout from half full to full, never below 500 ms', () => {
    const table = new TcpConnectionTable({ maxConnections: 100, maxConnectionsPerClient: 1, idleTimeoutMs: 10_000 }, () => 0);
    const at: number[] = [];
    for (let i = 0; i < 100; i++) {
      assert.ok(table.admit(fake(`10.0.0.${i}`)));
      if ((i + 1) % 25 === 0) at.push(table.idleTimeoutMs());
    }
    assert.deepEqual(at, [10_000, 10_000, 5_000, 500]);
    assert.equal(table.admit(fake('10.0.0.0')), null, 'a client at its cap is refused');
  });
});
