/**
 * The request path: admission (request checks, drain, rate limits), routing, the pick (sticky cookie, pool
 * algorithm, wait queue), and streaming the exchange through the backend's undici pool,
 * with retries elsewhere only on the failures `retries.on` names (retryTarget).
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { ErrorCode, type ErrorCodeOf } from '../errors.js';
import { TLS_CODE } from '../health/probes/guard.js';
import type { AccessEntry, AccessLog } from './access-log.js';
import type { Backend } from './backend.js';
import type { BodyRateMonitor } from './body-rate.js';
import type { RetryCondition } from './config.js';
import { grpcReply, isGrpc, overH2, forwardH2 } from './h2-upstream.js';
import { h2HasBody, type H2Problem } from './h2-front.js';
import { cookieValue, hasBody, headerOf, isIdempotent, requestClient, requestHeaders, responseHeaders, VIA } from './forwarding.js';
import type { BalancerMetrics } from './metrics.js';
import type { Pool } from './pool.js';
import { requestProblem } from './request-checks.js';
import { takeTokens, type RemoteBuckets } from './rate-limit.js';
import { matchRoute, normalizePath, rewritePath } from './routing.js';
import type { Runtime } from './runtime.js';
import { setCookieHeader, signBackend, verifyBackend } from './sticky-cookie.js';

export interface ProxyState {
  runtime: Runtime;
  /** The whole balancer is draining: new requests get 503, running ones finish. */
  draining: boolean;
  readonly proto: 'http' | 'https';
  readonly metrics: BalancerMetrics;
  readonly now: () => number;
  /** With --workers N: the primary holds the rate-limit buckets and this asks it; null: local buckets. */
  readonly remoteBuckets: RemoteBuckets | null;
  /** Request bodies in progress, held to client.minBodyBytesPerSec. */
  readonly bodyRates: BodyRateMonitor;
  /** One line per sampled request; null (or absent): off. */
  readonly accessLog?: AccessLog | null;
}

/** The codes of the answers the balancer writes itself (X-Meridian-Error), from the one table in ../errors.ts. */
export type ProxyErrorCode = ErrorCodeOf<'balancer'>;

/** One client request on its way through the balancer. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly pool: Pool;
  readonly hashKey: string;
  readonly headers: string[];
  readonly body: IncomingMessage | null;
  /** Set-Cookie to add when the pick differs from the client's sticky backend. */
  readonly sticky: { readonly preferred: Backend | undefined } | null;
  /** What the access log records of this request; null when it is not logged. */
  readonly log: AccessEntry | null;
  /** A gRPC call (h2-upstream.ts): it goes over HTTP/2 and the balancer's own answers are gRPC statuses. */
  readonly grpc: boolean;
}

/** A request let in and routed, or why not: the answer to write instead. */
export type Admission =
  | { readonly ok: true; readonly pool: Pool; readonly client: string }
  | { readonly ok: false; readonly status: number; readonly code: ProxyErrorCode; readonly message: string; readonly headers: Record<string, string> };

/**
 * What every request and upgrade goes through first: request checks, drain, rate limits,
 * routing. A promise only when the rate limit is asked of the primary (--workers N).
 */
export function admitAndRoute(state: ProxyState, req: IncomingMessage): Admission | Promise<Admission> {
  const rt = state.runtime;
  const h2 = (req as { h2Problem?: H2Problem }).h2Problem; // what h2-front.ts found first
  if (h2 !== undefined) {
    state.metrics.badRequests++;
    return { ok: false, status: h2.status, code: h2.status === 431 ? ErrorCode.L7_HEADER_TOO_LARGE : ErrorCode.L7_BAD_REQUEST, message: h2.message, headers: {} };
  }
  const problem = requestProblem(req);
  if (problem !== null) {
    state.metrics.badRequests++;
    // Its framing cannot be trusted, so neither can whatever follows on the connection.
    return { ok: false, status: 400, code: ErrorCode.L7_BAD_REQUEST, message: problem, headers: { connection: 'close' } };
  }
  if (state.draining) return { ok: false, status: 503, code: ErrorCode.L7_DRAINING, message: 'this balancer is draining', headers: { 'retry-after': '5', connection: 'close' } };
  const client = requestClient(req, rt.config.trustedHops);
  if (rt.perClient !== null || rt.global !== null) {
    if (state.remoteBuckets !== null) return state.remoteBuckets.take(client).then((wait) => (wait > 0 ? limited(state, wait) : route(state, req, client)));
    const wait = takeTokens(rt.perClient, rt.global, client, state.now());
    if (wait > 0) return limited(state, wait);
  }
  return route(state, req, client);
}

function limited(state: ProxyState, wait: number): Admission {
  state.metrics.rateLimited++;
  return { ok: false, status: 429, code: ErrorCode.L7_RATE_LIMITED, message: 'too many requests', headers: { 'retry-after': String(Math.ceil(wait)) } };
}

function route(state: ProxyState, req: IncomingMessage, client: string): Admission {
  const rt = state.runtime;
  const url = req.url ?? '/';
  const target = normalizePath(url);
  if (!target.ok) {
    state.metrics.badRequests++;
    return { ok: false, status: 400, code: ErrorCode.L7_BAD_REQUEST, message: target.problem, headers: {} };
  }
  const r = matchRoute(rt.routes, { method: req.method ?? 'GET', host: req.headers.host, headers: req.headers, path: target.path, query: target.query });
  const pool = r === undefined ? undefined : rt.pools.get(r.pool);
  if (pool === undefined) {
    return { ok: false, status: 404, code: ErrorCode.L7_NO_ROUTE, message: `no route for host "${req.headers.host ?? ''}" and path "${target.path}"`, headers: {} };
  }
  // What the backend is sent, and what the rest of the request path (hash key, upgrade) reads.
  if (r!.replacePrefix !== null || target.changed) req.url = rewritePath(r!, target.path, target.query);
  return { ok: true, pool, client };
}

export function createRequestHandler(state: ProxyState): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const entry = state.accessLog == null ? null : state.accessLog.begin(req, res);
    const admission = admitAndRoute(state, req);
    if (admission instanceof Promise) void admission.then((a) => (res.destroyed ? undefined : handle(state, req, res, a, entry)));
    else handle(state, req, res, admission, entry);
  };
}

function handle(state: ProxyState, req: IncomingMessage, res: ServerResponse, admission: Admission, log: AccessEntry | null): void {
  if (!admission.ok) {
    reply(res, admission.status, admission.code, admission.message, admission.headers);
    return;
  }
  const { pool, client } = admission;
  const sticky = pool.config.sticky;
  let preferred: Backend | undefined;
  if (sticky !== undefined) {
    const value = cookieValue(req.headers.cookie, sticky.cookie);
    const id = value === undefined ? null : verifyBackend(sticky.secret, value);
    if (id !== null) preferred = pool.find(id);
  }
  const ex: Exchange = {
    req,
    res,
    pool,
    hashKey: pool.hashBased ? hashKeyOf(pool, req, client) : '',
    headers: requestHeaders(req.rawHeaders, req.headers, { peer: req.socket.remoteAddress ?? '', client, trustedHops: state.runtime.config.trustedHops, proto: state.proto, upgrade: false }),
    body: hasBody(req.headers) || h2HasBody(req) ? req : null,
    sticky: sticky === undefined ? null : { preferred },
    log,
    grpc: isGrpc(req),
  };
  const b = pool.pick(ex.hashKey, preferred);
  if (b !== undefined) {
    forward(state, ex, b, 0);
    return;
  }
  if (pool.usable.length === 0) {
    reply(res, 503, ErrorCode.L7_NO_BACKEND, `pool ${pool.name} has no usable backend`, { 'retry-after': '1' });
    return;
  }
  const queued = pool.wait(ex.hashKey, (picked) => {
    if (picked !== null) {
      if (res.destroyed) return; // the client left while waiting: nothing was begun
      forward(state, ex, picked, 0);
    } else {
      reply(res, 503, ErrorCode.L7_QUEUE_TIMEOUT, `pool ${pool.name}: every backend stayed at its request limit for ${pool.config.queue.timeoutMs} ms`, { 'retry-after': '1' });
    }
  });
  if (!queued) reply(res, 503, ErrorCode.L7_QUEUE_FULL, `pool ${pool.name}: every backend is at its request limit and the queue is full`, { 'retry-after': '1' });
}

function forward(state: ProxyState, ex: Exchange, b: Backend, attempt: number): void {
  ex.pool.begin(b, attempt > 0);
  if (ex.log !== null) {
    ex.log.backend = b.key;
    ex.log.retries = attempt;
  }
  if (overH2(ex, b)) {
    const h2 = forwardH2(state, ex, b, attempt);
    // A gRPC stream may rightly be quiet for long: it is held to http2.idleMs (h2-front.ts) instead.
    if (ex.body !== null && attempt === 0 && !ex.req.complete && !ex.grpc) watchBody(state, ex, h2);
    return;
  }
  const handler = new ForwardHandler(state, ex, b, attempt);
  ex.res.on('close', () => handler.clientClosed());
  if (ex.body !== null && attempt === 0 && !ex.req.complete) watchBody(state, ex, handler);
  b.dispatcher.dispatch({ path: ex.req.url ?? '/', method: ex.req.method as 'GET', headers: ex.headers, body: ex.body }, handler);
}

class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
  }
}

/** Why an attempt was abandoned for a retry on another backend (its own error report is then ignored). */
class RetriedElsewhere extends Error {
  constructor() {
    super('retried on another backend');
  }
}

/**
 * A body that stops arriving holds a backend slot: after `client.bodyIdleMs` without a byte
 * (the socket's idle timer, so no per-chunk work) the exchange ends with 408, as nginx's
 * client_body_timeout; so does one trickled under `client.minBodyBytesPerSec` (body-rate.ts).
 * The whole request's deadline is node's requestTimeout (balancer.ts).
 */
function watchBody(state: ProxyState, ex: Exchange, handler: { clientClosed(): void }): void {
  const { req, res } = ex;
  const client = state.runtime.config.client;
  const cut = (code: ProxyErrorCode, message: string): void => {
    if (req.complete) return;
    state.metrics.bodyTimeouts++;
    handler.clientClosed(); // the client's doing: the backend is not blamed
    reply(res, 408, code, message, { connection: 'close' });
  };
  req.setTimeout(client.bodyIdleMs, () => cut(ErrorCode.L7_BODY_TIMEOUT, `no request body data for ${client.bodyIdleMs} ms (client.bodyIdleMs)`));
  req.once('end', () => req.setTimeout(0));
  state.bodyRates.watch(req, () =>
    cut(ErrorCode.L7_BODY_TOO_SLOW, `the request body arrived slower than ${client.minBodyBytesPerSec} bytes/s over ${client.bodyRateGraceMs} ms (client.minBodyBytesPerSec)`),
  );
}

/**
 * One attempt on one backend, as an undici dispatch handler: the lowest-overhead way to
 * stream (no AbortSignal, no intermediate stream); backpressure by pausing the backend read
 * while the client's socket drains.
 */
class ForwardHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private finished = false;
  private clientGone = false;
  private readonly started = performance.now();

  constructor(
    private readonly state: ProxyState,
    private readonly ex: Exchange,
    private readonly b: Backend,
    private readonly attempt: number,
  ) {}

  clientClosed(): void {
    if (this.finished) return;
    this.clientGone = true;
    this.controller?.abort(new ClientGone());
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new ClientGone());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    const { b, ex } = this;
    const ms = performance.now() - this.started;
    b.recordLatency(ms);
    b.countStatus(statusCode);
    ex.pool.reportOutcome(b, statusCode < 500);
    this.state.metrics.observe(ex.pool.name, ms);
    if (ex.log !== null) ex.log.upstreamMs = ms;
    const next = statusCode >= 500 ? retryTarget(ex, b, this.attempt, '5xx') : undefined;
    if (next !== undefined) {
      // As Envoy does: drop this response (and its connection) and send the request elsewhere.
      this.finish();
      controller.abort(new RetriedElsewhere());
      retry(this.state, ex, next, this.attempt);
      return;
    }
    const out = responseHeaders(headers);
    if (ex.sticky !== null && ex.sticky.preferred !== b) addSetCookie(out, ex.pool, b, this.state.proto === 'https');
    if (statusMessage && ex.req.httpVersionMajor < 2) ex.res.writeHead(statusCode, statusMessage, out);
    else ex.res.writeHead(statusCode, out);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.ex.res.write(chunk)) {
      controller.pause();
      this.ex.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.finish();
    this.ex.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.finish();
    const { ex, b, state, attempt } = this;
    const { res, pool } = ex;
    // A client that left or stopped sending mid-body is not the backend's failure.
    if (this.clientGone || err instanceof ClientGone || err instanceof RetriedElsewhere || (!ex.req.complete && ex.req.socket.destroyed)) return;
    if (res.headersSent) {
      if (ex.log !== null) ex.log.termination = 'upstream-reset';
      res.destroy(); // the backend failed mid-body: cut, so the client sees a truncated response, not a complete one
      return;
    }
    const failure = classify(err);
    b.countStatus(failure.status);
    if (backendCaused(err)) pool.reportOutcome(b, false);
    const next = failure.retryOn === null ? undefined : retryTarget(ex, b, attempt, failure.retryOn);
    if (next !== undefined) {
      retry(state, ex, next, attempt);
      return;
    }
    reply(res, failure.status, failure.code, failure.status === 400 ? failure.what : `backend ${b.key}: ${failure.what}`);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.ex.pool.end(this.b, this.attempt > 0);
  }
}

interface Failure {
  readonly status: 400 | 502 | 504;
  readonly code: ProxyErrorCode;
  /** The retries.on condition it is, if any may retry it. */
  readonly retryOn: RetryCondition | null;
  readonly what: string;
}

/**
 * The backend a failed attempt is retried on, or undefined to answer with the failure. Only a
 * failure `retries.on` names, within `attempts` and the budget. A request the backend never
 * saw (connect-failure, refused-stream) may go again whatever its method, while its body is
 * unread; one it may have run (reset-before-response, 5xx) only when idempotent and bodiless.
 */
export function retryTarget(ex: Exchange, b: Backend, attempt: number, failure: RetryCondition): Backend | undefined {
  const r = ex.pool.config.retries;
  if (attempt >= r.attempts || !r.on.includes(failure)) return undefined;
  const mayHaveRun = failure === 'reset-before-response' || failure === '5xx';
  const replayable = mayHaveRun ? ex.body === null && isIdempotent(ex.req.method ?? 'GET') : ex.body === null || !(ex.body.readableDidRead || ex.body.destroyed);
  if (!replayable || !ex.pool.canRetry()) return undefined;
  const next = ex.pool.pick(ex.hashKey, undefined, b);
  return next === b ? undefined : next;
}

export function retry(state: ProxyState, ex: Exchange, next: Backend, attempt: number): void {
  state.metrics.retries++;
  forward(state, ex, next, attempt + 1);
}

export function classify(err: Error): Failure {
  const code = (err as { code?: string }).code ?? '';
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { status: 504, code: ErrorCode.L7_CONNECT_TIMEOUT, retryOn: 'connect-failure', what: 'connect timed out' };
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { status: 504, code: ErrorCode.L7_HEADERS_TIMEOUT, retryOn: null, what: 'no response header in time' };
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { status: 502, code: ErrorCode.L7_CONNECT_FAILED, retryOn: 'connect-failure', what: `cannot connect (${code})` };
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
      // Often a keep-alive connection the backend closed as we reused it, but the backend may have read and run the request.
      return { status: 502, code: ErrorCode.L7_UPSTREAM_FAILED, retryOn: 'reset-before-response', what: `connection closed before a response (${code})` };
    case 'UND_ERR_INVALID_ARG':
    case 'UND_ERR_NOT_SUPPORTED':
      // undici refused what the client sent before any byte left: the client's request, not the backend.
      return { status: 400, code: ErrorCode.L7_BAD_REQUEST, retryOn: null, what: `the request cannot be forwarded: ${err.message}` };
    default:
      // A certificate that does not verify, or a handshake the backend refused (mTLS): it never saw the request.
      if (isTlsFailure(code)) return { status: 502, code: ErrorCode.L7_BACKEND_TLS, retryOn: 'connect-failure', what: `TLS handshake failed (${code})` };
      return { status: 502, code: ErrorCode.L7_UPSTREAM_FAILED, retryOn: null, what: `${code || err.name}: ${err.message}` };
  }
}

/**
 * The failures outlier ejection counts (issue 15 item 3): what the backend did (refused,
 * timed out, reset, sent no header). What the client did (an invalid request undici
 * refuses, leaving mid-body) or the balancer did (a dispatcher closed by a reload) never is;
 * neither is any answer the balancer writes itself. 5xx the backend sent count in onResponseStart.
 */
const BACKEND_FAULTS = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'ECONNRESET',
  'EPIPE',
]);
export function backendCaused(err: Error): boolean {
  const code = (err as { code?: string }).code ?? '';
  return BACKEND_FAULTS.has(code) || isTlsFailure(code);
}

/** A certificate that did not verify or a handshake refused (OpenSSL and Node codes, as the health probes read them). */
function isTlsFailure(code: string): boolean {
  return TLS_CODE.test(code);
}

export function addSetCookie(out: Record<string, string | string[]>, pool: Pool, b: Backend, secure: boolean): void {
  const sticky = pool.config.sticky!;
  const cookie = setCookieHeader(sticky.cookie, signBackend(sticky.secret, b.id), sticky.maxAgeSec, secure);
  const existing = out['set-cookie'];
  out['set-cookie'] = existing === undefined ? cookie : [...(Array.isArray(existing) ? existing : [existing]), cookie];
}

/** What a hash-based pool hashes; falls back to the client address when the header or cookie is absent. */
export function hashKeyOf(pool: Pool, req: IncomingMessage, client: string): string {
  const key = pool.config.hashKey;
  switch (key.source) {
    case 'header':
      return headerOf(req.headers, key.name!.toLowerCase()) ?? client;
    case 'cookie':
      return cookieValue(req.headers.cookie, key.name!) ?? client;
    case 'path':
      return pathOf(req.url);
    default:
      return client;
  }
}

function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q < 0 ? u : u.slice(0, q);
}

const errorBody = (status: number, message: string): string => `${status} ${STATUS_CODES[status] ?? ''}: ${message}\n`;

/** A response the balancer writes itself: status, a one-line text body, and its stable code. */
export function reply(res: ServerResponse, status: number, code: ProxyErrorCode, message: string, extra: Record<string, string> = {}): void {
  if (isGrpc(res.req)) {
    grpcReply(res, code, message);
    return;
  }
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  if (res.req.httpVersionMajor === 2 && extra.connection !== undefined) {
    extra = { ...extra }; // connection-specific: HTTP/2 has none (RFC 9113 §8.2.2)
    delete extra.connection;
  }
  const body = errorBody(status, message);
  res.setHeader('x-meridian-error', code); // set apart, so the access log can read it back (writeHead's own headers cannot be)
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    via: VIA,
    ...extra,
  });
  res.end(body);
}

/** The same answer on a raw socket (an upgrade request, a request node's parser refused), then the connection closed. */
export function rawReply(socket: Duplex, status: number, code: ProxyErrorCode, message: string, extra: Record<string, string> = {}): void {
  const body = errorBody(status, message);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-meridian-error: ${code}\r\nvia: ${VIA}\r\nconnection: close\r\n`;
  for (const name in extra) if (name !== 'connection') head += `${name}: ${extra[name]}\r\n`;
  socket.end(`${head}\r\n${body}`);
}
