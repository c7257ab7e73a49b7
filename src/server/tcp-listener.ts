import net from 'node:net';
import type { Logger } from 'pino';
import type { Responder } from '../answer/responder.js';
import type { ListenAddress } from '../net/listen-address.js';
import type { TcpConnection, TcpConnectionTable, TcpTableLimits } from './tcp-connections.js';
import type { Received } from './udp-listener.js';
import type { TransferHandler } from '../transfer/transfer-server.js';

export interface TcpOptions extends TcpTableLimits {
  /** A started message must arrive whole within this time, so a slow client cannot hold a slot. */
  readonly messageTimeoutMs: number;
  /** Stop reading from a client that does not read its answers once this much is queued. */
  readonly maxPendingOutputBytes: number;
}

/**
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766) on one address: two-octet length framing, many
 * queries per connection, pipelined; answers go out in order as each query is complete.
 * Connections count in a table shared with the process's other TCP listeners, which decides
 * who may connect and closes idle ones under pressure.
 */
export class TcpListener {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #responder: Responder;
  readonly #options: TcpOptions;
  readonly #table: TcpConnectionTable;
  readonly #log: Logger;
  readonly #received: Received;
  readonly #reusePort: boolean;
  readonly #transfer: TransferHandler | null;

  /**
   * `reusePort`: as UdpListener's (the kernel then spreads connections over the group's listeners).
   * `transfer`: takes AXFR and IXFR queries, which it answers in many messages of its own.
   */
  constructor(responder: Responder, options: TcpOptions, table: TcpConnectionTable, log: Logger, received: Received, reusePort = false, transfer: TransferHandler | null = null) {
    this.#transfer = transfer;
    this.#received = received;
    this.#reusePort = reusePort;
    this.#responder = responder;
    this.#options = options;
    this.#table = table;
    this.#log = log;
    this.#server = net.createServer({ noDelay: true }, (socket) => this.#onConnection(socket));
    this.#server.on('error', (err) => this.#log.error({ err }, 'TCP server error'));
  }

  #onConnection(socket: net.Socket): void {
    const conn = this.#table.admit(socket);
    if (conn === null) {
      // This client holds its share already: it gets no slot, and nobody else loses one.
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    let pending: Buffer = Buffer.alloc(0);
    let messageTimer: NodeJS.Timeout | null = null;
    const clearMessageTimer = (): void => {
      if (messageTimer) clearTimeout(messageTimer);
      messageTimer = null;
    };
    socket.setTimeout(this.#options.idleTimeoutMs, () => socket.destroy());
    socket.on('close', () => {
      clearMessageTimer();
      this.#sockets.delete(socket);
      this.#table.remove(conn);
    });
    socket.on('error', () => socket.destroy());
    socket.on('drain', () => socket.resume());
    socket.on('data', (chunk: Buffer) => {
      this.#table.touch(conn);
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let completed = false;
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < len + 2) break;
        const packet = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        completed = true;
        this.#answer(socket, packet, conn);
        if (socket.destroyed) return;
      }
      // The clock runs from the first byte of a message: trickling bytes does not reset it.
      if (pending.length === 0 || completed) clearMessageTimer();
      if (pending.length > 0 && messageTimer === null) {
        messageTimer = setTimeout(() => socket.destroy(), this.#options.messageTimeoutMs);
      }
      if (socket.writableLength > this.#options.maxPendingOutputBytes) socket.pause();
    });
  }

  #answer(socket: net.Socket, packet: Buffer, conn: TcpConnection): void {
    this.#received.tcp++;
    let out: Buffer | null;
    try {
      if (this.#transfer?.take(socket, packet, () => this.#table.touch(conn))) return;
      out = this.#responder.respond(packet, 'tcp', socket.remoteAddress ?? '', socket.remotePort ?? 0);
    } catch (err) {
      this.#log.error({ err, client: socket.remoteAddress }, 'failed to answer a TCP query');
      socket.destroy();
      return;
    }
    if (out === null) return;
    const framed = Buffer.allocUnsafe(out.length + 2);
    framed.writeUInt16BE(out.length, 0);
    out.copy(framed, 2);
    socket.write(framed);
  }

  listen(address: ListenAddress): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen({ port: address.port, host: address.host, ipv6Only: address.family === 6, reusePort: this.#reusePort, exclusive: this.#reusePort }, () => {
        this.#server.off('error', onError);
        const a = this.#server.address() as net.AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Stops accepting, lets answers already queued go out, then closes every connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      for (const s of this.#sockets) s.end();
      setTimeout(() => {
        for (const s of this.#sockets) s.destroy();
      }, 1000).unref();
    });
  }

  get connectionCount(): number {
    return this.#sockets.size;
  }
}
