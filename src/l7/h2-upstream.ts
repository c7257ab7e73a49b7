/**
 * HTTP/2 to backends: gRPC requests (always) and every request to a backend declared
 * `protocol: h2c`. One multiplexed session per backend, opened on first use and again after
 * the backend closes or GOAWAYs it (a new request never lands on a session going away).
 * The exchange keeps what HTTP/1.1 drops: trailers (grpc-status, grpc-message) pass through,
 * a trailers-only answer stays trailers-only, and grpc-timeout is a deadline the balancer
 * enforces itself (DEADLINE_EXCEEDED) so a backend that never answers does not hold the call.
 */
import http2, { constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Backend } from './backend.js';
import { h2TlsOptions, type BackendTls } from './backend-tls.js';
import type { BalancerConfig, RetryCondition } from './config.js';
import { formatListenAddress } from '../net/listen-address.js';
import { responseHeaders } from './forwarding.js';
import { addSetCookie, backendCaused, classify, reply, retry, retryTarget, type Exchange, type ProxyErrorCode, type ProxyState } from './proxy.js';
import { ErrorCode } from '../errors.js';

type Timeouts = BalancerConfig['timeouts'];

/** One backend's HTTP/2 session, reopened when it ends. */
class H2Upstream {
  #session: ClientHttp2Session | null = null;
  #closed = false;

  constructor(
    private readonly origin: string,
    private readonly timeouts: Timeouts,
    /** The backend's TLS (backend-tls.ts): h2 by ALPN with the same CA, SNI and client certificate as HTTP/1.1 requests; null: h2c. */
    private readonly tls: BackendTls | null,
  ) {}

  /** A stream on the live session (opening one if none); throws once closed. */
  request(headers: OutgoingHttpHeaders, endStream: boolean): ClientHttp2Stream {
    if (this.#closed) throw Object.assign(new Error('the backend was removed'), { code: 'UND_ERR_CLOSED' });
    return this.session().request(headers, { endStream });
  }

  private session(): ClientHttp2Session {
    const live = this.#session;
    if (live !== null && !live.closed && !live.destroyed) return live;
    const t = this.tls;
    const s = http2.connect(this.origin, {
      settings: { enablePush: false },
      ...(t !== null && h2TlsOptions(t)),
    });
    this.#session = s;
    const forget = (): void => {
      if (this.#session === s) this.#session = null;
    };
    s.on('error', forget); // its streams see the error and answer for it
    s.once('close', forget);
    s.once('goaway', forget);
    const connectTimer = setTimeout(() => s.destroy(Object.assign(new Error('connect timed out'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), this.timeouts.connectMs);
    s.once('connect', () => clearTimeout(connectTimer));
    s.once('close', () => clearTimeout(connectTimer));
    // An idle session closes (as undici's keep-alive does); the next request opens another.
    s.setTimeout(this.timeouts.idleMs, () => s.close());
    return s;
  }

  close(): void {
    this.#closed = true;
    this.#session?.close();
    this.#session = null;
  }

  destroy(): void {
    this.#closed = true;
    this.#session?.destroy();
    this.#session = null;
  }
}

const upstreams = new Map<Backend, H2Upstream>();

function upstreamOf(b: Backend, timeouts: Timeouts): H2Upstream {
  let up = upstreams.get(b);
  if (up === undefined) {
    up = new H2Upstream(`${b.tls === null ? 'http' : 'https'}://${formatListenAddress({ host: b.host, port: b.port })}`, timeouts, b.tls);
    upstreams.set(b, up);
  }
  return up;
}

/** Ends the HTTP/2 sessions of backends that are gone (a reload dropped them) or of a closing balancer; `now` cuts streams in flight. */
export function closeUpstreams(backends: Iterable<Backend>, now: boolean): void {
  for (const b of backends) {
    const up = upstreams.get(b);
    if (up === undefined) continue;
    upstreams.delete(b);
    if (now) up.destroy();
    else up.close();
  }
}

/** gRPC: application/grpc, +proto, +json… over HTTP/2 (grpc-web is plain HTTP and is not). */
export function isGrpc(req: IncomingMessage | undefined): boolean {
  if (req === undefined || req.httpVersionMajor !== 2) return false;
  const type = req.headers['content-type'];
  // application/grpc alone, or followed by "+" (application/grpc+proto) or ";" (parameters).
  return type !== undefined && type.startsWith('application/grpc') && (type.length === 16 || type.charCodeAt(16) === 0x2b || type.charCodeAt(16) === 0x3b);
}

/** Whether this request goes to this backend over HTTP/2. */
export function overH2(ex: Exchange, b: Backend): boolean {
  return b.protocol === 'h2c' || ex.grpc;
}

/** grpc-timeout ("100m", "5S", …) in ms, or null when absent or malformed (then no deadline, as grpc-go does). */
export function grpcTimeoutMs(value: string | string[] | undefined): number | null {
  if (typeof value !== 'string') return null;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (m === null) return null;
  const n = Number(m[1]);
  const unit = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 }[m[2] as 'H'];
  return Math.max(1, Math.ceil(n * unit));
}

/** The forwarded header list (forwarding.ts) as HTTP/2 headers for the backend. */
function h2RequestHeaders(ex: Exchange, b: Backend): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':method': ex.req.method ?? 'GET', ':path': ex.req.url ?? '/', ':scheme': 'http' };
  const list = ex.headers;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!.toLowerCase();
    const value = list[i + 1]!;
    if (name === 'host') {
      out[':authority'] = value;
      continue;
    }
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value];
  }
  out[':authority'] ??= `${b.host}:${b.port}`;
  if (ex.grpc) out.te = 'trailers'; // hop-by-hop, so dropped from the client's; gRPC servers require it
  return out;
}

/** Response headers or trailers without HTTP/2's pseudo-headers. */
function withoutPseudo(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const name in headers) if (name.charCodeAt(0) !== 58) out[name] = headers[name];
  return out;
}

/** The client's HTTP/2 stream when it is one (trailers-only and trailers need it). */
function clientStream(res: ServerResponse): http2.ServerHttp2Stream | null {
  return (res as unknown as { stream?: http2.ServerHttp2Stream }).stream ?? null;
}

/**
 * One attempt on one backend over HTTP/2 (proxy.ts forward() began it on the pool). Retries
 * follow the same rules as HTTP/1.1's: REFUSED_STREAM is refused-stream, a session that could
 * not connect is connect-failure, a reset before the response header reset-before-response.
 */
export function forwardH2(state: ProxyState, ex: Exchange, b: Backend, attempt: number): { clientClosed(): void } {
  const { req, res, pool } = ex;
  const timeouts = state.runtime.config.timeouts;
  const started = performance.now();
  let finished = false;
  let responded = false;
  let clientGone = false;
  let streamError: Error | null = null;
  let trailers: Record<string, string | string[] | undefined> | null = null;
  let timer: NodeJS.Timeout | undefined;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    pool.end(b, attempt > 0);
  };
  const deadline = ex.grpc ? grpcTimeoutMs(req.headers['grpc-timeout']) : null;
  let stream: ClientHttp2Stream;
  try {
    stream = upstreamOf(b, timeouts).request(h2RequestHeaders(ex, b), ex.body === null);
  } catch (err) {
    finish();
    reply(res, 502, ErrorCode.L7_UPSTREAM_FAILED, `backend ${b.key}: ${(err as Error).message}`);
    return { clientClosed: () => undefined };
  }
  const expire = (grpcDeadline: boolean): void => {
    if (finished) return;
    finish();
    stream.close(constants.NGHTTP2_CANCEL);
    if (!grpcDeadline) {
      b.countStatus(504);
      pool.reportOutcome(b, false);
    }
    if (grpcDeadline) reply(res, 504, ErrorCode.L7_DEADLINE_EXCEEDED, `the call's grpc-timeout (${deadline} ms) passed before backend ${b.key} finished`);
    else reply(res, 504, ErrorCode.L7_HEADERS_TIMEOUT, `backend ${b.key}: no response header in time`);
  };
  timer = setTimeout(() => expire(deadline !== null && deadline <= timeouts.headersMs), deadline === null ? timeouts.headersMs : Math.min(deadline, timeouts.headersMs));
  // The client left, or its body stalled (the body watch answers it): not the backend's doing.
  const clientClosed = (): void => {
    if (finished) return;
    clientGone = true;
    finish();
    stream.close(constants.NGHTTP2_CANCEL);
  };
  res.once('close', clientClosed);
  stream.on('error', (err: Error) => (streamError = err));
  stream.on('response', (headers, flags) => {
    if (finished) return;
    const status = Number(headers[':status']);
    const ms = performance.now() - started;
    b.recordLatency(ms);
    b.countStatus(status);
    pool.reportOutcome(b, status < 500);
    state.metrics.observe(pool.name, ms);
    if (ex.log !== null) ex.log.upstreamMs = ms;
    const next = status >= 500 ? retryTarget(ex, b, attempt, '5xx') : undefined;
    if (next !== undefined) {
      finish();
      stream.close(constants.NGHTTP2_CANCEL);
      retry(state, ex, next, attempt);
      return;
    }
    // A header timeout covers the header only; a gRPC deadline the whole call, response included.
    clearTimeout(timer);
    if (deadline !== null) timer = setTimeout(() => expire(true), Math.max(0, deadline - (performance.now() - started)));
    responded = true;
    const out = responseHeaders(withoutPseudo(headers));
    if (ex.sticky !== null && ex.sticky.preferred !== b) addSetCookie(out, pool, b, state.proto === 'https');
    const h2 = clientStream(res);
    if ((flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0 && h2 !== null) {
      // Trailers-only (a gRPC error status): one HEADERS frame with END_STREAM, as the backend sent it.
      finish();
      res.statusCode = status;
      h2.respond({ ...out, ':status': status }, { endStream: true });
      res.end();
      return;
    }
    res.writeHead(status, out);
  });
  // Past the balancer's own answer (a timeout, a gRPC deadline mid-stream) what the backend still sends is dropped.
  const answered = (): boolean => finished && (!responded || res.writableEnded);
  stream.on('data', (chunk: Buffer) => {
    if (answered()) return;
    if (!res.write(chunk)) {
      stream.pause();
      res.once('drain', () => stream.resume());
    }
  });
  stream.on('trailers', (t: IncomingHttpHeaders) => (trailers = withoutPseudo(t)));
  stream.on('end', () => {
    if (answered()) return;
    finish();
    if (trailers !== null && clientStream(res) !== null) (res as unknown as http2.Http2ServerResponse).addTrailers(trailers);
    res.end();
  });
  stream.on('close', () => {
    if (finished) return;
    finish();
    if (clientGone) return;
    if (responded) {
      if (ex.log !== null) ex.log.termination = 'upstream-reset';
      res.destroy(); // cut mid-body: the client sees a truncated response, not a complete one
      return;
    }
    const failure = failureOf(stream, streamError);
    b.countStatus(failure.status);
    if (failure.backendCaused) pool.reportOutcome(b, false);
    const next = failure.retryOn === null ? undefined : retryTarget(ex, b, attempt, failure.retryOn);
    if (next !== undefined) {
      retry(state, ex, next, attempt);
      return;
    }
    reply(res, failure.status, failure.code, `backend ${b.key}: ${failure.what}`);
  });
  if (ex.body !== null) ex.body.pipe(stream);
  return { clientClosed };
}

/** The gRPC status (grpc/doc/statuscodes.md) each of the balancer's own answers is to a gRPC client. */
const GRPC_STATUS: Record<ProxyErrorCode, number> = {
  L7_DRAINING: 14,
  L7_RATE_LIMITED: 8,
  L7_NO_ROUTE: 12,
  L7_NO_BACKEND: 14,
  L7_QUEUE_FULL: 14,
  L7_QUEUE_TIMEOUT: 14,
  L7_CONNECT_FAILED: 14,
  L7_BACKEND_TLS: 14,
  L7_CONNECT_TIMEOUT: 14,
  L7_HEADERS_TIMEOUT: 4,
  L7_UPSTREAM_FAILED: 14,
  L7_BAD_REQUEST: 13,
  L7_BODY_TIMEOUT: 4,
  L7_BODY_TOO_SLOW: 4,
  L7_REQUEST_TIMEOUT: 4,
  L7_HEADER_TOO_LARGE: 8,
  L7_DEADLINE_EXCEEDED: 4,
};

/**
 * The balancer's own answer to a gRPC call: HTTP 200 with grpc-status and grpc-message
 * (percent-encoded, as the gRPC spec asks) in one trailers-only HEADERS frame, or, when the
 * response had begun, as trailers. x-meridian-error keeps the stable code.
 */
export function grpcReply(res: ServerResponse, code: ProxyErrorCode, message: string): void {
  const h2 = clientStream(res);
  if (h2 === null || h2.destroyed || res.writableEnded) {
    res.destroy();
    return;
  }
  const status = { 'grpc-status': String(GRPC_STATUS[code]), 'grpc-message': encodeURIComponent(message), 'x-meridian-error': code };
  if (res.headersSent) {
    (res as unknown as http2.Http2ServerResponse).addTrailers(status);
    res.end();
    return;
  }
  res.setHeader('x-meridian-error', code); // read back by the access log
  h2.respond({ ':status': 200, 'content-type': 'application/grpc', ...status }, { endStream: true });
  res.end();
}

interface H2Failure {
  readonly status: 400 | 502 | 504;
  readonly code: ProxyErrorCode;
  readonly retryOn: RetryCondition | null;
  readonly what: string;
  readonly backendCaused: boolean;
}

/** Why a stream ended without a response: its session's error (refused, timed out) or the backend's RST_STREAM code. */
function failureOf(stream: ClientHttp2Stream, streamErr: Error | null): H2Failure {
  // A session that failed (refused, timed out) cancels its streams with its own error as the cause.
  const cause = (streamErr as { cause?: unknown } | null)?.cause;
  const err = cause instanceof Error ? cause : streamErr;
  const code = (err as { code?: string } | null)?.code;
  if (err !== null && code !== 'ERR_HTTP2_STREAM_ERROR' && code !== 'ERR_HTTP2_SESSION_ERROR') {
    const f = classify(err);
    return { ...f, backendCaused: backendCaused(err) };
  }
  if (stream.rstCode === constants.NGHTTP2_REFUSED_STREAM) {
    return { status: 502, code: ErrorCode.L7_UPSTREAM_FAILED, retryOn: 'refused-stream', what: 'refused the stream (REFUSED_STREAM)', backendCaused: false };
  }
  return {
    status: 502,
    code: ErrorCode.L7_UPSTREAM_FAILED,
    retryOn: 'reset-before-response',
    what: `reset the stream before a response (HTTP/2 code ${stream.rstCode ?? 'none'})`,
    backendCaused: true,
  };
}
