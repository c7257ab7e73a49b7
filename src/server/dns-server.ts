import os from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { Responder } from '../answer/responder.js';
import type { SnapshotStore } from '../snapshot/snapshot.js';
import { ErrorCode, GslbError } from '../errors.js';
import { interfaceAddresses, type InterfaceTable } from './interface-addresses.js';
import { formatListenAddress, isWildcardHost, type ListenAddress } from '../net/listen-address.js';
import { TcpConnectionTable } from './tcp-connections.js';
import { TcpListener, type TcpOptions } from './tcp-listener.js';
import { UdpListener, type Received } from './udp-listener.js';
import { loadNativeUdp, NativeUdpListener, resolveUdpSocket, type NativeUdpCounters, type UdpSocketKind } from './native-udp.js';
import { createProtection } from '../protect/protection.js';
import { TransferServer, type TransferHandler } from '../transfer/transfer-server.js';
import { openQueryLog } from '../log/query-log.js';
import { loadSigner } from '../dnssec/load.js';
import { describeState, KeyReloader } from '../dnssec/reload.js';
import { nameToText } from '../dns/name.js';

export interface BoundAddress {
  readonly host: string;
  readonly port: number;
}

export interface DnsServerOptions {
  readonly tcp: TcpOptions;
  /** How often a wildcard listen address re-reads the interfaces; 0: only on rescan(). */
  readonly interfaceScanMs: number;
  /** The interfaces and their addresses (os.networkInterfaces() unless a test says otherwise). */
  readonly interfaces?: () => InterfaceTable;
  /** Bind sockets of this process's own in each port's SO_REUSEPORT group (a DNS worker with dns.reusePort). */
  readonly reusePort?: boolean;
  /** Answers AXFR and IXFR over TCP (null: the responder refuses them). */
  readonly transfer?: TransferHandler | null;
  /** The UDP socket layer (resolveUdpSocket): the native addon or node:dgram (the default). */
  readonly udpSocket?: UdpSocketKind;
}

/** A TCP client that stops reading is not written to beyond this (back-pressure). */
const MAX_PENDING_OUTPUT_BYTES = 256 * 1024;

/**
 * The data plane as `dns` configures it: one responder over `store` and the server that feeds
 * it (the main process's, or a DNS worker's), and the DNSSEC keys' reloader (null when no zone
 * is signed; the caller reloads it on SIGHUP and stops it). `clock` is for tests only (the
 * signer's, to run a key rollover over simulated days): no config or flag sets it.
 */
export function createDataPlane(dns: Config['dns'], store: SnapshotStore, log: Logger, reusePort = false, clock?: () => number): { responder: Responder; server: DnsServer; keys: KeyReloader | null } {
  // Keys first: a key problem stops the start before any socket or log file is opened.
  const dnssec = loadSigner(dns, clock === undefined ? {} : { now: clock });
  const responder = new Responder(store, { udpPayloadSize: dns.udpPayloadSize, cacheMaxEntries: dns.cacheMaxEntries, ...createProtection(dns), queryLog: openQueryLog(dns.queryLog, log), dnssec });
  let keys: KeyReloader | null = null;
  if (dnssec !== null) {
    log.info({ zones: [...dnssec.zones.keys()].map((k) => ({ zone: nameToText(dnssec.zones.get(k)!.origin), ...describeState(dnssec.stateOf(k)!) })) }, 'DNSSEC: signing answers to DO=1 queries');
    keys = new KeyReloader(dnssec, dns.dnssec, log);
  }
  const udpSocket = resolveUdpSocket(dns.udpSocket, log, reusePort);
  const transfer = new TransferServer(store, dns.transfer, log);
  const options = { tcp: { ...dns.tcp, maxPendingOutputBytes: MAX_PENDING_OUTPUT_BYTES }, interfaceScanMs: dns.interfaceScanMs, reusePort, udpSocket, transfer };
  const server = new DnsServer(responder, options, log);
  // Last: nothing above may throw with a watch left open.
  keys?.start();
  return { responder, server, keys };
}

/** One address served: a UDP socket and a TCP listener on the same port. */
interface Endpoint extends BoundAddress {
  readonly udp: UdpListener | NativeUdpListener;
  readonly tcp: TcpListener;
}

/** A wildcard listen address and the interface addresses it serves now. */
interface Wildcard {
  readonly address: ListenAddress;
  /** The port every address is served on (the one the OS chose when configured as 0). */
  port: number;
  readonly served: Set<string>;
  /** Addresses that could not be bound, with the reason last logged: retried on every scan. */
  readonly failed: Map<string, string>;
}

/**
 * UDP and TCP on every listen address, sharing one responder and one TCP connection table.
 *
 * A wildcard (0.0.0.0, ::) is served as BIND serves `listen-on { any; }`: one UDP socket and
 * one TCP listener per address of that family on the machine's interfaces, re-read every
 * `interfaceScanMs` and on rescan() (SIGHUP), binding addresses that appeared and closing
 * those that went. node:dgram cannot read a datagram's destination (no IP_PKTINFO), so a
 * wildcard-bound UDP socket answers from whatever source the route picks, which resolvers
 * drop on a machine with several addresses; a socket bound to one address answers from it.
 * TCP is bound the same way (its replies would come from the right address either way) so
 * both transports serve exactly the same addresses, and a wildcard coexists with another
 * daemon on one address of the same port (a stub resolver on 127.0.0.53:53).
 */
export class DnsServer {
  readonly #responder: Responder;
  readonly #options: DnsServerOptions;
  readonly #log: Logger;
  readonly #table: TcpConnectionTable;
  readonly #interfaces: () => InterfaceTable;
  /** Every address served, by "host:port" (formatListenAddress). */
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #wildcards: Wildcard[] = [];
  /** listen() and the scans run one after another, never interleaved. */
  #queue: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  /** What the native UDP sockets a rescan closed had counted. */
  readonly #retiredUdp: NativeUdpCounters = { received: 0, truncated: 0, sent: 0, sendErrors: 0, sendWaits: 0, badLengths: 0, recvErrors: 0, batches: 0 };
  /** Messages read by every socket of this server so far (the listeners count into it). */
  readonly received: Received = { udp: 0, tcp: 0 };

  constructor(responder: Responder, options: DnsServerOptions, log: Logger) {
    this.#responder = responder;
    this.#options = options;
    this.#log = log;
    this.#table = new TcpConnectionTable(options.tcp);
    this.#interfaces = options.interfaces ?? os.networkInterfaces;
  }

  /**
   * Binds each address; with port 0 the OS picks one for UDP and TCP takes the same port (a
   * wildcard then uses it for each of its addresses). Resolves with one entry per address given.
   */
  listen(addresses: readonly ListenAddress[]): Promise<BoundAddress[]> {
    return this.#enqueue(() => this.#listenAll(addresses));
  }

  /** Re-reads the interfaces for each wildcard: binds new addresses, closes those gone. */
  rescan(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#enqueue(async () => {
      for (const w of this.#wildcards) await this.#sync(w);
    }).catch((err: unknown) => this.#log.error({ err }, 'interface scan failed'));
  }

  /** The UDP socket layer in use. */
  get udpSocket(): UdpSocketKind {
    return this.#options.udpSocket ?? 'dgram';
  }

  /** The native sockets' counters summed (drops among them); null on node:dgram. */
  udpCounters(): NativeUdpCounters | null {
    if (this.udpSocket !== 'native') return null;
    const sum = { ...this.#retiredUdp };
    for (const e of this.#endpoints.values()) addNativeCounters(sum, e.udp);
    return sum;
  }

  /** The concrete addresses served now (a wildcard's are listed one by one). */
  get endpoints(): BoundAddress[] {
    return [...this.#endpoints.values()].map(({ host, port }) => ({ host, port }));
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#queue.catch(() => {});
    const all = [...this.#endpoints.values()];
    this.#endpoints.clear();
    await Promise.all(all.flatMap((e) => [e.udp.close(), e.tcp.close()]));
    await this.#options.transfer?.close?.();
    await this.#responder.close();
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => (this.#closed ? Promise.reject(new GslbError(ErrorCode.GSLB_ERR_LISTEN_FAILED, 'the DNS server is closed')) : task()));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #listenAll(addresses: readonly ListenAddress[]): Promise<BoundAddress[]> {
    const bound = new Array<BoundAddress>(addresses.length);
    // Named addresses first: a wildcard on the same port leaves them to their own entry.
    for (const [i, address] of addresses.entries()) {
      if (isWildcardHost(address.host)) continue;
      const port = await this.#bind(address).catch((err: unknown) => {
        throw listenFailed(address, err);
      });
      bound[i] = { host: address.host, port };
    }
    for (const [i, address] of addresses.entries()) {
      if (isWildcardHost(address.host)) bound[i] = await this.#listenWildcard(address);
    }
    if (this.#wildcards.length > 0 && this.#options.interfaceScanMs > 0 && this.#timer === null) {
      this.#timer = setInterval(() => void this.rescan(), this.#options.interfaceScanMs);
      this.#timer.unref();
    }
    return bound;
  }

  async #listenWildcard(address: ListenAddress): Promise<BoundAddress> {
    const w: Wildcard = { address, port: address.port, served: new Set(), failed: new Map() };
    const hosts = this.#wanted(w);
    if (w.port === 0) {
      // The OS picks the port on the first address; every other address takes the same one.
      if (hosts.length === 0) throw listenFailed(address, new Error(`this machine has no IPv${address.family} address`));
      w.port = await this.#bind({ ...address, host: hosts[0]! }).catch((err: unknown) => {
        throw listenFailed(address, err);
      });
      w.served.add(hosts[0]!);
    }
    await this.#sync(w, true);
    if (w.served.size === 0 && w.failed.size > 0) {
      // Nothing at all could be bound (port 53 without the capability, say): do not start deaf.
      throw listenFailed(address, new Error([...w.failed].map(([h, why]) => `${h}: ${why}`).join('; ')));
    }
    if (hosts.length === 0) this.#log.warn({ listen: formatListenAddress(address) }, `no IPv${address.family} address on any interface yet; served as they appear`);
    this.#log.info({ listen: formatListenAddress({ host: address.host, port: w.port }), addresses: [...w.served] }, 'wildcard listen address: serving each interface address');
    this.#wildcards.push(w);
    return { host: address.host, port: w.port };
  }

  /** Brings a wildcard's sockets in line with the interfaces. */
  async #sync(w: Wildcard, starting = false): Promise<void> {
    const wanted = new Set(this.#wanted(w));
    for (const host of w.served) {
      if (wanted.has(host)) continue;
      const key = formatListenAddress({ host, port: w.port });
      const e = this.#endpoints.get(key)!;
      this.#endpoints.delete(key);
      w.served.delete(host);
      // Its counts stay in udpCounters(): a Prometheus counter never goes down.
      addNativeCounters(this.#retiredUdp, e.udp);
      await Promise.all([e.udp.close(), e.tcp.close()]);
      this.#log.info({ address: key }, 'address left the interfaces: stopped serving it');
    }
    for (const host of w.failed.keys()) if (!wanted.has(host)) w.failed.delete(host);
    for (const host of wanted) {
      if (w.served.has(host)) continue;
      const key = formatListenAddress({ host, port: w.port });
      try {
        await this.#bind({ host, port: w.port, family: w.address.family });
        w.served.add(host);
        w.failed.delete(host);
        if (!starting) this.#log.info({ address: key }, 'new interface address: serving it');
      } catch (err) {
        // An IPv6 address still in duplicate address detection cannot be bound yet: retried on the next scan.
        const why = (err as Error).message;
        if (w.failed.get(host) !== why) this.#log.warn({ address: key, error: why }, 'cannot serve an interface address; retrying on each scan');
        w.failed.set(host, why);
      }
    }
  }

  /** The interface addresses a wildcard should serve: all of its family but those a named entry serves on the same port. */
  #wanted(w: Wildcard): string[] {
    let table: InterfaceTable;
    try {
      table = this.#interfaces();
    } catch (err) {
      // Thrown rather than read as "no addresses": a scan must not close every socket.
      throw listenFailed(w.address, new Error(`cannot read the interface addresses (${(err as Error).message}); a sandbox must allow AF_NETLINK sockets, or name the addresses in dns.listen`));
    }
    return interfaceAddresses(w.address.family, table).filter((host) => w.served.has(host) || !this.#endpoints.has(formatListenAddress({ host, port: w.port })));
  }

  /** Binds UDP and TCP on one address and registers them; returns the port. Port 0 is tried a few times (TCP may find UDP's port taken). */
  async #bind(address: ListenAddress): Promise<number> {
    const attempts = address.port === 0 ? 5 : 1;
    let lastError: unknown;
    for (let i = 0; i < attempts; i++) {
      const reusePort = this.#options.reusePort ?? false;
      const native = this.#options.udpSocket === 'native' ? loadNativeUdp().addon : null;
      const udp =
        native !== null ? new NativeUdpListener(native, this.#responder, this.#log, this.received, reusePort) : new UdpListener(address, this.#responder, this.#log, this.received, reusePort);
      let port: number;
      try {
        port = (await udp.listen(address)).port;
      } catch (err) {
        lastError = err;
        continue;
      }
      const tcp = new TcpListener(this.#responder, this.#options.tcp, this.#table, this.#log, this.received, reusePort, this.#options.transfer ?? null);
      try {
        await tcp.listen({ ...address, port });
      } catch (err) {
        lastError = err;
        await udp.close();
        continue;
      }
      this.#endpoints.set(formatListenAddress({ host: address.host, port }), { host: address.host, port, udp, tcp });
      return port;
    }
    throw lastError;
  }
}

/** Adds a native socket's counters into `sum` (node:dgram sockets count nothing of the kind). */
function addNativeCounters(sum: NativeUdpCounters, udp: UdpListener | NativeUdpListener): void {
  if (!(udp instanceof NativeUdpListener)) return;
  const c = udp.counters();
  for (const k of Object.keys(sum) as Array<keyof NativeUdpCounters>) sum[k] += c[k];
}

function listenFailed(address: ListenAddress, err: unknown): GslbError {
  return new GslbError(ErrorCode.GSLB_ERR_LISTEN_FAILED, `cannot listen on ${formatListenAddress(address)}: ${(err as Error)?.message ?? 'unknown error'}`);
}
