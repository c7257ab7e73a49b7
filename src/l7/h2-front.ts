/**
 * HTTP/2 to clients: h2 by ALPN on the TLS listener and h2c with prior knowledge on a second
 * listener (`http2.cleartextListen`). Every stream becomes a request of node's compatibility
 * API and goes through the same request handler as HTTP/1.1 (checks, rate limits, routing,
 * forwarding, access log), after the checks only HTTP/2 needs (h2RequestProblem). What HTTP/2
 * adds to a client's means of attack is bounded here, per connection: streams open at once,
 * header list size, cancelled streams (rapid reset), streams per connection, and a stream
 * idle timeout against a client that stops reading responses.
 */
import http2, { constants } from 'node:http2';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { BalancerConfig } from './config.js';
import { printable } from './request-checks.js';

/** Node's HTTP/2 server, and what closing it needs. */
export interface H2Front {
  /** The h2c listener (prior knowledge), when configured. */
  readonly cleartext: http2.Http2Server | null;
  /** Sends GOAWAY to every session, waits for their streams (up to graceMs), then cuts what is left. */
  close(graceMs: number): Promise<void>;
}

export interface H2Counters {
  /** Connections closed with GOAWAY for cancelling streams faster than http2.maxResetsPerSec. */
  h2RapidResets: number;
  /** Streams refused for an address that had client.maxConnectionsPerClient requests in flight. */
  h2StreamsRefused: number;
}

/** How long a socket whose session has ended waits for the peer to close its side before it is cut. */
const HALF_CLOSED_GRACE_MS = 1000;

type Handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;

/**
 * Builds the HTTP/2 server `handler` serves and hands it the TLS connections that chose h2
 * by ALPN (the rest stay with `server`, the HTTP/1.1 one). Null when HTTP/2 is off.
 */
export function attachH2(server: http.Server, config: BalancerConfig, counters: H2Counters, handler: Handler, clientCap: () => number): H2Front | null {
  const o = config.http2;
  const alpn = config.tls !== null && o.enabled;
  if (!alpn && o.cleartextListen === null) return null;
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<Duplex>();
  const h2 = http2.createServer({
    settings: { maxConcurrentStreams: o.maxConcurrentStreams, maxHeaderListSize: config.client.maxHeaderBytes, enablePush: false },
    // Frames that are errors, and streams refused over maxConcurrentStreams, end the session well before node's defaults (1000, 100).
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
    // The HPACK table a client may make us keep (SETTINGS_HEADER_TABLE_SIZE is ours to set at its default 4 KiB).
    maxHeaderListPairs: 256,
  });
  // Before 'request' is listened to: node's compatibility layer turns a stream into a request in its own 'stream' listener, which must come after these.
  h2.on('connection', (socket: Duplex) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // A closed session ends its side of the socket; a peer that never ends its own would hold the socket half-open for good.
    socket.once('finish', () => setTimeout(() => socket.destroy(), HALF_CLOSED_GRACE_MS).unref());
  });
  h2.on('session', (session) => guardSession(session, o, counters, sessions));
  h2.on('stream', (stream, headers) => guardStream(stream, String(headers['content-type']).startsWith('application/grpc'), o.idleMs));
  // Requests in flight per peer address, over all its connections: an HTTP/1.1 connection carries one at a time, so
  // client.maxConnectionsPerClient bounds what one address holds at the backends; maxConcurrentStreams alone would let it hold 100 times that.
  const inFlight = new Map<string, number>();
  h2.on('request', (req, res) => {
    const peer = req.socket.remoteAddress ?? '';
    const cap = clientCap();
    const n = (inFlight.get(peer) ?? 0) + 1;
    if (cap > 0 && n > cap) {
      counters.h2StreamsRefused++;
      req.stream.close(constants.NGHTTP2_REFUSED_STREAM); // not processed: the client may send it again
      return;
    }
    inFlight.set(peer, n);
    req.stream.once('close', () => {
      const left = inFlight.get(peer)! - 1;
      if (left === 0) inFlight.delete(peer);
      else inFlight.set(peer, left);
    });
    const problem = h2RequestProblem(req, config.client.maxHeaderBytes);
    if (problem !== null) {
      // Answered by the common handler with its status and code: it reads the marker (see requestProblem).
      (req as { h2Problem?: H2Problem }).h2Problem = problem;
    }
    handler(req, res);
  });
  if (alpn) {
    // https's own listener keeps every connection that did not choose h2.
    const h1 = server.listeners('secureConnection') as ((s: TLSSocket) => void)[];
    server.removeAllListeners('secureConnection');
    server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.alpnProtocol === 'h2') h2.emit('connection', socket);
      else for (const l of h1) l.call(server, socket);
    });
  }
  return {
    cleartext: o.cleartextListen === null ? null : h2,
    async close(graceMs) {
      const closed = o.cleartextListen === null ? Promise.resolve() : new Promise<void>((resolve) => h2.close(() => resolve()));
      for (const session of sessions) session.close(); // GOAWAY: streams in flight finish
      // A session's socket can outlive it (half-closed, waiting for a peer that does not close): cut those after the grace.
      const open = [...sockets].map((socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve()))));
      const cut = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await Promise.all([closed, ...open]);
      clearTimeout(cut);
    },
  };
}

/** What the common handler answers instead of forwarding an HTTP/2 request. */
export interface H2Problem {
  readonly status: 400 | 431;
  readonly message: string;
}

/**
 * What nghttp2 lets through that HTTP/1.1's checks would not see the same way: :authority and
 * Host that disagree (routing would read one, the backend the other), a request with neither,
 * and a header list over client.maxHeaderBytes (HPACK lets a small frame stand for a large one;
 * counted as RFC 9113 §6.5.2 does, 32 bytes per field). nghttp2 itself refuses malformed pseudo-headers
 * and connection-specific headers (RFC 9113 §8.2.2) by resetting the stream.
 * Sets req.headers.host from :authority so that routing and forwarding read one name.
 */
export function h2RequestProblem(req: http2.Http2ServerRequest, maxHeaderBytes: number): H2Problem | null {
  const raw = req.rawHeaders;
  let size = 0;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    size += raw[i]!.length + raw[i + 1]!.length + 32;
    if (raw[i] === 'host') hosts++;
  }
  if (size > maxHeaderBytes) return { status: 431, message: `the request header list is larger than ${maxHeaderBytes} bytes (client.maxHeaderBytes)` };
  const headers = req.headers as Record<string, string | string[] | undefined>;
  const authority = headers[':authority'];
  const host = headers.host;
  if (hosts > 1 || Array.isArray(host)) return { status: 400, message: 'more than one Host header' };
  if (typeof authority === 'string' && host !== undefined && authority.toLowerCase() !== host.toLowerCase()) {
    return { status: 400, message: `:authority "${printable(authority)}" differs from the Host header "${printable(host)}"` };
  }
  if (host === undefined) {
    if (typeof authority !== 'string') return { status: 400, message: 'no :authority and no Host header' };
    headers.host = authority;
  }
  return null;
}

/** An HTTP/2 request has a body unless its HEADERS ended the stream: gRPC sends neither Content-Length nor Transfer-Encoding. */
export function h2HasBody(req: { readonly httpVersionMajor: number }): boolean {
  return req.httpVersionMajor === 2 && !(req as unknown as http2.Http2ServerRequest).stream.endAfterHeaders;
}

/**
 * Per connection: streams a client cancels cost us a backend request each while costing it
 * one frame (CVE-2023-44487); more than maxResetsPerSec in a second closes the connection with
 * GOAWAY ENHANCE_YOUR_CALM. maxStreamsPerConnection, when set, ends it gracefully after that many,
 * and idleMs with no stream open ends it too.
 */
function guardSession(session: http2.ServerHttp2Session, o: BalancerConfig['http2'], counters: H2Counters, sessions: Set<http2.ServerHttp2Session>): void {
  sessions.add(session);
  session.once('close', () => sessions.delete(session));
  session.on('error', () => undefined); // a peer's protocol error ends its session; nothing to report
  let windowStart = 0;
  let resets = 0;
  let streams = 0;
  let open = 0;
  // No stream open for idleMs (and one that never sent the preface): GOAWAY, as an HTTP/1.1 connection's keep-alive ends;
  // else an idle session would hold its socket and nghttp2's memory forever. A quiet stream keeps its session.
  const idle = (): void => {
    if (open === 0) session.close();
    else session.setTimeout(o.idleMs, idle);
  };
  session.setTimeout(o.idleMs, idle);
  session.on('stream', (stream) => {
    streams++;
    open++;
    stream.once('close', () => open--);
    if (o.maxStreamsPerConnection > 0 && streams === o.maxStreamsPerConnection) session.close(); // GOAWAY after this one: the client opens a new connection
    stream.once('aborted', () => {
      const now = Date.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        resets = 0;
      }
      if (++resets > o.maxResetsPerSec && !session.destroyed) {
        counters.h2RapidResets++;
        session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
        session.destroy();
      }
    });
  });
}

/**
 * A stream with no progress for idleMs (no body byte read, no response byte the client made
 * room for) is cancelled: the backend request behind it ends and its slot frees. While a body
 * arrives, its own timeouts (client.bodyIdleMs, minBodyBytesPerSec) apply instead, except to
 * gRPC, whose streams may rightly trickle or pause (bidirectional calls): idleMs only.
 */
function guardStream(stream: http2.ServerHttp2Stream, grpc: boolean, idleMs: number): void {
  stream.on('error', () => undefined);
  let ended = false;
  const cancel = (): void => {
    // While a body arrives the body watch (proxy.ts) owns this timer and answers 408 itself; a gRPC stream has no body watch.
    if (!ended && !stream.endAfterHeaders && !grpc) return;
    if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
  };
  stream.setTimeout(idleMs, cancel);
  // The body watch sets and clears the same timer through the request: set it again once the body is in.
  stream.once('end', () => {
    ended = true;
    setImmediate(() => !stream.destroyed && stream.setTimeout(idleMs, cancel));
  });
}
