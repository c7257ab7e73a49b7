/**
 * The native UDP socket layer (native/udp, issue #19): recvmmsg/sendmmsg batches, each answer
 * sent from the address its query was sent to. This file loads the addon (once), decides
 * between it and node:dgram (`dns.udpSocket`), and holds the listener that feeds its batches
 * to the responder.
 */
import cluster from 'node:cluster';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Responder } from '../answer/responder.js';
import { ErrorCode, GslbError } from '../errors.js';
import { formatIPv4, formatIPv6 } from '../net/ip-format.js';
import type { ListenAddress } from '../net/listen-address.js';
import type { Received } from './udp-listener.js';

/** Datagrams read per recvmmsg (and answers per sendmmsg). */
export const NATIVE_BATCH = 64;
/** Octets per datagram slot: the largest UDP answer we send (dns.udpPayloadSize ≤ 4096); a longer query is dropped and counted. */
export const NATIVE_SLOT = 4096;
/** int32 fields per slot in `meta` (native/udp/udp.cc says what each is). */
const META = 8;

/** What one native socket has counted (native/udp/udp.cc, struct Counters). */
export interface NativeUdpCounters {
  received: number;
  truncated: number;
  sent: number;
  sendErrors: number;
  sendWaits: number;
  badLengths: number;
  recvErrors: number;
  batches: number;
}

export interface NativeOpenOptions {
  family: 4 | 6;
  host: string;
  port: number;
  batch?: number;
  slot?: number;
  reusePort?: boolean;
  /** IPv6 only (IPV6_V6ONLY); false: a dual-stack socket that also reads IPv4 as ::ffff:a.b.c.d. */
  v6only?: boolean;
  recvBuffer?: number;
  sendBuffer?: number;
}

/** One open native socket: `rx`/`tx` hold a slot per datagram, `meta` describes them. */
export interface NativeOpened {
  readonly socket: object;
  readonly port: number;
  readonly rx: Buffer;
  readonly tx: Buffer;
  readonly meta: Buffer;
}

/** The addon's functions (native/udp/udp.cc). */
export interface NativeUdpAddon {
  open(options: NativeOpenOptions, onBatch: (count: number) => void): NativeOpened;
  close(socket: object): void;
  counters(socket: object): NativeUdpCounters;
}

export type UdpSocketKind = 'native' | 'dgram';

let loaded: { addon: NativeUdpAddon | null; reason: string } | null = null;
let fallbackLogged = false;

/** The addon, or why it cannot be used here; loaded once per process. */
export function loadNativeUdp(): { addon: NativeUdpAddon | null; reason: string } {
  if (loaded !== null) return loaded;
  if (process.platform !== 'linux') return (loaded = { addon: null, reason: `it is built for Linux only, this is ${process.platform}` });
  // dist/src/server/ or src/server/: the project root is two or three folders up.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = ['../../..', '../..'].map((up) => path.resolve(here, up, 'native/udp/build/Release/meridian_udp.node'));
  // MERIDIAN_NATIVE_UDP names another build of it (native/asan-test.sh: the AddressSanitizer one).
  const file = process.env.MERIDIAN_NATIVE_UDP || candidates.find((c) => fs.existsSync(c));
  if (file === undefined) return (loaded = { addon: null, reason: 'native/udp is not built (npm ci builds it; see native/build.mjs)' });
  try {
    return (loaded = { addon: createRequire(import.meta.url)(file) as NativeUdpAddon, reason: '' });
  } catch (err) {
    return (loaded = { addon: null, reason: `${file} does not load: ${(err as Error).message}` });
  }
}

/**
 * `dns.udpSocket` turned into the layer this process uses. "native" where the addon cannot
 * work is an error naming the field; "auto" falls back to node:dgram and says so once. A
 * cluster worker without reusePort reads the one socket node:cluster shares, which only
 * node:dgram can.
 */
export function resolveUdpSocket(setting: 'auto' | 'native' | 'dgram', log: Logger, reusePort: boolean, loader = loadNativeUdp): UdpSocketKind {
  if (setting === 'dgram') return 'dgram';
  const sharedByCluster = cluster.isWorker && !reusePort;
  const why = sharedByCluster ? 'a worker sharing one socket through node:cluster (dns.reusePort off) needs node:dgram' : loader().reason;
  if (why === '') return 'native';
  if (setting === 'native') throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `dns.udpSocket: "native" but ${why}; set it to "auto" or "dgram"`);
  if (!fallbackLogged && !sharedByCluster) {
    fallbackLogged = true;
    log.warn({ reason: why }, 'native UDP socket layer unavailable: using node:dgram (one system call per datagram, no per-packet destination address)');
  }
  return 'dgram';
}

/**
 * One native UDP socket in front of the responder. Each batch is answered synchronously, as
 * UdpListener answers each datagram: parse, answer, and write the answer into the slot the
 * addon sends from, from the address the query was sent to.
 */
export class NativeUdpListener {
  readonly #addon: NativeUdpAddon;
  readonly #responder: Responder;
  readonly #log: Logger;
  readonly #received: Received;
  readonly #reusePort: boolean;
  #opened: NativeOpened | null = null;
  #meta: Int32Array = new Int32Array(0);
  #metaBytes: Uint8Array = new Uint8Array(0);
  /** The last source address formatted, by its octets as int32s: a client's queries come in runs. */
  #lastV4Key = 0;
  #lastV4 = '0.0.0.0';
  readonly #lastV6Key = new Int32Array(4);
  #lastV6 = '::';

  constructor(addon: NativeUdpAddon, responder: Responder, log: Logger, received: Received, reusePort = false) {
    this.#addon = addon;
    this.#responder = responder;
    this.#log = log;
    this.#received = received;
    this.#reusePort = reusePort;
  }

  listen(address: ListenAddress): Promise<{ host: string; port: number }> {
    try {
      const o = this.#addon.open(
        { family: address.family, host: address.host, port: address.port, batch: NATIVE_BATCH, slot: NATIVE_SLOT, reusePort: this.#reusePort, v6only: true, recvBuffer: 4 * 1024 * 1024 },
        (count) => this.#onBatch(count),
      );
      this.#opened = o;
      this.#meta = new Int32Array(o.meta.buffer, o.meta.byteOffset, o.meta.length / 4);
      this.#metaBytes = new Uint8Array(o.meta.buffer, o.meta.byteOffset, o.meta.length);
      return Promise.resolve({ host: address.host, port: o.port });
    } catch (err) {
      // Worded as node:dgram words it ("bind EADDRINUSE 127.0.0.1:53"), whichever layer failed.
      const code = (err as NodeJS.ErrnoException).code ?? 'EINVAL';
      return Promise.reject(Object.assign(new Error(`${(err as Error).message.split(':')[0]} ${code} ${address.host}:${address.port}`), { code }));
    }
  }

  /** What the socket has counted (all zero before listen()). */
  counters(): NativeUdpCounters {
    if (this.#opened === null) return { received: 0, truncated: 0, sent: 0, sendErrors: 0, sendWaits: 0, badLengths: 0, recvErrors: 0, batches: 0 };
    return this.#addon.counters(this.#opened.socket);
  }

  close(): Promise<void> {
    if (this.#opened !== null) this.#addon.close(this.#opened.socket);
    return Promise.resolve();
  }

  #onBatch(count: number): void {
    this.#received.udp += count;
    const { rx, tx } = this.#opened!;
    const meta = this.#meta;
    for (let i = 0; i < count; i++) {
      const m = i * META;
      const length = meta[m]!;
      if (length < 0) continue; // longer than a slot: counted by the addon
      const at = i * NATIVE_SLOT;
      const source = this.#source(m);
      let out: Buffer | null;
      try {
        out = this.#responder.respond(rx.subarray(at, at + length), 'udp', source, meta[m + 3]);
      } catch (err) {
        // A bug must cost one answer, never the process.
        this.#log.error({ err, client: source }, 'failed to answer a UDP query');
        continue;
      }
      if (out === null) continue;
      // An answer longer than a slot is not copied; the addon refuses its length and counts it.
      if (out.length <= NATIVE_SLOT) tx.set(out, at);
      meta[m + 1] = out.length;
    }
  }

  /** Slot m's source address as node:dgram writes it (inet_ntop: ::ffff:a.b.c.d for a mapped IPv4). */
  #source(m: number): string {
    const meta = this.#meta;
    if (meta[m + 2] === 4) {
      const key = meta[m + 4]!;
      if (key !== this.#lastV4Key) {
        this.#lastV4Key = key;
        this.#lastV4 = formatIPv4(this.#metaBytes, (m + 4) * 4);
      }
      return this.#lastV4;
    }
    const last = this.#lastV6Key;
    if (meta[m + 4] !== last[0] || meta[m + 5] !== last[1] || meta[m + 6] !== last[2] || meta[m + 7] !== last[3]) {
      last.set(meta.subarray(m + 4, m + 8));
      this.#lastV6 = formatIPv6(this.#metaBytes, (m + 4) * 4, true);
    }
    return this.#lastV6;
  }
}
