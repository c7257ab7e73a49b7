/**
 * The balancer's own admin listener, apart from the traffic port: /healthz for the GSLB's
 * balancer probe, /status, /metrics, drain/undrain and reload. Reads are open; changes need
 * the bearer token when one is set, and a token is required off loopback. Who may do what is
 * checked as on the admin API, by the same module (../admin/auth.ts): the same token
 * comparison, browser guard and refusals.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AccessCheck, makeToken, requireTokenOffLoopback } from '../admin/auth.js';
import { problem, PROBLEM_JSON } from '../admin/errors.js';
import { ErrorCode, type ErrorCodeValue } from '../errors.js';
import { parseListenAddress } from '../net/listen-address.js';
import type { BalancerConfig } from './config.js';
import type { HealthReport, StatusReport } from './status.js';

/** What the admin listener drives: one Balancer in this process, or the workers of a cluster. */
export interface BalancerControl {
  health(): Promise<HealthReport>;
  status(): Promise<StatusReport>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** False when there is no such backend. */
  setDraining(target: string | null, draining: boolean): Promise<boolean>;
  reload(): Promise<{ ok: true } | { ok: false; errors: readonly string[] }>;
  /** Runtime registration: applied (with --workers N, by every live worker) before it resolves. */
  setBackend(pool: string, id: string, spec: BackendSpec | null): Promise<{ ok: true; created: boolean } | { ok: false; status: 400 | 404 | 409; errors: readonly string[] }>;
}

/** A backend as PUT /pools/{pool}/backends/{id} takes it; bounds are the config file's. */
export interface BackendSpec {
  readonly address: string;
  readonly weight?: number;
  readonly maxConnections?: number;
  readonly maxRequests?: number;
}

/** Pool names and backend ids as the config file allows them: no "/", no "__proto__", at most 63 characters. */
const NAME = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$';
const BackendParams = {
  type: 'object',
  required: ['pool', 'id'],
  properties: { pool: { type: 'string', pattern: NAME }, id: { type: 'string', pattern: NAME } },
} as const;
const BackendBody = {
  type: 'object',
  additionalProperties: false,
  required: ['address'],
  properties: {
    address: { type: 'string', minLength: 1, maxLength: 300 },
    weight: { type: 'integer' },
    maxConnections: { type: 'integer' },
    maxRequests: { type: 'integer' },
  },
} as const;

export interface BalancerAdmin {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

const DrainBody = {
  type: 'object',
  additionalProperties: false,
  properties: { backend: { type: 'string', pattern: '^[^/]+/[^/]+$', description: '"pool/id"; absent: the whole balancer' } },
} as const;

export async function createBalancerAdmin(balancer: BalancerControl, config: BalancerConfig['admin'], log: Logger): Promise<BalancerAdmin> {
  const listen = parseListenAddress(config.listen!);
  requireTokenOffLoopback(config.listen!, config.token !== null, 'the balancer admin listener', 'set admin.token, or listen on loopback');
  const app: FastifyInstance = Fastify({
    // Warnings only: a log line per /healthz probe would drown the balancer's own log.
    loggerInstance: log.child({ component: 'balancer-admin' }, { level: 'warn' }) as unknown as FastifyBaseLogger,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
  // admin.token is a read-write token; reads are public, /healthz a probe (any Host: the DNS
  // tier's policy names it), so without a token only the browser guard stands before them.
  new AccessCheck({ tokens: config.token === null ? [] : [makeToken('admin.token', config.token, 'write')], allowedHosts: config.allowedHosts }).install(app);

  app.get('/healthz', { config: { access: 'probe' } }, async (_req, reply) => {
    const h = await balancer.health();
    return reply.status(h.up ? 200 : 503).send(h);
  });
  app.get('/status', { config: { access: 'public' } }, async () => balancer.status());
  app.get('/metrics', { config: { access: 'public' } }, async (_req, reply) => {
    const m = await balancer.metrics();
    return reply.type(m.contentType).send(m.body);
  });

  // Errors are RFC 9457 problem documents, as on the admin API.
  const refuse = (req: FastifyRequest, reply: FastifyReply, status: number, code: ErrorCodeValue, message: string, field: string | null, details: readonly string[] = []) =>
    reply
      .status(status)
      .type(PROBLEM_JSON)
      .send(problem(code, status, message, req.url, field, details));

  const change = (draining: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    const target = (req.body as { backend?: string } | undefined)?.backend ?? null;
    if (!(await balancer.setDraining(target, draining))) return refuse(req, reply, 404, ErrorCode.L7_NO_SUCH_BACKEND, `backend: no backend "${target}"`, 'backend');
    const status = await balancer.status();
    if (target === null) return reply.status(200).send({ draining: status.draining, drained: status.drained });
    const [poolName, id] = target.split('/') as [string, string];
    const b = status.pools.find((p) => p.name === poolName)!.backends.find((x) => x.id === id)!;
    return reply.status(200).send({ backend: target, draining: b.draining, drained: b.drained, inFlight: b.inFlight });
  };
  app.post('/drain', { schema: { body: { ...DrainBody, nullable: true } } }, change(true));
  app.post('/undrain', { schema: { body: { ...DrainBody, nullable: true } } }, change(false));
  app.post('/reload', async (req, reply) => {
    const outcome = await balancer.reload();
    return outcome.ok ? reply.status(200).send({ reloaded: true }) : refuse(req, reply, 400, ErrorCode.L7_CONFIG_INVALID, outcome.errors.join('\n'), null, outcome.errors);
  });
  const register = (remove: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    const { pool, id } = req.params as { pool: string; id: string };
    const outcome = await balancer.setBackend(pool, id, remove ? null : (req.body as BackendSpec));
    if (!outcome.ok) {
      const error = outcome.status === 404 ? ErrorCode.L7_NO_SUCH_BACKEND : outcome.status === 409 ? ErrorCode.L7_CONFLICT : ErrorCode.L7_INVALID_REQUEST;
      return refuse(req, reply, outcome.status, error, outcome.errors.join('\n'), null, outcome.errors);
    }
    const status = await balancer.status();
    const b = status.pools.find((p) => p.name === pool)?.backends.find((x) => x.id === id);
    return reply.status(remove ? 200 : outcome.created ? 201 : 200).send(remove ? { pool, id, removed: true } : { pool, id, backend: b ?? null });
  };
  app.put('/pools/:pool/backends/:id', { schema: { params: BackendParams, body: BackendBody } }, register(false));
  app.delete('/pools/:pool/backends/:id', { schema: { params: BackendParams } }, register(true));
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return refuse(req, reply, status, status === 500 ? ErrorCode.L7_INTERNAL : ErrorCode.L7_INVALID_REQUEST, err.message, null);
  });
  await app.listen({ host: listen.host, port: listen.port });
  return { address: app.server.address() as AddressInfo, close: () => app.close() };
}
