import dgram from 'node:dgram';
import type { Logger } from 'pino';
import type { Responder } from '../answer/responder.js';
import type { ListenAddress } from '../net/listen-address.js';

/** Messages the sockets of one process have read, by transport (meridian_dns_worker_messages_total). */
export interface Received {
  udp: number;
  tcp: number;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * We only ever send to the address a query came from, an IP literal of the socket's family:
 * answer the socket's address lookup at once. The default (dns.lookup) checks the text and
 * defers the send to the next tick, once per answer.
 */
function literalLookup(family: 4 | 6): (hostname: string, options: unknown, callback: LookupCallback) => void {
  return (hostname, _options, callback) => callback(null, hostname, family);
}

/** One UDP socket. The message handler is synchronous: parse, answer, send (src/answer/README.md "Hot path rules"). */
export class UdpListener {
  readonly #socket: dgram.Socket;
  readonly #responder: Responder;
  readonly #log: Logger;
  readonly #received: Received;
  readonly #reusePort: boolean;

  /**
   * `reusePort`: this process binds a socket of its own in the port's SO_REUSEPORT group
   * (exclusive, so a cluster worker does not ask the primary for a shared one).
   */
  constructor(address: ListenAddress, responder: Responder, log: Logger, received: Received, reusePort = false) {
    this.#responder = responder;
    this.#log = log;
    this.#received = received;
    this.#reusePort = reusePort;
    this.#socket = dgram.createSocket({ type: address.family === 6 ? 'udp6' : 'udp4', ipv6Only: address.family === 6, lookup: literalLookup(address.family), reusePort });
    this.#socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
  }

  #onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.#received.udp++;
    let out: Buffer | null;
    try {
      out = this.#responder.respond(msg, 'udp', rinfo.address, rinfo.port);
    } catch (err) {
      // A bug must cost one answer, never the process.
      this.#log.error({ err, client: rinfo.address }, 'failed to answer a UDP query');
      return;
    }
    if (out !== null) this.#socket.send(out, rinfo.port, rinfo.address);
  }

  listen(address: ListenAddress): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        // A socket whose bind failed keeps its descriptor: close it, or each retry leaks one.
        this.#socket.close();
        reject(err);
      };
      this.#socket.once('error', onError);
      this.#socket.bind({ port: address.port, address: address.host, exclusive: this.#reusePort }, () => {
        this.#socket.off('error', onError);
        this.#socket.on('error', (err) => this.#log.error({ err }, 'UDP socket error'));
        try {
          this.#socket.setRecvBufferSize(4 * 1024 * 1024);
        } catch {
          // Kernel limits may refuse it; the default buffer still works.
        }
        const a = this.#socket.address();
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}
