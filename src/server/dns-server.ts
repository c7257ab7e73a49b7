import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { Responder } from '../dns/responder.js';
import type { SnapshotStore } from '../snapshot/snapshot.js';
import { ErrorCode, GslbError } from '../errors.js';
import { formatListenAddress, type ListenAddress } from './listen-address.js';
import { TcpListener, type TcpOptions } from './tcp-listener.js';
import { UdpListener } from './udp-listener.js';
import { createProtection } from '../protect/protection.js';

export interface BoundAddress {
  readonly host: string;
  readonly port: number;
}

/** A TCP client that stops reading is not written to beyond this (back-pressure). */
const MAX_PENDING_OUTPUT_BYTES = 256 * 1024;

/** The data plane as `dns` configures it: one responder over `store` and the server that feeds it (the main process's, or a DNS worker's). */
export function createDataPlane(dns: Config['dns'], store: SnapshotStore, log: Logger): { responder: Responder; server: DnsServer } {
  const responder = new Responder(store, { udpPayloadSize: dns.udpPayloadSize, cacheMaxEntries: dns.cacheMaxEntries, ...createProtection(dns, log) });
  return { responder, server: new DnsServer(responder, { ...dns.tcp, maxPendingOutputBytes: MAX_PENDING_OUTPUT_BYTES }, log) };
}

/** UDP and TCP on every listen address, sharing one responder. */
export class DnsServer {
  readonly #responder: Responder;
  readonly #tcpOptions: TcpOptions;
  readonly #log: Logger;
  readonly #udp: UdpListener[] = [];
  readonly #tcp: TcpListener[] = [];

  constructor(responder: Responder, tcpOptions: TcpOptions, log: Logger) {
    this.#responder = responder;
    this.#tcpOptions = tcpOptions;
    this.#log = log;
  }

  /** Binds each address; with port 0 the OS picks one for UDP and TCP takes the same port. */
  async listen(addresses: readonly ListenAddress[]): Promise<BoundAddress[]> {
    const bound: BoundAddress[] = [];
    for (const address of addresses) {
      bound.push(await this.#listenOne(address));
    }
    return bound;
  }

  async #listenOne(address: ListenAddress): Promise<BoundAddress> {
    const attempts = address.port === 0 ? 5 : 1;
    let lastError: unknown;
    for (let i = 0; i < attempts; i++) {
      const udp = new UdpListener(address, this.#responder, this.#log);
      let port: number;
      try {
        port = (await udp.listen(address)).port;
      } catch (err) {
        lastError = err;
        continue;
      }
      const tcp = new TcpListener(this.#responder, this.#tcpOptions, this.#log);
      try {
        await tcp.listen({ ...address, port });
      } catch (err) {
        // The port UDP got may be taken for TCP; try another when the OS chose it.
        lastError = err;
        await udp.close();
        continue;
      }
      this.#udp.push(udp);
      this.#tcp.push(tcp);
      return { host: address.host, port };
    }
    throw new GslbError(ErrorCode.LISTEN_FAILED, `cannot listen on ${formatListenAddress(address)}: ${(lastError as Error)?.message ?? 'unknown error'}`);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#udp.map((u) => u.close()), ...this.#tcp.map((t) => t.close())]);
    this.#udp.length = 0;
    this.#tcp.length = 0;
    await this.#responder.close();
  }
}
