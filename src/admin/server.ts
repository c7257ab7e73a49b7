/**
 * The admin HTTP API (issue #5): fastify on its own listener, JSON under /v1, OpenAPI at
 * /openapi.json, Prometheus text at /metrics. Bearer tokens, read-only or read-write.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from 'pino';
import type { HealthMonitor } from '../health/health-monitor.js';
import type { SnapshotStore } from '../snapshot/snapshot.js';
import type { LatencySamples } from '../steer/latency-samples.js';
import type { GeoView } from '../geoip/geo-database.js';
import type { ZoneDirectory } from '../control/zone-directory.js';
import { AccessCheck, type ApiToken } from './auth.js';
import { badRequest, ControlError, controlError, problem, PROBLEM_JSON } from './errors.js';
import { ErrorCode, httpStatus } from '../errors.js';
import type { AuditEntry, AuditLog } from './audit-log.js';
import type { AnswerTotals } from './answer-window.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { operationRoutes } from './routes/operations.js';
import { simulateRoutes } from './routes/simulate.js';
import { DryRunQuery, zoneRoutes } from './routes/zones.js';
import type { ClusterReplica } from './cluster-replica.js';
import type { ZoneEditor } from '../control/zone-editor.js';

export interface AdminDeps {
  readonly editor: ZoneEditor;
  readonly zones: ZoneDirectory;
  readonly store: SnapshotStore;
  readonly monitor: HealthMonitor;
  readonly samples: LatencySamples;
  /** The GeoIP databases serving now. */
  readonly geo: GeoView;
  readonly tokens: readonly ApiToken[];
  /** Extra Host names a browser may use when there is no token (browser-guard.ts). */
  readonly allowedHosts: readonly string[];
  /** Re-reads every zone file, off the answering thread; resolves true when answers changed. */
  readonly reload: () => Promise<boolean>;
  readonly metrics: () => Promise<{ contentType: string; body: string }>;
  /** Cumulative steered answers per target (what meridian_steered_answers_total reports), for the status page. */
  readonly answerTotals: () => AnswerTotals;
  readonly startedAt: Date;
  readonly version: string;
  readonly log: Logger;
  /** The audit file; null: audit lines go to the log only. */
  readonly audit: AuditLog | null;
  /** Cluster mode (`cluster.servers`): operator overrides go through the store; null: one node. */
  readonly cluster?: ClusterReplica | null;
}

export async function createAdminServer(deps: AdminDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'admin' }) as unknown as FastifyBaseLogger,
    // per-request lines off (LogController: the top-level option is deprecated, FSTDEP023)
    logController: new LogController({ disableRequestLogging: true }),
    // removeAdditional off: a field the schema does not know is a 400, never silently dropped.
    ajv: { customOptions: { allErrors: false, coerceTypes: false, useDefaults: true, removeAdditional: false } },
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'meridian admin API',
        version: deps.version,
        description: 'Manage zones, records and steering; drain targets; read health; explain answers; simulate a change before making it. Errors are RFC 9457 problem documents.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: [{ url: '/', description: 'this listener' }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  // RFC 7396 bodies (PATCH of policy entries), read as JSON is, __proto__ and constructor.prototype refused.
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  new AccessCheck({ tokens: deps.tokens, allowedHosts: deps.allowedHosts }).install(app);

  app.setErrorHandler(
    (err: Error & { validation?: Array<{ instancePath: string; message?: string; params?: Record<string, unknown> }>; validationContext?: string; statusCode?: number }, req, reply) => {
      // The control plane's refusals are domain results: the table gives each code its status.
      if (err instanceof ControlError) {
        const status = httpStatus(err.code);
        return reply
          .status(status)
          .type(PROBLEM_JSON)
          .send(problem(err.code, status, err.message, req.url, err.field, err.details));
      }
      if (err.validation) {
        const v = err.validation[0]!;
        const missing = v.params?.missingProperty as string | undefined;
        const extra = v.params?.additionalProperty as string | undefined;
        const path = [err.validationContext, ...v.instancePath.split('/').filter(Boolean), missing ?? extra].filter(Boolean).join('.');
        const message = extra ? 'unknown field' : (v.message ?? 'is invalid');
        return reply
          .status(400)
          .type(PROBLEM_JSON)
          .send(problem(ErrorCode.GSLB_ERR_API_INVALID, 400, `${path}: ${message}`, req.url, path));
      }
      if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
        return reply
          .status(err.statusCode)
          .type(PROBLEM_JSON)
          .send(problem(ErrorCode.GSLB_ERR_API_INVALID, err.statusCode, err.message, req.url));
      }
      req.log.error({ err }, 'admin API request failed');
      return reply
        .status(500)
        .type(PROBLEM_JSON)
        .send(problem(ErrorCode.GSLB_ERR_API_INTERNAL, 500, 'internal error; see the server log', req.url));
    },
  );

  app.setNotFoundHandler((req, reply) =>
    reply
      .status(404)
      .type(PROBLEM_JSON)
      .send(problem(ErrorCode.GSLB_ERR_API_NOT_FOUND, 404, `no route ${req.method} ${req.url.split('?')[0]}`, req.url)),
  );
  app.get('/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () => app.swagger());
  // Liveness and readiness for Kubernetes and load balancers: open without a token, so they
  // tell only whether the process answers and whether a zone is served.
  app.get('/livez', { config: { access: 'probe' }, schema: { hide: true } }, async (_req, reply) => reply.type('text/plain; charset=utf-8').send('ok\n'));
  app.get('/readyz', { config: { access: 'probe' }, schema: { hide: true } }, async (_req, reply) => {
    const ready = deps.store.current.zones.size > 0;
    return reply
      .status(ready ? 200 : 503)
      .type('text/plain; charset=utf-8')
      .send(ready ? 'ready\n' : 'no zone is served\n');
  });
  app.get('/metrics', { config: { access: 'read' }, schema: { hide: true } }, async (_req, reply) => {
    const m = await deps.metrics();
    return reply.type(m.contentType).send(m.body);
  });
  // A write without a dry run (a drain, a policy, a zone) refuses ?dryRun, in any spelling
  // (dryrun, dry_run, ...), rather than make the change it was only asked to check.
  app.addHook('preValidation', async (req) => {
    if (req.method !== 'GET' && req.routeOptions.schema?.querystring !== DryRunQuery && Object.keys((req.query as object | undefined) ?? {}).some((k) => /^dry[-_]?run$/i.test(k))) {
      throw badRequest('dryRun', 'this write has no dry run (record writes have one; POST /v1/simulate shows what a drain or a policy would answer)');
    }
  });
  await app.register(zoneRoutes(deps), { prefix: '/v1' });
  await app.register(operationRoutes(deps), { prefix: '/v1' });
  await app.register(simulateRoutes(deps), { prefix: '/v1' });
  await app.register(dashboardRoutes(deps));
  return app;
}

/** audit() with the line's fsync off the answering thread (admin/audit-log.ts recordAsync): for zone writes, which come in bursts. */
export async function auditAsync(deps: Pick<AdminDeps, 'audit' | 'log'>, req: FastifyRequest, entry: Omit<AuditEntry, 'token' | 'remote'>): Promise<void> {
  const line: AuditEntry = { token: actor(req), remote: req.ip, ...entry };
  if (deps.audit !== null) {
    try {
      await deps.audit.recordAsync(line);
    } catch (err) {
      deps.log.error({ err, unrecorded: line }, 'admin: the audit line of a change could not be written');
      throw controlError(ErrorCode.GSLB_ERR_API_AUDIT, `the change was applied but its audit line could not be written to ${deps.audit.file}; see the server log`);
    }
  }
  deps.log.info({ audit: true, ...line }, `admin: ${entry.change}`);
}

/** The token's name, for audit lines. */
export function actor(req: FastifyRequest): string {
  return req.token?.name ?? 'anonymous';
}

/**
 * Records a change the request made: a line in the audit file, written and fsynced, then in
 * the log. Call it before answering 2xx; when the file cannot take the line it throws, and
 * the client hears that the change went unrecorded instead of a success.
 */
export function audit(deps: Pick<AdminDeps, 'audit' | 'log'>, req: FastifyRequest, entry: Omit<AuditEntry, 'token' | 'remote'>): void {
  const line: AuditEntry = { token: actor(req), remote: req.ip, ...entry };
  if (deps.audit !== null) {
    try {
      deps.audit.record(line);
    } catch (err) {
      deps.log.error({ err, unrecorded: line }, 'admin: the audit line of a change could not be written');
      throw controlError(ErrorCode.GSLB_ERR_API_AUDIT, `the change was applied but its audit line could not be written to ${deps.audit.file}; see the server log`);
    }
  }
  deps.log.info({ audit: true, ...line }, `admin: ${entry.change}`);
}
