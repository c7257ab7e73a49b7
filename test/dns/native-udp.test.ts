/**
 * Issue #19: the native UDP socket layer (native/udp) on its own, over real sockets: IPv4 and
 * IPv6, batches cut at the batch size, datagrams longer than a slot, answer lengths out of
 * range, replies from each query's destination on wildcard and dual-stack sockets, and a full
 * send buffer (the last two in a network namespace, root only). Skipped where the addon is not
 * built, except under MERIDIAN_REQUIRE_NATIVE=1 (CI), where that fails.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ErrorCode, type GslbError } from '../../src/errors.js';
import { loadConfig } from '../../src/config/load-config.js';
import { startServer } from '../../src/main.js';
import { resolveUdpSocket } from '../../src/server/native-udp.js';
import { buildQuery, sendUdp } from '../support/dns-client.js';
import { fixtureZones, startTestServer } from '../support/test-server.js';
import { createNetNs, netnsUnavailable, type NetNs } from '../support/netns.js';
import { client, echo, nativeUdpOrSkip, openEcho, type EchoSocket } from '../support/native-udp.js';

const { addon, skip } = nativeUdpOrSkip();
if (skip !== false) console.log(`# skipping: ${skip}`);
const scenarioScript = path.join(path.dirname(fileURLToPath(import.meta.url)), '../support/native-udp.js');

describe('native UDP layer over loopback', { skip }, () => {
  const open: EchoSocket[] = [];
  const clients: Array<{ socket: { close(): void } }> = [];
  after(() => {
    for (const s of open.splice(0)) s.close();
    for (const c of clients.splice(0)) c.socket.close();
  });
  const serve = (...args: Parameters<typeof openEcho> extends [unknown, ...infer R] ? R : never): EchoSocket => {
    const s = openEcho(addon!, ...args);
    open.push(s);
    return s;
  };
  const connect = async (type: 'udp4' | 'udp6', host: string): ReturnType<typeof client> => {
    const c = await client(type, host);
    clients.push(c);
    return c;
  };

  it('answers IPv4 and IPv6 datagrams, from the address they were sent to, and counts them', async () => {
    for (const [family, host, type] of [
      [4, '127.0.0.1', 'udp4'],
      [6, '::1', 'udp6'],
    ] as const) {
      const s = serve({ family, host, port: 0 });
      const c = await connect(type, host);
      for (const text of ['one', 'two', 'three']) c.socket.send(Buffer.from(text), s.port, host);
      const replies = await c.waitFor(3);
      assert.deepEqual(replies.map((r) => r.data.toString()).sort(), ['Rone', 'Rthree', 'Rtwo']);
      assert.deepEqual([...new Set(replies.map((r) => r.from))], [host]);
      const n = s.counters();
      assert.equal(n.received, 3);
      assert.equal(n.sent, 3);
      assert.equal(n.truncated + n.sendErrors + n.badLengths + n.recvErrors, 0);
    }
  });

  it('reads no more than the batch size at once, and loses nothing at the edge of a batch', async () => {
    const s = serve({ family: 4, host: '127.0.0.1', port: 0, batch: 4 });
    const c = await connect('udp4', '127.0.0.1');
    const count = 23;
    for (let i = 0; i < count; i++) c.socket.send(Buffer.from(`q${i}`), s.port, '127.0.0.1');
    const replies = await c.waitFor(count);
    assert.equal(replies.length, count);
    assert.deepEqual(new Set(replies.map((r) => r.data.toString())), new Set(Array.from({ length: count }, (_, i) => `Rq${i}`)));
    assert.ok(
      s.batches.every((b) => b >= 1 && b <= 4),
      `batches ${s.batches.join(',')}`,
    );
    assert.equal(
      s.batches.reduce((a, b) => a + b, 0),
      count,
    );
  });

  it('drops and counts a datagram longer than its slot, answering its neighbours in the batch; an empty one is read as empty', async () => {
    const s = serve({ family: 4, host: '127.0.0.1', port: 0, slot: 512, batch: 8 });
    const c = await connect('udp4', '127.0.0.1');
    const sizes = [10, 513, 512, 0, 4000, 11];
    for (const size of sizes) c.socket.send(Buffer.alloc(size, 0x41 + (size % 26)), s.port, '127.0.0.1');
    // 512 octets fit a 512-octet slot but its echo ("R" + 512) does not: refused as a bad length.
    const replies = await c.waitFor(3);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      replies.map((r) => r.data.length).sort((a, b) => a - b),
      [1, 11, 12],
    );
    const n = s.counters();
    assert.equal(n.received, sizes.length);
    assert.equal(n.truncated, 2, 'the 513- and 4000-octet datagrams');
    assert.equal(n.badLengths, 1, 'the 513-octet echo of the 512-octet query');
    assert.equal(n.sent, 3);
  });

  it('refuses answer lengths out of range (negative, past the slot), sends nothing for them, and goes on', async () => {
    const lengths = [-1, -2147483648, 4097, 2147483647];
    const s = serve({ family: 4, host: '127.0.0.1', port: 0, batch: 16 }, (q, i) => (q.toString() === 'ok' ? echo(q, i) : { rawLength: lengths[Number(q.toString())]! }));
    const c = await connect('udp4', '127.0.0.1');
    for (let i = 0; i < lengths.length; i++) c.socket.send(Buffer.from(String(i)), s.port, '127.0.0.1');
    c.socket.send(Buffer.from('ok'), s.port, '127.0.0.1');
    const replies = await c.waitFor(1);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      replies.map((r) => r.data.toString()),
      ['Rok'],
    );
    const n = s.counters();
    assert.equal(n.badLengths, lengths.length);
    assert.equal(n.sent, 1);
  });

  it('closed from inside its own batch: reads nothing more, sends nothing of that batch, frees the port', async () => {
    let socket: EchoSocket | null = null;
    let calls = 0;
    socket = serve({ family: 4, host: '127.0.0.1', port: 0, batch: 2 }, (q, i) => {
      calls++;
      if (i === 0) socket!.close();
      return echo(q, i);
    });
    const c = await connect('udp4', '127.0.0.1');
    for (let i = 0; i < 6; i++) c.socket.send(Buffer.from(`q${i}`), socket.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(c.replies.length, 0);
    assert.ok(calls >= 1 && calls <= 2, `answered ${calls} in the batch it was closed in`);
    assert.equal(socket.counters().sent, 0);
    const again = serve({ family: 4, host: '127.0.0.1', port: socket.port });
    assert.equal(again.port, socket.port);
  });

  it('fails to bind a port in use with the errno code, and frees the port on close', async () => {
    const s = serve({ family: 4, host: '127.0.0.1', port: 0 });
    assert.throws(
      () => addon!.open({ family: 4, host: '127.0.0.1', port: s.port }, () => {}),
      (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE',
    );
    assert.throws(
      () => addon!.open({ family: 4, host: 'not-an-address', port: 0 }, () => {}),
      (err: NodeJS.ErrnoException) => err.code === 'EINVAL',
    );
    s.close();
    const again = serve({ family: 4, host: '127.0.0.1', port: s.port });
    assert.equal(again.port, s.port);
  });
});

const nsSkip = skip !== false ? skip : netnsUnavailable();
describe('native UDP layer in a network namespace', { skip: nsSkip ?? false, timeout: 60_000 }, () => {
  let ns: NetNs | null = null;
  after(async () => {
    await ns?.remove();
  });
  const run = async (scenario: string): Promise<unknown> => {
    const r = await ns!.exec(process.execPath, [scenarioScript, scenario], 30_000);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  };

  it('a wildcard socket (0.0.0.0, [::], dual-stack [::]) answers each query from the address it was sent to', async () => {
    ns = await createNetNs('mdn-nudp');
    for (const a of ['10.53.0.1/32', '10.53.0.2/32', '10.53.0.9/32']) await ns.ip('addr', 'add', a, 'dev', 'lo');
    for (const a of ['fd53::1/128', 'fd53::2/128', 'fd53::9/128']) await ns.ip('addr', 'add', a, 'dev', 'lo', 'nodad');
    const out = (await run('wildcard')) as { sent: Array<{ via: string; to: string }>; replies: Array<{ asked: string; from: string }> };
    assert.equal(out.replies.length, out.sent.length, JSON.stringify(out));
    for (const { via, to } of out.sent) {
      const r = out.replies.find((x) => x.asked === `${via} ${to}`);
      assert.ok(r, `no reply to ${via} ${to}`);
      assert.equal(r.from, to, `${via}: the query went to ${to}, the reply came from ${r.from}`);
    }
    await ns.remove();
    ns = null;
  });

  it('a full send buffer (EAGAIN) waits for writability: every answer arrives, none dropped', async () => {
    ns = await createNetNs('mdn-nudp');
    // A token bucket on lo holds the answers in the queue, charged to the sending socket.
    await ns.exec('tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', '20mbit', 'burst', '1600', 'limit', '10000000']).then((r) => assert.equal(r.code, 0, r.stderr));
    const out = (await run('full-send-buffer')) as { count: number; replies: number; distinct: number; counters: { sendWaits: number; sent: number; sendErrors: number } };
    assert.ok(out.counters.sendWaits > 0, `the send buffer never filled: ${JSON.stringify(out)}`);
    assert.equal(out.replies, out.count, JSON.stringify(out));
    assert.equal(out.distinct, out.count);
    assert.equal(out.counters.sent, out.count);
    assert.equal(out.counters.sendErrors, 0);
    await ns.remove();
    ns = null;
  });
});

describe('dns.udpSocket', () => {
  const unavailable = (): { addon: null; reason: string } => ({ addon: null, reason: 'not built here' });
  it('"native" where the addon cannot load is an error naming the field; "auto" falls back to node:dgram and says so once', () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    assert.throws(
      () => resolveUdpSocket('native', log, false, unavailable),
      (err: GslbError) => err.code === ErrorCode.GSLB_ERR_CONFIG_INVALID && err.message.includes('dns.udpSocket: "native" but not built here'),
    );
    assert.equal(resolveUdpSocket('auto', log, false, unavailable), 'dgram');
    assert.equal(resolveUdpSocket('auto', log, false, unavailable), 'dgram');
    assert.equal(lines.length, 1, lines.join(''));
    assert.match(lines[0]!, /using node:dgram.*not built here|not built here.*using node:dgram/);
    assert.equal(resolveUdpSocket('dgram', log, false), 'dgram');
  });

  it('"native" with workers sharing one socket (dns.reusePort off) is refused at start, naming the field', async () => {
    const base = loadConfig(null, { listen: ['127.0.0.1:0'], zonesDir: fixtureZones, logLevel: 'silent' }, {});
    const config = { ...base, dns: { ...base.dns, udpSocket: 'native' as const, workers: 2, reusePort: 'off' as const }, admin: { ...base.admin, listen: null } };
    await assert.rejects(
      startServer(config, pino({ level: 'silent' })),
      (err: GslbError) => err.code === ErrorCode.GSLB_ERR_CONFIG_INVALID && err.message.includes('dns.udpSocket: "native" with dns.workers > 1 needs dns.reusePort'),
    );
  });

  it('"native" serves where the addon is built, counts what it reads and sends, and shows its drops in /metrics', { skip }, async () => {
    const server = await startTestServer(fixtureZones, null, { udpSocket: 'native', admin: '127.0.0.1:0' });
    try {
      assert.equal(server.udp?.socket, 'native');
      const query = buildQuery('example.com', 'SOA');
      const reply = await sendUdp(server.port, query, '127.0.0.1', 2000);
      assert.equal(reply.readUInt16BE(0), query.readUInt16BE(0), 'the query id');
      assert.ok(reply[2]! & 0x80, 'a response');
      // A query longer than a slot (4096 octets) is dropped, and counted.
      await assert.rejects(sendUdp(server.port, Buffer.concat([query, Buffer.alloc(5000)]), '127.0.0.1', 300));
      const n = server.udp.counters()!;
      assert.equal(n.received, 2);
      assert.equal(n.sent, 1);
      assert.equal(n.truncated, 1);
      const metrics = await (await fetch(`http://127.0.0.1:${server.adminAddress!.port}/metrics`)).text();
      assert.match(metrics, /^meridian_dns_udp_native_dropped_total\{reason="truncated"\} 1$/m);
      assert.match(metrics, /^meridian_dns_udp_native_send_waits_total 0$/m);
    } finally {
      await server.close();
    }
  });
});
