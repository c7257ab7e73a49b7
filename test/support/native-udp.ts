/**
 * The native UDP addon (native/udp) driven directly, for its tests: a socket that answers each
 * datagram with what `answer` returns, and a node:dgram client. Also run as a script inside a
 * network namespace (test/dns/native-udp.test.ts): `node native-udp.js <scenario>` prints
 * one JSON line with what it saw.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { loadNativeUdp, type NativeOpened, type NativeOpenOptions, type NativeUdpAddon, type NativeUdpCounters } from '../../src/server/native-udp.js';

/** The addon, or why the tests of it cannot run; MERIDIAN_REQUIRE_NATIVE=1 (CI) makes its absence a failure. */
export function nativeUdpOrSkip(): { addon: NativeUdpAddon | null; skip: string | false } {
  const { addon, reason } = loadNativeUdp();
  if (addon !== null) return { addon, skip: false };
  if (process.env.MERIDIAN_REQUIRE_NATIVE === '1') throw new Error(`MERIDIAN_REQUIRE_NATIVE=1 but the native UDP layer is unavailable: ${reason}`);
  return { addon: null, skip: `native UDP layer unavailable: ${reason}` };
}

/** Answer for one datagram: bytes to send, a raw length to write into meta (malformed on purpose), or null for none. */
export type Answer = (query: Buffer, slot: number) => Buffer | { rawLength: number } | null;

export interface EchoSocket {
  readonly port: number;
  /** The size of each batch handed to JS, in order. */
  readonly batches: number[];
  counters(): NativeUdpCounters;
  close(): void;
}

/** "R" and the query: what EchoSocket answers unless told otherwise. */
export const echo: Answer = (q) => Buffer.concat([Buffer.from('R'), q]);

export function openEcho(addon: NativeUdpAddon, options: NativeOpenOptions, answer: Answer = echo): EchoSocket {
  const slot = options.slot ?? 4096;
  const batches: number[] = [];
  let opened: NativeOpened | null = null;
  opened = addon.open(options, (count) => {
    batches.push(count);
    const { rx, tx, meta } = opened!;
    for (let i = 0; i < count; i++) {
      const length = meta.readInt32LE(i * 32);
      if (length < 0) continue;
      const out = answer(Buffer.from(rx.subarray(i * slot, i * slot + length)), i);
      if (out === null) continue;
      if (Buffer.isBuffer(out)) {
        out.copy(tx, i * slot);
        meta.writeInt32LE(out.length, i * 32 + 4);
      } else meta.writeInt32LE(out.rawLength, i * 32 + 4);
    }
  });
  const o = opened;
  return { port: o.port, batches, counters: () => addon.counters(o.socket), close: () => addon.close(o.socket) };
}

export interface Reply {
  readonly data: Buffer;
  /** The address the reply came from. */
  readonly from: string;
}

/** A node:dgram client bound to `bindHost`, collecting every reply. */
export async function client(type: 'udp4' | 'udp6', bindHost: string): Promise<{ socket: dgram.Socket; replies: Reply[]; waitFor(n: number, ms?: number): Promise<Reply[]> }> {
  const socket = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
  const replies: Reply[] = [];
  const waiters: Array<() => void> = [];
  socket.on('message', (data, rinfo) => {
    replies.push({ data, from: rinfo.address });
    for (const w of waiters.splice(0)) w();
  });
  socket.bind(0, bindHost);
  await once(socket, 'listening');
  socket.setRecvBufferSize(8 * 1024 * 1024);
  const waitFor = async (n: number, ms = 5000): Promise<Reply[]> => {
    const deadline = Date.now() + ms;
    while (replies.length < n && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
    return replies;
  };
  return { socket, replies, waitFor };
}

/** Scenarios run inside a network namespace the test has set up (see test/dns/native-udp.test.ts). */
async function runScenario(name: string): Promise<unknown> {
  const { addon } = loadNativeUdp();
  if (addon === null) throw new Error('native UDP layer unavailable');
  if (name === 'wildcard') {
    // One socket per wildcard: each reply must come from the address its query was sent to.
    const v4 = openEcho(addon, { family: 4, host: '0.0.0.0', port: 0 });
    const v6 = openEcho(addon, { family: 6, host: '::', port: 0, v6only: true });
    const dual = openEcho(addon, { family: 6, host: '::', port: 0, v6only: false });
    const c4 = await client('udp4', '10.53.0.9');
    const c6 = await client('udp6', 'fd53::9');
    const sent: Array<{ via: string; to: string }> = [];
    const ask = (c: dgram.Socket, via: string, to: string, port: number): void => {
      sent.push({ via, to });
      c.send(Buffer.from(`${via} ${to}`), port, to);
    };
    for (const to of ['10.53.0.1', '10.53.0.2', '127.0.0.1']) ask(c4.socket, 'v4', to, v4.port);
    for (const to of ['fd53::1', 'fd53::2', '::1']) ask(c6.socket, 'v6', to, v6.port);
    for (const to of ['10.53.0.1', '10.53.0.2']) ask(c4.socket, 'dual', to, dual.port);
    for (const to of ['fd53::1', 'fd53::2']) ask(c6.socket, 'dual', to, dual.port);
    await Promise.all([c4.waitFor(5), c6.waitFor(5)]);
    const replies = [...c4.replies, ...c6.replies].map((r) => ({ asked: r.data.subarray(1).toString(), from: r.from }));
    for (const s of [v4, v6, dual]) s.close();
    c4.socket.close();
    c6.socket.close();
    return { sent, replies };
  }
  if (name === 'full-send-buffer') {
    // The smallest send buffer, and lo slowed by a token bucket (the test sets it up): sendmmsg
    // meets EAGAIN; every answer must still arrive, none dropped.
    const count = 400;
    const s = openEcho(addon, { family: 4, host: '127.0.0.1', port: 0, sendBuffer: 1, recvBuffer: 4 * 1024 * 1024 }, (q) => Buffer.concat([q, Buffer.alloc(1200 - q.length, 0x61)]));
    const c = await client('udp4', '127.0.0.1');
    for (let i = 0; i < count; i++) c.socket.send(Buffer.from(String(i).padStart(4, '0')), s.port, '127.0.0.1');
    const replies = await c.waitFor(count, 20_000);
    const ids = new Set(replies.map((r) => r.data.subarray(0, 4).toString()));
    const counters = s.counters();
    s.close();
    c.socket.close();
    return { count, replies: replies.length, distinct: ids.size, counters };
  }
  throw new Error(`unknown scenario ${name}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runScenario(process.argv[2] ?? '').then(
    (out) => console.log(JSON.stringify(out)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
