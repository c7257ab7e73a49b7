/**
 * Requests with an Upgrade header. Only a WebSocket handshake (GET, `Upgrade: websocket`, no
 * body) is offered to a backend as an upgrade, and the connection becomes a byte tunnel only
 * when the backend answers 101 Switching Protocols. Any other answer goes back to the client
 * as an ordinary response and the connection returns to the HTTP server, so the next request
 * on it is checked, rate-limited, routed and rewritten like any other. Other upgrades (h2c,
 * TLS/1.0) are forwarded without their Upgrade header: a server may ignore it (RFC 9110 §7.8).
 * A tunnel counts as a request in flight on its backend until either side closes, so
 * least-connections sees long-lived sockets.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Backend } from './backend.js';
import { requestHeaders, responseHeaders } from './forwarding.js';
import type { Pool } from './pool.js';
import { admitAndRoute, backendCaused, classify, hashKeyOf, rawReply, type Admission, type ProxyErrorCode, type ProxyState } from './proxy.js';
import { ErrorCode } from '../errors.js';

/** `resume` hands a connection back to the HTTP server once an upgrade was declined. */
export function createUpgradeHandler(state: ProxyState, resume: (socket: Duplex) => void): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const admission = admitAndRoute(state, req);
    if (admission instanceof Promise) void admission.then((a) => (socket.destroyed ? undefined : upgrade(state, req, socket, head, a, resume)));
    else upgrade(state, req, socket, head, admission, resume);
  };
}

function upgrade(state: ProxyState, req: IncomingMessage, socket: Duplex, head: Buffer, admission: Admission, resume: (socket: Duplex) => void): void {
  if (!admission.ok) return rawReply(socket, admission.status, admission.code, admission.message, admission.headers);
  // Node hands the socket over right after the header, so a body is still raw bytes on it; a chunked one would need a parser of our own.
  if (req.headers['transfer-encoding'] !== undefined) {
    state.metrics.badRequests++;
    return rawReply(socket, 400, ErrorCode.L7_BAD_REQUEST, 'a chunked body on a request with Upgrade is not supported; send Content-Length');
  }
  const { pool, client } = admission;
  const b = pool.pick(pool.hashBased ? hashKeyOf(pool, req, client) : '');
  if (b === undefined) return rawReply(socket, 503, ErrorCode.L7_NO_BACKEND, `pool ${pool.name} has no usable backend`, { 'retry-after': '1' });
  new UpgradeExchange(state, req, socket, head, pool, b, client, resume).start();
}

/** GET with `Upgrade: websocket` among its protocols (RFC 6455 §4.1) and no body. */
function isWebSocketHandshake(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return req.method === 'GET' && upgrade !== undefined && /(?:^|,)\s*websocket\s*(?:,|$)/i.test(upgrade) && (req.headers['content-length'] ?? '0') === '0';
}

/** One request with Upgrade on its way through: a tunnel after a 101, else one response and back to HTTP. */
class UpgradeExchange {
  private readonly websocket: boolean;
  private readonly bodyLength: number;
  /** Client bytes past this request (its body's tail excepted): the next request, or early WebSocket frames. */
  private leftover: Buffer = Buffer.alloc(0);
  private upstream: http.ClientRequest | null = null;
  private released = false;
  private answered = false;
  private tunnel = false;
  private readonly onClientGone = (): void => this.clientGone();

  constructor(
    private readonly state: ProxyState,
    private readonly req: IncomingMessage,
    private readonly socket: Duplex,
    private readonly head: Buffer,
    private readonly pool: Pool,
    private readonly b: Backend,
    private readonly client: string,
    private readonly resume: (socket: Duplex) => void,
  ) {
    this.websocket = isWebSocketHandshake(req);
    this.bodyLength = Number(req.headers['content-length'] ?? 0); // node's parser let only digits through
  }

  start(): void {
    const { state, req, b, socket } = this;
    const rt = state.runtime;
    this.pool.begin(b, false);
    socket.on('error', this.onClientGone);
    socket.on('close', this.onClientGone);
    const headers = requestHeaders(req.rawHeaders, req.headers, {
      peer: req.socket.remoteAddress ?? '',
      client: this.client,
      trustedHops: rt.config.trustedHops,
      proto: state.proto,
      upgrade: this.websocket,
    });
    const target = { host: b.host, port: b.port, method: req.method, path: req.url, headers, setHost: false, agent: false as const };
    const up = b.tls === null ? http.request(target) : https.request({ ...target, ...b.tls.options, servername: b.tls.servername ?? '' });
    this.upstream = up;
    let connected = false;
    up.setTimeout(rt.config.timeouts.connectMs);
    up.once('socket', (s: Socket) =>
      s.once(b.tls === null ? 'connect' : 'secureConnect', () => {
        connected = true;
        up.setTimeout(rt.config.timeouts.headersMs);
      }),
    );
    up.once('timeout', () => up.destroy(Object.assign(new Error('timed out'), { code: connected ? 'UND_ERR_HEADERS_TIMEOUT' : 'UND_ERR_CONNECT_TIMEOUT' })));
    up.on('error', (err) => this.upstreamFailed(err));
    up.once('upgrade', (res: IncomingMessage, upSocket: Socket, upHead: Buffer) => this.switchProtocols(res, upSocket, upHead));
    up.once('response', (res: IncomingMessage) => this.respond(res));
    this.sendBody(up);
  }

  /** Streams the Content-Length body from `head` and then the socket; what follows it stays for the next request. */
  private sendBody(up: http.ClientRequest): void {
    const { socket, head } = this;
    let left = this.bodyLength;
    const take = (chunk: Buffer): void => {
      const part = chunk.length <= left ? chunk : chunk.subarray(0, left);
      left -= part.length;
      if (part.length > 0 && !up.write(part)) {
        socket.pause();
        up.once('drain', () => socket.resume());
      }
      if (chunk.length > part.length) this.leftover = Buffer.concat([this.leftover, chunk.subarray(part.length)]);
    };
    take(head);
    if (left === 0) {
      up.end();
      return;
    }
    const onData = (chunk: Buffer): void => {
      take(chunk);
      if (left > 0) return;
      socket.off('data', onData);
      socket.pause();
      up.end();
    };
    socket.on('data', onData);
  }

  /** The backend switched protocols: from here on, bytes flow both ways untouched. */
  private switchProtocols(res: IncomingMessage, upSocket: Socket, upHead: Buffer): void {
    const { socket, b, pool } = this;
    if (!this.websocket || this.answered) {
      // It was not asked to: what it sends next is not HTTP we could pass on.
      upSocket.destroy();
      this.fail(502, ErrorCode.L7_UPSTREAM_FAILED, `backend ${b.key}: switched protocols without being asked`);
      return;
    }
    this.answered = true;
    this.tunnel = true;
    b.countStatus(res.statusCode ?? 101);
    pool.reportOutcome(b, true);
    let text = `HTTP/1.1 101 ${res.statusMessage || 'Switching Protocols'}\r\n`;
    for (let i = 0; i < res.rawHeaders.length; i += 2) text += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
    socket.write(`${text}\r\n`);
    if (upHead.length > 0) socket.write(upHead);
    if (this.leftover.length > 0) upSocket.write(this.leftover);
    const closeBoth = (): void => {
      this.release();
      socket.destroy();
      upSocket.destroy();
    };
    upSocket.setTimeout(this.state.runtime.config.timeouts.idleMs, closeBoth);
    upSocket.on('error', closeBoth);
    upSocket.on('close', closeBoth);
    socket.on('close', closeBoth);
    upSocket.pipe(socket);
    socket.pipe(upSocket);
    socket.resume();
  }

  /** Any answer but 101: passed on as an ordinary response, then the connection is HTTP again. */
  private respond(res: IncomingMessage): void {
    const { socket, b, pool, req } = this;
    this.answered = true;
    const status = res.statusCode ?? 502;
    b.countStatus(status);
    pool.reportOutcome(b, status < 500);
    const headers = responseHeaders(res.headers);
    const bodiless = req.method === 'HEAD' || status === 204 || status === 304 || status < 200;
    const chunked = !bodiless && headers['content-length'] === undefined;
    const keepAlive = this.clientKeepsAlive();
    let text = `HTTP/1.1 ${status} ${res.statusMessage ?? ''}\r\n`;
    for (const name in headers) {
      const value = headers[name]!;
      if (Array.isArray(value)) for (const v of value) text += `${name}: ${v}\r\n`;
      else text += `${name}: ${value}\r\n`;
    }
    if (chunked) text += 'transfer-encoding: chunked\r\n';
    if (!keepAlive) text += 'connection: close\r\n';
    socket.write(`${text}\r\n`);
    res.on('data', (chunk: Buffer) => {
      const ok = chunked ? socket.write(`${chunk.length.toString(16)}\r\n`) && socket.write(chunk) && socket.write('\r\n') : socket.write(chunk);
      if (!ok) {
        res.pause();
        socket.once('drain', () => res.resume());
      }
    });
    res.once('error', () => this.clientGone());
    res.once('end', () => {
      if (chunked) socket.write('0\r\n\r\n');
      this.release();
      this.detach();
      if (!keepAlive || !res.complete) {
        socket.end();
        return;
      }
      // Back to node's HTTP server: bytes already read past this request are parsed first.
      if (this.leftover.length > 0) socket.unshift(this.leftover);
      (socket as { readableFlowing: boolean | null }).readableFlowing = null;
      this.resume(socket);
    });
  }

  private clientKeepsAlive(): boolean {
    const { req } = this;
    if (req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1) return false;
    const conn = req.headers.connection;
    return conn === undefined || !/(?:^|,)\s*close\s*(?:,|$)/i.test(conn);
  }

  private upstreamFailed(err: Error): void {
    if (this.tunnel || this.socket.destroyed) return;
    if (this.answered) {
      // Mid-body: cut, so a truncated response never looks complete.
      this.clientGone();
      return;
    }
    const failure = classify(err);
    this.b.countStatus(failure.status);
    if (backendCaused(err)) this.pool.reportOutcome(this.b, false);
    this.fail(failure.status, failure.code, failure.status === 400 ? failure.what : `backend ${this.b.key}: ${failure.what}`);
  }

  private fail(status: number, code: ProxyErrorCode, message: string): void {
    this.answered = true;
    this.release();
    this.detach();
    this.upstream?.destroy();
    if (!this.socket.destroyed) rawReply(this.socket, status, code, message);
  }

  private clientGone(): void {
    if (this.tunnel) return; // the tunnel's own close handler releases it
    this.release();
    this.detach();
    this.upstream?.destroy();
    this.socket.destroy();
  }

  private detach(): void {
    this.socket.off('error', this.onClientGone);
    this.socket.off('close', this.onClientGone);
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.pool.end(this.b, false);
  }
}
