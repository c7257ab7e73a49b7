/**
 * The regional balancer's config file (`meridian balance --config FILE`): schema with every
 * knob's default and bounds, loaded from YAML or JSON, with errors naming file, line and field.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { Keyed } from '../config/keyed-record.js';
import { describeSchemaError, parseYamlSource, schemaProblems } from '../config/yaml-source.js';
import { ErrorCode, GslbError } from '../errors.js';
import { parseListenAddress } from '../net/listen-address.js';
import { formatProblem } from '../problems/problem-list.js';
import { ALGORITHM_NAMES } from './algorithms/index.js';
import { BackendTlsSchema, resolveTlsPaths, tlsProblems } from './backend-tls.js';
import { discoveryProblems, DiscoverySchema } from './discovery.js';
import { regexProblem } from './routing.js';

const ms = (def: number, min: number, max: number, description: string) => Type.Integer({ minimum: min, maximum: max, default: def, description });
const obj = <T extends Parameters<typeof Type.Object>[0]>(props: T, description?: string) =>
  Type.Object(props, { default: {}, additionalProperties: false, ...(description !== undefined && { description }) });

const BackendSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$', description: 'unique within its pool' }),
    address: Type.String({ description: 'HOST:PORT of the backend; IPv6 as [::1]:8080' }),
    weight: Type.Integer({ minimum: 1, maximum: 1000, default: 1 }),
    maxConnections: Type.Integer({ minimum: 1, maximum: 100_000, default: 256, description: 'keep-alive connections the balancer opens to it' }),
    maxRequests: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1024, description: 'requests in flight to it at once (circuit breaker)' }),
    tls: Type.Optional(Type.Union([BackendTlsSchema, Type.Null()], { description: "TLS to this backend; absent: the pool's tls; null: plain HTTP" })),
    protocol: Type.Optional(
      Type.Union([Type.Literal('http1'), Type.Literal('h2c')], {
        default: 'http1',
        description: 'http1: HTTP/1.1; h2c: HTTP/2 with prior knowledge for every request (gRPC requests always go over HTTP/2)',
      }),
    ),
  },
  { additionalProperties: false },
);

/**
 * Active checks are always on (issue 15, item 4): a backend counts as healthy only once a check
 * passed, so /healthz can pull a dead region from DNS. Absent, the check is a TCP connect every 2 s.
 */
const HealthCheckSchema = Type.Object(
  {
    type: Type.Union([Type.Literal('http'), Type.Literal('tcp'), Type.Literal('grpc')], { default: 'http' }),
    service: Type.Optional(Type.String({ maxLength: 127, pattern: '^[A-Za-z0-9_.-]*$', description: 'grpc: the service grpc.health.v1 is asked about; default "" (the server as a whole)' })),
    path: Type.String({ pattern: '^/', default: '/healthz' }),
    expect: Type.Array(Type.Tuple([Type.Integer({ minimum: 100, maximum: 599 }), Type.Integer({ minimum: 100, maximum: 599 })]), {
      default: [[200, 399]],
      minItems: 1,
      description: 'status ranges that pass',
    }),
    host: Type.Optional(Type.String({ minLength: 1, description: 'Host header; default the backend address' })),
    intervalMs: ms(2000, 100, 3_600_000, 'time between checks of one backend'),
    timeoutMs: ms(1000, 10, 60_000, 'a check slower than this fails'),
    rise: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
    fall: Type.Integer({ minimum: 1, maximum: 100, default: 3 }),
  },
  { additionalProperties: false, default: { type: 'tcp' }, description: 'active checks; absent: TCP connect every 2 s' },
);

// ── Retries (issue 15, item 5) ────────────────────────────────────────────────────────────────
/**
 * Failures a retry may follow, as Envoy's `retry_on`. connect-failure and refused-stream mean
 * the backend never saw the request; after reset-before-response or 5xx it may have run it,
 * so those retry only idempotent requests without a body, and only when named here.
 */
export const RETRY_CONDITIONS = ['connect-failure', 'refused-stream', 'reset-before-response', '5xx'] as const;
export type RetryCondition = (typeof RETRY_CONDITIONS)[number];

const RetriesSchema = obj({
  attempts: Type.Integer({ minimum: 0, maximum: 5, default: 1, description: 'retries of a failed request, each on another backend' }),
  on: Type.Array(Type.Unsafe<RetryCondition>({ type: 'string', enum: [...RETRY_CONDITIONS] }), {
    default: ['connect-failure'],
    uniqueItems: true,
    description: 'failures that are retried (connect-failure, refused-stream, reset-before-response, 5xx); []: none',
  }),
  budgetPercent: Type.Integer({ minimum: 0, maximum: 100, default: 20, description: 'retries in flight at most this share of requests in flight' }),
  minConcurrent: Type.Integer({ minimum: 0, maximum: 10_000, default: 3, description: 'retries always allowed in flight, whatever the budget' }),
});
// ──────────────────────────────────────────────────────────────────────────────────────────────

const PoolSchema = Type.Object(
  {
    algorithm: Type.Union(
      ALGORITHM_NAMES.map((n) => Type.Literal(n)),
      { default: 'round-robin' },
    ),
    hashKey: obj(
      {
        source: Type.Union([Type.Literal('client-ip'), Type.Literal('header'), Type.Literal('cookie'), Type.Literal('path')], { default: 'client-ip' }),
        name: Type.Optional(Type.String({ minLength: 1, description: 'header or cookie name' })),
      },
      'what consistent-hash hashes on',
    ),
    virtualNodes: Type.Integer({ minimum: 1, maximum: 10_000, default: 160, description: 'ring points per unit of weight (consistent-hash)' }),
    backends: Type.Array(BackendSchema, { description: 'at least one, unless discovery finds them' }),
    discovery: Type.Optional(DiscoverySchema),
    tls: Type.Optional(BackendTlsSchema),
    healthCheck: HealthCheckSchema,
    outlierDetection: obj({
      consecutiveErrors: Type.Integer({ minimum: 0, maximum: 1000, default: 5, description: '5xx or connect errors in a row that eject a backend; 0: off' }),
      baseEjectionMs: ms(10_000, 100, 3_600_000, 'first ejection; the n-th lasts n times this'),
      maxEjectionMs: ms(300_000, 100, 86_400_000, 'cap on one ejection'),
      maxEjectedPercent: Type.Integer({ minimum: 0, maximum: 100, default: 50, description: 'share of backends that may be ejected at once' }),
    }),
    queue: obj({
      size: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 256, description: 'requests that may wait when every backend is at maxRequests; 0: answer 503 at once' }),
      timeoutMs: ms(1000, 1, 600_000, 'a request waiting longer gets 503'),
    }),
    panicThresholdPercent: Type.Integer({ minimum: 0, maximum: 100, default: 50, description: 'below this share of usable backends, spread over all of them' }),
    slowStartMs: ms(0, 0, 3_600_000, 'a returning or new backend ramps its share up over this window; 0: off'),
    sticky: Type.Optional(
      Type.Object(
        {
          cookie: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', default: 'MERIDIAN_BACKEND' }),
          secret: Type.String({ minLength: 16, description: 'HMAC key that signs the cookie' }),
          maxAgeSec: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000 })),
        },
        { additionalProperties: false, description: 'cookie stickiness; absent: off' },
      ),
    ),
    retries: RetriesSchema,
  },
  { additionalProperties: false },
);

const RateSchema = Type.Union(
  [
    Type.Object(
      {
        ratePerSec: Type.Number({ exclusiveMinimum: 0, maximum: 10_000_000 }),
        burst: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
      },
      { additionalProperties: false },
    ),
    Type.Null(),
  ],
  { default: null },
);

// ── HTTP/2 to clients (issue 15, "what operators expect"): h2-front.ts ─────────────────────────
const Http2Schema = obj(
  {
    enabled: Type.Boolean({ default: true, description: 'offer h2 by ALPN on the TLS listener (no effect without tls)' }),
    cleartextListen: Type.Union([Type.String(), Type.Null()], {
      default: null,
      description: 'ADDR:PORT of a second listener that takes h2c with prior knowledge (as gRPC clients without TLS speak); null: none',
    }),
    maxConcurrentStreams: Type.Integer({ minimum: 1, maximum: 10_000, default: 100, description: 'streams one connection may have open at once' }),
    maxStreamsPerConnection: Type.Integer({ minimum: 0, maximum: 100_000_000, default: 0, description: 'requests one connection may make before it gets GOAWAY; 0: no cap' }),
    maxResetsPerSec: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      default: 100,
      description: 'streams a client may cancel per second on one connection before it is closed with GOAWAY (rapid reset, CVE-2023-44487)',
    }),
    idleMs: ms(60_000, 1, 3_600_000, 'a stream (request body or response) making no progress this long is cancelled, so a slow reader cannot hold a backend slot'),
  },
  'HTTP/2 to clients; the client limits (maxHeaderBytes, bodyIdleMs, maxConnectionsPerClient, rate limits) apply to it as to HTTP/1.1',
);
// ──────────────────────────────────────────────────────────────────────────────────────────────

const HEADER_NAME = "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$";

const RouteSchema = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1, description: 'exact host, or *.suffix (shorthand for match.host)' })),
    pathPrefix: Type.Optional(Type.String({ pattern: '^/', description: 'shorthand for match.pathPrefix' })),
    match: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'exact host, or *.suffix' })),
          pathPrefix: Type.Optional(Type.String({ pattern: '^/', maxLength: 1024, description: 'matched at a segment boundary on the normalised path' })),
          ignoreCase: Type.Optional(Type.Boolean({ description: 'compare pathPrefix without regard to case' })),
          methods: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z]{1,32}$' }), { minItems: 1, maxItems: 32, uniqueItems: true })),
          headers: Type.Optional(
            Type.Array(
              Type.Object(
                {
                  name: Type.String({ pattern: HEADER_NAME }),
                  exact: Type.Optional(Type.String({ maxLength: 8192 })),
                  prefix: Type.Optional(Type.String({ minLength: 1, maxLength: 8192 })),
                  regex: Type.Optional(Type.String({ minLength: 1 })),
                  present: Type.Optional(Type.Boolean()),
                },
                { additionalProperties: false, description: 'exactly one of exact, prefix, regex, present' },
              ),
              { maxItems: 32 },
            ),
          ),
          query: Type.Optional(
            Type.Array(
              Type.Object(
                {
                  name: Type.String({ minLength: 1, maxLength: 256 }),
                  exact: Type.Optional(Type.String({ maxLength: 8192 })),
                  present: Type.Optional(Type.Boolean()),
                },
                { additionalProperties: false, description: 'exactly one of exact, present' },
              ),
              { maxItems: 32 },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    rewrite: Type.Optional(
      Type.Object(
        {
          stripPrefix: Type.Optional(Type.Literal(true, { description: 'remove the matched pathPrefix' })),
          replacePrefix: Type.Optional(Type.String({ pattern: '^/', maxLength: 1024, description: 'put this in place of the matched pathPrefix' })),
        },
        { additionalProperties: false, description: 'exactly one of stripPrefix, replacePrefix' },
      ),
    ),
    pool: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
);

export const BalancerConfigSchema = Type.Object(
  {
    listen: Type.String({ default: '127.0.0.1:8080', description: 'ADDR:PORT the proxy serves on' }),
    tls: Type.Union([Type.Object({ cert: Type.String({ minLength: 1 }), key: Type.String({ minLength: 1 }) }, { additionalProperties: false }), Type.Null()], {
      default: null,
      description: 'PEM files to terminate TLS; relative to the config file',
    }),
    admin: obj({
      listen: Type.Union([Type.String(), Type.Null()], { default: '127.0.0.1:8081', description: '/healthz, /status, /metrics, drain; null: none' }),
      token: Type.Union([Type.String({ minLength: 16 }), Type.Null()], { default: null, description: 'bearer token for drain/undrain/reload; required off loopback' }),
      allowedHosts: Type.Array(Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:_\\[\\]-]+$' }), {
        default: [],
        description: 'without a token: Host names besides the listen address (and localhost on loopback) a browser may use',
      }),
    }),
    trustedHops: Type.Integer({ minimum: 0, maximum: 10, default: 0, description: 'proxies in front whose X-Forwarded-For entries are believed' }),
    timeouts: obj({
      connectMs: ms(3000, 1, 600_000, 'connecting to a backend'),
      headersMs: ms(30_000, 1, 3_600_000, 'waiting for a backend response header (then 504)'),
      idleMs: ms(60_000, 1, 3_600_000, 'a backend body or a WebSocket silent this long is cut'),
      clientHeadersMs: ms(15_000, 1, 600_000, 'a client sending its request header slower than this is cut'),
      clientKeepAliveMs: ms(5_000, 1, 600_000, 'an idle client keep-alive connection is closed after this'),
    }),
    rateLimit: obj({
      perClient: RateSchema,
      global: RateSchema,
    }),
    // What one client may send and hold (issue 15, items 2 and 3); the request header's own deadline is timeouts.clientHeadersMs.
    client: obj(
      {
        maxHeaderBytes: Type.Integer({ minimum: 1024, maximum: 1_048_576, default: 16_384, description: 'request line and headers larger than this get 431' }),
        bodyIdleMs: ms(60_000, 1, 3_600_000, 'a request body silent this long between two reads gets 408 (as nginx client_body_timeout)'),
        requestMs: ms(300_000, 1, 86_400_000, 'a request (header and body) not received whole in this time gets 408'),
        minBodyBytesPerSec: Type.Integer({
          minimum: 0,
          maximum: 1_000_000_000,
          default: 240,
          description: 'past the grace period a body arriving slower than this on average gets 408 (as Kestrel MinRequestBodyDataRate); 0: off',
        }),
        bodyRateGraceMs: ms(5000, 100, 3_600_000, 'the window over which minBodyBytesPerSec is measured, and the grace before the first'),
        maxConnectionsPerClient: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 256, description: 'open connections from one peer address; more are closed at once; 0: no cap' }),
      },
      'limits on what a client sends',
    ),
    http2: Http2Schema,
    routes: Type.Array(RouteSchema, { default: [], description: 'first match wins; with no match the pool named "default" (if any) serves' }),
    accessLog: obj({
      path: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
        default: null,
        description: 'file to append one JSON line per request to ("-": standard output), relative to the config file; null: off',
      }),
      sample: Type.Number({ minimum: 0, maximum: 1, default: 1, description: 'share of requests logged' }),
      maxPending: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000, description: 'lines queued while the sink is busy; more are dropped and counted' }),
      flushMs: Type.Integer({ minimum: 1, maximum: 10_000, default: 200, description: 'how often queued lines are written' }),
    }),
    pools: Keyed(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' }), PoolSchema, { minProperties: 1 }),
  },
  { additionalProperties: false },
);

export type BalancerConfig = Static<typeof BalancerConfigSchema>;
export type PoolConfig = Static<typeof PoolSchema>;
export type BackendConfig = Static<typeof BackendSchema>;
export type HealthCheckConfig = Static<typeof HealthCheckSchema>;

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validate = ajv.compile<BalancerConfig>(BalancerConfigSchema);

/** Reads and validates a balancer config; throws GslbError whose details are "file:line: field: problem". */
export function loadBalancerConfig(file: string): BalancerConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw invalid([`${file}:0: cannot read the config file: ${(err as Error).message}`]);
  }
  return parseBalancerConfig(text, file);
}

export function parseBalancerConfig(text: string, file: string): BalancerConfig {
  const source = parseYamlSource(text, file);
  if (source.problems.length > 0) throw invalid(source.problems.map(formatProblem));
  const config = structuredClone(source.value ?? {});
  if (!validate(config)) {
    throw invalid(schemaProblems(validate, source, file).map(formatProblem));
  }
  resolveTlsPaths(config.pools, path.dirname(file));
  const problems = semanticProblems(config).map((p) => `${file}:${source.lineOf(p.pointer)}: ${p.message}`);
  if (problems.length > 0) throw invalid(problems);
  if (config.tls !== null) {
    config.tls.cert = path.resolve(path.dirname(file), config.tls.cert);
    config.tls.key = path.resolve(path.dirname(file), config.tls.key);
  }
  if (config.accessLog.path !== null && config.accessLog.path !== '-') config.accessLog.path = path.resolve(path.dirname(file), config.accessLog.path);
  return config;
}

/**
 * Checks a config built in memory (the running one with a backend added or removed through
 * the admin listener) as a file is checked; throws GslbError whose details are "field: problem".
 */
export function checkBalancerConfig(value: unknown): BalancerConfig {
  const config = structuredClone(value);
  if (!validate(config)) throw invalid((validate.errors ?? []).map((e) => describeSchemaError(e)));
  const problems = semanticProblems(config).map((p) => p.message);
  if (problems.length > 0) throw invalid(problems);
  return config;
}

interface Problem {
  readonly pointer: string;
  readonly message: string;
}

/** What a schema cannot say: addresses parse, ids are unique, routes name pools, hash keys are complete. */
function semanticProblems(c: BalancerConfig): Problem[] {
  const out: Problem[] = [];
  const address = (pointer: string, field: string, text: string, anyHost: boolean): void => {
    try {
      if (anyHost) parseBackendAddress(text);
      else parseListenAddress(text);
    } catch (err) {
      out.push({ pointer, message: `${field}: ${(err as Error).message}` });
    }
  };
  address('/listen', 'listen', c.listen, false);
  if (c.admin.listen !== null) address('/admin/listen', 'admin.listen', c.admin.listen, false);
  if (c.http2.cleartextListen !== null) address('/http2/cleartextListen', 'http2.cleartextListen', c.http2.cleartextListen, false);
  for (const [name, pool] of Object.entries(c.pools)) {
    const seen = new Set<string>();
    pool.backends.forEach((b, i) => {
      const at = `/pools/${name}/backends/${i}`;
      if (seen.has(b.id)) out.push({ pointer: `${at}/id`, message: `pools.${name}.backends.${i}.id: "${b.id}" is used twice in pool ${name}` });
      seen.add(b.id);
      address(`${at}/address`, `pools.${name}.backends.${i}.address`, b.address, true);
    });
    const key = pool.hashKey;
    if ((key.source === 'header' || key.source === 'cookie') && key.name === undefined) {
      out.push({ pointer: `/pools/${name}/hashKey`, message: `pools.${name}.hashKey.name: is required when source is ${key.source}` });
    }
  }
  out.push(...tlsProblems(c.pools), ...discoveryProblems(c.pools));
  if (c.client.requestMs < c.timeouts.clientHeadersMs) {
    out.push({
      pointer: '/client/requestMs',
      message: `client.requestMs: ${c.client.requestMs} is shorter than timeouts.clientHeadersMs (${c.timeouts.clientHeadersMs}); the whole request cannot take less time than its header`,
    });
  }
  c.routes.forEach((r, i) => {
    const at = `/routes/${i}`;
    const field = `routes.${i}`;
    if (!Object.hasOwn(c.pools, r.pool)) out.push({ pointer: `${at}/pool`, message: `${field}.pool: no pool named "${r.pool}"` });
    for (const k of ['host', 'pathPrefix'] as const) {
      if (r[k] !== undefined && r.match?.[k] !== undefined) out.push({ pointer: `${at}/${k}`, message: `${field}.${k}: given twice, here and in match.${k}; keep one` });
    }
    r.match?.headers?.forEach((h, j) => {
      const given = (['exact', 'prefix', 'regex', 'present'] as const).filter((k) => h[k] !== undefined);
      if (given.length !== 1)
        out.push({
          pointer: `${at}/match/headers/${j}`,
          message: `${field}.match.headers.${j}: needs exactly one of exact, prefix, regex, present (has ${given.length === 0 ? 'none' : given.join(', ')})`,
        });
      const problem = h.regex === undefined ? null : regexProblem(h.regex);
      if (problem !== null) out.push({ pointer: `${at}/match/headers/${j}/regex`, message: `${field}.match.headers.${j}.regex: ${problem}` });
    });
    r.match?.query?.forEach((q, j) => {
      if ((q.exact === undefined) === (q.present === undefined)) out.push({ pointer: `${at}/match/query/${j}`, message: `${field}.match.query.${j}: needs exactly one of exact, present` });
    });
    if (r.rewrite !== undefined && (r.rewrite.stripPrefix === undefined) === (r.rewrite.replacePrefix === undefined)) {
      out.push({ pointer: `${at}/rewrite`, message: `${field}.rewrite: needs exactly one of stripPrefix, replacePrefix` });
    }
  });
  return out;
}

/** "10.0.0.5:8080", "[::1]:8080", "backend.local:8080" → host and port. */
export function parseBackendAddress(text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`"${text}" is not HOST:PORT (e.g. 10.0.0.5:8080 or [::1]:8080)`);
  }
  return { host: m[1]!, port };
}

function invalid(details: string[]): GslbError {
  return new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, details.join('\n'), details);
}
