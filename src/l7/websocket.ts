/**
 * WebSocket (and any HTTP/1.1 Upgrade) pass-through: the handshake goes to a backend picked
 * as for any request, then bytes flow both ways untouched. The tunnel counts as a request in
 * flight on its backend until either side closes, so least-connections sees long-lived sockets.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { requestHeaders } from './forwarding.js';
import { admitAndRoute, hashKeyOf, type ProxyState } from './proxy.js';

export function createUpgradeHandler(state: ProxyState): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const rt = state.runtime;
    const refuse = (status: number, text: string): void => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    const admission = admitAndRoute(state, req);
    if (!admission.ok) return refuse(admission.status, STATUS_CODES[admission.status] ?? '');
    const { pool, client } = admission;
    const b = pool.pick(pool.hashBased ? hashKeyOf(pool, req, client) : '');
    if (b === undefined) return refuse(503, 'Service Unavailable');

    pool.begin(b, false);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      pool.end(b, false);
    };
    const closeBoth = (): void => {
      release();
      socket.destroy();
      upstream.destroy();
    };
    // Could not reach the backend: tell the client (end() flushes the status line) and let it go.
    const unreachable = (status: number, text: string): void => {
      pool.reportOutcome(b, false);
      release();
      upstream.destroy();
      if (!socket.destroyed) refuse(status, text);
    };
    const idleMs = rt.config.timeouts.idleMs;
    const upstream = net.connect({ host: b.host, port: b.port, timeout: rt.config.timeouts.connectMs });
    upstream.once('timeout', () => {
      if (upstream.connecting) unreachable(504, 'Gateway Timeout');
    });
    upstream.once('connect', () => {
      upstream.setTimeout(idleMs);
      upstream.on('timeout', closeBoth);
      const headers = requestHeaders(req.rawHeaders, req.headers, { peer: req.socket.remoteAddress ?? '', proto: state.proto, upgrade: true });
      let text = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
      upstream.write(`${text}\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
      upstream.once('close', closeBoth);
    });
    upstream.once('error', () => {
      if (upstream.bytesRead === 0) unreachable(502, 'Bad Gateway');
      else closeBoth();
    });
    socket.once('error', closeBoth);
    socket.once('close', closeBoth);
  };
}
