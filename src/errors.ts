/**
 * Every error code meridian gives, with the HTTP status it is answered with, in one table (as
 * fastify's lib/errors.js): the DNS server's start-up and file errors, the admin API's
 * `GSLB_ERR_API_*`, and the balancer's `L7_*` (its admin listener's, and those of the answers
 * it writes itself, in the X-Meridian-Error header). README.md "Error codes" lists the same
 * (test/structure/error-codes.test.ts keeps the two, and the codes src uses, in step).
 * Expected outcomes (NXDOMAIN, no healthy target) are values, never throws.
 */
export interface ErrorInfo {
  /** Who gives it: start-up and files, the admin API, the balancer's admin listener, the balancer's own answers. */
  readonly where: 'start' | 'api' | 'balancer-admin' | 'balancer';
  /** The HTTP status it is answered with; a start-up error never reaches HTTP but is the client's (4xx) or the server's (5xx) all the same. */
  readonly status: number;
  readonly summary: string;
}

export const ERRORS = {
  // Start-up, configuration and files: `meridian serve`, `check`, `explain`, `simulate`, `balance`.
  GSLB_ERR_CONFIG_INVALID: { where: 'start', status: 400, summary: 'a config file, flag or environment variable is invalid; the message names the field' },
  GSLB_ERR_ZONE_INVALID: { where: 'start', status: 409, summary: 'the zones folder cannot be read, or (admin API) the zone has no valid version loaded' },
  GSLB_ERR_LISTEN_ADDRESS_INVALID: { where: 'start', status: 400, summary: 'a listen address is not ADDR:PORT' },
  GSLB_ERR_LISTEN_FAILED: { where: 'start', status: 500, summary: 'a socket cannot be bound, or a worker process did not start' },
  GSLB_ERR_GEOIP_INVALID: { where: 'start', status: 500, summary: 'a GeoIP database cannot serve lookups' },
  GSLB_ERR_SIM_INPUT: { where: 'start', status: 400, summary: '`meridian simulate`: a change names no target, or contradicts itself' },
  GSLB_ERR_SIM_POPULATION: { where: 'start', status: 400, summary: '`meridian simulate`: the client population file is invalid' },
  GSLB_ERR_DNSSEC_KEY_INVALID: {
    where: 'start',
    status: 400,
    summary:
      "`meridian check`, DNSSEC keys: a key file is malformed (not a DNSKEY record, another zone's key, a private key that does not match, a bad date, a tag that is not the file name's or is another file's too)",
  },
  GSLB_ERR_DNSSEC_KEY_UNREADABLE: { where: 'start', status: 500, summary: '`meridian check`, DNSSEC keys: a key file or the key folder cannot be read, or is not a file' },
  GSLB_ERR_DNSSEC_KEY_NO_PRIVATE: { where: 'start', status: 400, summary: '`meridian check`, DNSSEC keys: a .key file has no .private file beside it' },
  GSLB_ERR_DNSSEC_KEY_ALGORITHM: { where: 'start', status: 400, summary: "`meridian check`, DNSSEC keys: a key's algorithm is not supported (13, 15) or is not the zone's, so it is never used" },
  GSLB_ERR_DNSSEC_KEY_MODE: { where: 'start', status: 400, summary: '`meridian check`, DNSSEC keys: a .private file other users can read (every user: serve refuses it)' },
  GSLB_ERR_DNSSEC_KEY_TIMING: { where: 'start', status: 400, summary: "`meridian check`, DNSSEC keys: a key's timing fields are out of order (Activate before Publish, Delete before Inactive …)" },
  GSLB_ERR_DNSSEC_NO_SIGNING_KEY: {
    where: 'start',
    status: 400,
    summary: '`meridian check`, DNSSEC keys: now or from a coming timing event no key of the zone signs (validators would find it bogus)',
  },
  GSLB_ERR_DNSSEC_DS_MISMATCH: {
    where: 'start',
    status: 400,
    summary: '`meridian check --parent-ds`: a parent DS record matches no key of the zone, or none matches a key that signs its DNSKEY RRset',
  },
  // The admin API (RFC 9457 problem documents with `code` and `field`: admin/errors.ts problem()).
  GSLB_ERR_API_INVALID: { where: 'api', status: 400, summary: 'the request is invalid; `field` names what (a body the HTTP layer refuses keeps its 4xx: 413, 415)' },
  GSLB_ERR_API_UNAUTHENTICATED: { where: 'api', status: 401, summary: 'no valid bearer token' },
  GSLB_ERR_API_FORBIDDEN: { where: 'api', status: 403, summary: 'a read-only token on a write' },
  GSLB_ERR_API_HOST_NOT_ALLOWED: { where: 'api', status: 403, summary: 'without a token: the Host header is not this listener (DNS rebinding)' },
  GSLB_ERR_API_CROSS_ORIGIN: { where: 'api', status: 403, summary: 'without a token: the Origin header is another site' },
  GSLB_ERR_API_NOT_FOUND: { where: 'api', status: 404, summary: 'no such zone, record, policy entry or target' },
  GSLB_ERR_API_CONFLICT: { where: 'api', status: 409, summary: 'the change conflicts with what is served (the zone exists, the name is taken …)' },
  GSLB_ERR_API_STALE: { where: 'api', status: 412, summary: 'If-Match names an older serial (in a cluster: revision), or another node changed the zone meanwhile' },
  GSLB_ERR_API_CONTENT_TYPE: { where: 'api', status: 415, summary: 'without a token: a write whose body is not application/json' },
  GSLB_ERR_API_JOURNAL_CORRUPT: { where: 'api', status: 500, summary: "the zone's journal has a corrupt entry; writes wait until it is moved away" },
  GSLB_ERR_API_AUDIT: { where: 'api', status: 500, summary: 'the change was applied but its audit line could not be written' },
  GSLB_ERR_API_RELOAD: { where: 'api', status: 500, summary: 'the change was written but the zone did not load' },
  GSLB_ERR_API_INTERNAL: { where: 'api', status: 500, summary: 'an unexpected failure; the server log has it' },
  GSLB_ERR_API_STOPPING: { where: 'api', status: 503, summary: 'the server is stopping' },
  GSLB_ERR_API_CLUSTER_UNAVAILABLE: { where: 'api', status: 503, summary: 'cluster mode: this node is not in step with the cluster store (NATS); the write is refused and nothing changed' },
  GSLB_ERR_API_CLUSTER_TOO_LARGE: { where: 'api', status: 413, summary: 'cluster mode: the zone is larger than the NATS server takes in one message (max_payload)' },
  // The balancer's admin listener (JSON, as the admin API's).
  L7_INVALID_REQUEST: { where: 'balancer-admin', status: 400, summary: 'the request is invalid (a body the HTTP layer refuses keeps its 4xx)' },
  L7_CONFIG_INVALID: { where: 'balancer-admin', status: 400, summary: 'a reload found the config file invalid; the old config keeps serving' },
  L7_NO_SUCH_BACKEND: { where: 'balancer-admin', status: 404, summary: 'no such pool or backend' },
  L7_CONFLICT: { where: 'balancer-admin', status: 409, summary: "the change is refused as it stands (a pool's last backend), or no worker applied it in time" },
  L7_INTERNAL: { where: 'balancer-admin', status: 500, summary: 'an unexpected failure; the balancer log has it' },
  // Answers the balancer writes itself (text/plain, X-Meridian-Error).
  L7_BAD_REQUEST: { where: 'balancer', status: 400, summary: 'a malformed request, refused before any backend sees it' },
  L7_NO_ROUTE: { where: 'balancer', status: 404, summary: 'no route matches and there is no pool named default' },
  L7_REQUEST_TIMEOUT: { where: 'balancer', status: 408, summary: 'the request was not received whole in time' },
  L7_BODY_TIMEOUT: { where: 'balancer', status: 408, summary: 'the request body stalled longer than client.bodyIdleMs' },
  L7_BODY_TOO_SLOW: { where: 'balancer', status: 408, summary: 'the request body arrived slower than client.minBodyBytesPerSec' },
  L7_RATE_LIMITED: { where: 'balancer', status: 429, summary: "the client's (or the global) token bucket is empty" },
  L7_HEADER_TOO_LARGE: { where: 'balancer', status: 431, summary: 'the request header is larger than client.maxHeaderBytes' },
  L7_CONNECT_FAILED: { where: 'balancer', status: 502, summary: 'the backend refused or could not be reached' },
  L7_BACKEND_TLS: { where: 'balancer', status: 502, summary: 'the TLS handshake with the backend failed' },
  L7_UPSTREAM_FAILED: { where: 'balancer', status: 502, summary: 'the backend closed or reset before a response' },
  L7_NO_BACKEND: { where: 'balancer', status: 503, summary: 'the pool has no usable backend' },
  L7_DRAINING: { where: 'balancer', status: 503, summary: 'the balancer is draining' },
  L7_QUEUE_FULL: { where: 'balancer', status: 503, summary: "every backend is at its request limit and the pool's queue is full" },
  L7_QUEUE_TIMEOUT: { where: 'balancer', status: 503, summary: 'every backend stayed at its request limit for queue.timeoutMs' },
  L7_CONNECT_TIMEOUT: { where: 'balancer', status: 504, summary: 'connecting to the backend timed out' },
  L7_HEADERS_TIMEOUT: { where: 'balancer', status: 504, summary: 'the backend sent no response header in time' },
  L7_DEADLINE_EXCEEDED: { where: 'balancer', status: 504, summary: "a gRPC call's grpc-timeout passed" },
} as const satisfies Record<string, ErrorInfo>;

export type ErrorCodeValue = keyof typeof ERRORS;

/** The codes of one `where`. */
export type ErrorCodeOf<W extends ErrorInfo['where']> = { [K in ErrorCodeValue]: (typeof ERRORS)[K]['where'] extends W ? K : never }[ErrorCodeValue];

/** Each code by name, for call sites: `ErrorCode.L7_DRAINING === 'L7_DRAINING'`. */
export const ErrorCode = Object.freeze(Object.fromEntries(Object.keys(ERRORS).map((k) => [k, k]))) as { readonly [K in ErrorCodeValue]: K };

/** The HTTP status a code is answered with. */
export function httpStatus(code: ErrorCodeValue): number {
  return ERRORS[code].status;
}

export class GslbError extends Error {
  readonly code: ErrorCodeValue;
  readonly details: readonly string[];
  constructor(code: ErrorCodeValue, message: string, details: readonly string[] = []) {
    super(message);
    this.name = 'GslbError';
    this.code = code;
    this.details = details;
  }
}
