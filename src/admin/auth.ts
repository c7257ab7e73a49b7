/**
 * Who may use an admin listener: the one access check of the admin API (server.ts) and of the
 * balancer's admin listener (../l7/admin.ts), so both answer a hostile request alike.
 *
 * - Tokens are bearer tokens, read-only or read-write, compared as SHA-256 digests in constant
 *   time (every candidate is compared, whichever matches). No token or a wrong one: 401
 *   GSLB_ERR_API_UNAUTHENTICATED with `WWW-Authenticate`; a read-only token on a write: 403
 *   GSLB_ERR_API_FORBIDDEN.
 * - Without any token the listener serves loopback only (`requireTokenOffLoopback`), and the
 *   browser guard (browser-guard.ts) refuses what only a web page would send.
 * - Each route says what it needs in its fastify config (`access`): `read`, `write` (also the
 *   default, so a route that forgets is closed), `public` (no token, but the browser guard) or
 *   `probe` (neither: orchestrators' and the DNS tier's probes, sent with whatever Host).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ErrorCode, GslbError, httpStatus, type ErrorCodeValue } from '../errors.js';
import { isLoopbackHost, parseListenAddress } from '../net/listen-address.js';
import { BrowserGuard } from './browser-guard.js';
import { problem, PROBLEM_JSON } from './errors.js';

export type Access = 'read' | 'write';
export type RouteAccess = Access | 'public' | 'probe';

export interface ApiToken {
  readonly name: string;
  readonly access: Access;
  /** SHA-256 of the token: compared in constant time, and the token itself is not kept. */
  readonly digest: Buffer;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The token the request was let in with; null on public and probe routes. */
    token: ApiToken | null;
  }
  interface FastifyContextConfig {
    /** What the route needs; absent: write. */
    access?: RouteAccess;
  }
}

export function makeToken(name: string, token: string, access: Access): ApiToken {
  return { name, access, digest: digest(token) };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The token named by an `Authorization: Bearer …` header, or null. Every candidate is compared, in constant time. */
export function authenticate(header: string | undefined, tokens: readonly ApiToken[]): ApiToken | null {
  const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return null;
  const presented = digest(m[1]!);
  let found: ApiToken | null = null;
  for (const t of tokens) {
    if (timingSafeEqual(presented, t.digest) && found === null) found = t;
  }
  return found;
}

/** Throws, naming `field`, when a listener without a token would serve off loopback. */
export function requireTokenOffLoopback(listen: string, hasToken: boolean, what: string, hint: string, field = 'admin.listen'): void {
  if (hasToken || isLoopbackHost(parseListenAddress(listen).host)) return;
  throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `${field}: refusing to serve ${what} on ${listen} without a token: ${hint}`);
}

/** A refused request, as both listeners answer it: the status of its code, and `{error, message, field, details}`. */
export interface AccessRefusal {
  readonly status: number;
  readonly code: ErrorCodeValue;
  readonly message: string;
  readonly field: string | null;
  readonly headers: Readonly<Record<string, string>>;
}

/** The user of a listener without tokens (loopback only, where the machine's users are trusted as with a local socket). */
const ANONYMOUS: ApiToken = { name: 'anonymous (no tokens configured)', access: 'write', digest: Buffer.alloc(32) };

export interface AccessOptions {
  readonly tokens: readonly ApiToken[];
  /** Without tokens: Host names a browser may use besides the listen address (browser-guard.ts). */
  readonly allowedHosts: readonly string[];
}

/** The access check of one listener. */
export class AccessCheck {
  readonly #tokens: readonly ApiToken[];
  readonly #guard: BrowserGuard | null;

  constructor(options: AccessOptions) {
    this.#tokens = options.tokens;
    this.#guard = options.tokens.length === 0 ? new BrowserGuard(options.allowedHosts) : null;
  }

  /** The token a request to a route needing `need` is let in with (null: public), or why it is refused. */
  check(req: Parameters<BrowserGuard['check']>[0], need: RouteAccess): { readonly token: ApiToken | null } | { readonly refusal: AccessRefusal } {
    if (need === 'probe') return { token: null };
    const refusal = this.#guard?.check(req);
    if (refusal) return { refusal: { status: refusal.status, code: refusal.code, message: refusal.message, field: refusal.field, headers: {} } };
    if (need === 'public') return { token: null };
    if (this.#tokens.length === 0) return { token: ANONYMOUS };
    const token = authenticate(req.headers.authorization, this.#tokens);
    if (token === null)
      return { refusal: refused(ErrorCode.GSLB_ERR_API_UNAUTHENTICATED, 'a valid bearer token is required (Authorization: Bearer <token>)', { 'www-authenticate': 'Bearer realm="meridian"' }) };
    if (need === 'write' && token.access !== 'write') return { refusal: refused(ErrorCode.GSLB_ERR_API_FORBIDDEN, `token "${token.name}" is read-only; this needs a read-write token`) };
    return { token };
  }

  /** Checks every request of `app` before its route runs; a refusal is answered there. */
  install(app: FastifyInstance): void {
    app.decorateRequest('token', null);
    app.addHook('onRequest', async (req, reply) => {
      const outcome = this.check(req.raw, req.routeOptions.config.access ?? 'write');
      if ('token' in outcome) {
        req.token = outcome.token;
        return;
      }
      const r = outcome.refusal;
      return reply
        .status(r.status)
        .headers(r.headers)
        .type(PROBLEM_JSON)
        .send(problem(r.code, r.status, r.message, req.url, r.field));
    });
  }
}

function refused(code: ErrorCodeValue, message: string, headers: Record<string, string> = {}): AccessRefusal {
  return { status: httpStatus(code), code, message, field: null, headers };
}
