/** The status page (GET /dashboard, static) and the JSON behind it (GET /v1/dashboard). */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { AnswerWindow } from '../answer-window.js';
import { buildDashboard } from '../dashboard.js';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from '../dashboard-page.js';
import type { AdminDeps } from '../server.js';
import { Type } from '@sinclair/typebox';
import { Nullable, routeDoc } from '../openapi.js';

/** Nothing from elsewhere: scripts, styles and requests only from this origin, no inline code. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const Any = Type.Object({}, { additionalProperties: true });
const ClusterSchema = Type.Object(
  {
    node: Type.String(),
    servers: Type.Array(Type.String()),
    link: Type.Union([Type.Literal('in-step'), Type.Literal('catching-up'), Type.Literal('cut-off')], {
      description: 'in-step: writes taken; catching-up: connected, reading the store again; cut-off: no NATS server (serving the last state)',
    }),
    connected: Type.Boolean(),
    synced: Type.Boolean(),
    since: Type.String({ format: 'date-time', description: 'when synced last changed' }),
    writes: Type.Union([Type.Literal('accepted'), Type.Literal('refused')], { description: 'refused (503) while not in step' }),
    revision: Type.Integer(),
    lastError: Nullable(Type.String()),
    peers: Type.Array(
      Type.Object({
        node: Type.String(),
        reportedAt: Type.String({ format: 'date-time' }),
        ageSec: Type.Integer(),
        counted: Type.Boolean({ description: 'young enough (2 × the report interval) to count towards quorum' }),
      }),
      { description: 'the other nodes whose health reports this node holds' },
    ),
  },
  { description: 'cluster mode; null: one node, files only' },
);
const DashboardSchema = Type.Object({
  generatedAt: Type.String({ format: 'date-time' }),
  cluster: Nullable(ClusterSchema),
  snapshot: Type.Integer(),
  window: Type.Object({ since: Type.String(), until: Type.String(), bucketSec: Type.Integer(), bucketStarts: Type.Array(Type.String()) }),
  totalAnswers: Type.Integer(),
  regions: Type.Array(Any),
  names: Type.Array(Any),
  namesLeftOut: Type.Integer(),
});

function sendStatic(reply: FastifyReply, type: string, body: string): FastifyReply {
  return reply.type(type).header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(body);
}

export const dashboardRoutes =
  (deps: AdminDeps): FastifyPluginAsync =>
  async (app) => {
    const answers = new AnswerWindow(async () => deps.answerTotals());
    await answers.start();
    app.addHook('onClose', async () => answers.stop());

    // The page itself holds no data, so it needs no token; the JSON it reads does.
    app.get('/dashboard', { config: { access: 'public' }, schema: { hide: true } }, async (_req, reply) => sendStatic(reply, 'text/html; charset=utf-8', DASHBOARD_HTML));
    app.get('/dashboard.js', { config: { access: 'public' }, schema: { hide: true } }, async (_req, reply) => sendStatic(reply, 'text/javascript; charset=utf-8', DASHBOARD_JS));
    app.get('/dashboard.css', { config: { access: 'public' }, schema: { hide: true } }, async (_req, reply) => sendStatic(reply, 'text/css; charset=utf-8', DASHBOARD_CSS));

    app.get(
      '/v1/dashboard',
      { config: { access: 'read' }, schema: routeDoc({ summary: 'What the status page shows', operationId: 'dashboard', tags: ['operations'], ok: { 200: DashboardSchema } }) },
      async (_req, reply) => {
        reply.header('cache-control', 'no-store');
        return buildDashboard(deps.store.current, deps.monitor, await answers.counts(), deps.geo.continentSamples(), deps.cluster ?? null);
      },
    );
  };
