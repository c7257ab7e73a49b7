/** Health, drain and force-up, explain, latency samples, reload and status. */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { isHealthy, type ForcedState } from '../../health/state-machine.js';
import type { QuorumVerdict } from '../../health/quorum.js';
import { explain } from '../../explain/explain.js';
import { ExplainInputError } from '../../steer/client-arg.js';
import { badRequest, notFound } from '../errors.js';
import { parseCidr } from '../../steer/cidr.js';
import { audit, type AdminDeps } from '../server.js';
import { NextCursor, Nullable, routeDoc } from '../openapi.js';
import { PageQuery, pageOf } from '../paging.js';

const IdParam = Type.Object({ id: Type.String({ minLength: 1 }) });
const LatencyBody = Type.Object(
  {
    samples: Type.Array(
      Type.Object({ network: Type.String({ minLength: 3 }), region: Type.String({ minLength: 1 }), ms: Type.Number({ minimum: 0, maximum: 60_000 }) }, { additionalProperties: false }),
      { minItems: 1, maxItems: 100_000 },
    ),
    ttlSec: Type.Integer({ minimum: 1, maximum: 86_400, default: 600 }),
  },
  { additionalProperties: false },
);
const ExplainQuery = Type.Object({ name: Type.String({ minLength: 1 }), type: Type.String({ default: 'A' }), client: Type.String({ minLength: 2 }) }, { additionalProperties: false });

const Forced = Nullable(Type.Union([Type.Literal('up'), Type.Literal('down')]));
const HealthTarget = Type.Object({
  id: Type.String({ description: 'zone/target' }),
  region: Type.String(),
  probe: Nullable(Type.Object({ type: Type.String(), address: Type.String(), port: Type.Integer() })),
  state: Type.String({ description: "this node's own view: what its probes say" }),
  forced: Forced,
  healthy: Type.Boolean({ description: 'whether answers use it: the override, else (cluster mode) the quorum verdict, else state' }),
  quorum: Nullable(
    Type.Object(
      {
        state: Type.Union([Type.Literal('up'), Type.Literal('down')]),
        down: Type.Integer({ description: 'nodes (this one included) that see it down' }),
        reporting: Type.Integer({ description: 'nodes that reported it recently' }),
        needed: Type.Integer({ description: 'how many must see it down (health.quorum, or a majority)' }),
      },
      { description: "cluster mode: the cluster's verdict; null on a single node" },
    ),
  ),
  since: Type.String({ format: 'date-time' }),
  reason: Nullable(Type.String()),
  lastResult: Nullable(
    Type.Object({
      ok: Type.Boolean(),
      reason: Nullable(Type.String()),
      detail: Type.String(),
      rttMs: Nullable(Type.Number()),
      capacity: Nullable(Type.Number()),
      at: Type.Number({ description: 'ms since the epoch' }),
    }),
  ),
  lastFailure: Nullable(Type.Object({ reason: Type.String(), detail: Type.String(), at: Type.Number() })),
  rttMs: Nullable(Type.Number()),
  capacity: Nullable(Type.Number()),
  restoredAgeMs: Nullable(Type.Number()),
  history: Type.Array(Type.Object({ at: Type.Number(), from: Type.String(), to: Type.String(), why: Type.String() })),
});
const HealthList = Type.Object({ targets: Type.Array(HealthTarget), next: NextCursor });
const TargetOverride = Type.Object({ id: Type.String(), state: Type.String(), forced: Forced, healthy: Type.Boolean() });
const RegionOverride = Type.Object({ region: Type.String(), targets: Type.Array(Type.String()), forced: Forced });
const Explanation = Type.Object(
  {
    name: Type.String(),
    type: Type.String(),
    steered: Type.Boolean(),
    client: Type.Object({}, { additionalProperties: true }),
    trace: Type.Array(Type.Object({}, { additionalProperties: true })),
    outcome: Type.Union([Type.Literal('answer'), Type.Literal('nodata'), Type.Literal('servfail'), Type.Literal('not-steered')]),
    addresses: Type.Array(Type.String()),
    ttl: Nullable(Type.Integer()),
    scope: Type.Integer(),
    allDown: Type.Boolean(),
    cnames: Type.Array(Type.String()),
    steeredName: Nullable(Type.String()),
  },
  { description: 'the decision trace, as meridian explain prints it' },
);
const LatencySample = Type.Object({ network: Type.String(), region: Type.String(), ms: Type.Number(), expiresAt: Type.String({ format: 'date-time' }) });
const LatencyList = Type.Object({ samples: Type.Array(LatencySample), next: NextCursor });
const LatencyAccepted = Type.Object({ accepted: Type.Integer(), ttlSec: Type.Integer() });
const Reloaded = Type.Object({ changed: Type.Boolean(), snapshot: Type.Integer(), errors: Type.Array(Type.String()) });
const Status = Type.Object({
  version: Type.String(),
  startedAt: Type.String({ format: 'date-time' }),
  uptimeSec: Type.Integer(),
  snapshot: Type.Integer(),
  zones: Type.Array(Type.Object({ zone: Type.String(), serial: Type.Integer() })),
  geoip: Type.Array(Type.Object({ file: Type.String(), type: Type.String(), built: Type.String({ format: 'date-time' }) })),
  health: Type.Object({ targets: Type.Integer(), probes: Type.Integer(), failures: Type.Integer(), transitions: Type.Integer() }),
  cluster: Nullable(
    Type.Object(
      {
        node: Type.String(),
        servers: Type.Array(Type.String()),
        bucket: Type.String(),
        connected: Type.Boolean({ description: 'connected to a NATS server' }),
        synced: Type.Boolean({ description: 'caught up with the store since the last (re)connect: writes are taken; false: this node serves its last state and refuses writes (503)' }),
        since: Type.String({ format: 'date-time', description: 'when synced last changed' }),
        revision: Type.Integer({ description: 'the highest store revision this node has seen' }),
        follows: Nullable(
          Type.Union([Type.Literal('watch'), Type.Literal('reads')], {
            description: 'how changes reach this node while in step: watch (pushed by a JetStream consumer) or reads (read every 250 ms while no consumer can be made); null while not in step',
          }),
        ),
        lastError: Nullable(Type.String()),
      },
      { description: 'cluster mode (cluster.servers); null: one node, files only' },
    ),
  ),
});

function quorumOf(v: QuorumVerdict | null): Static<typeof HealthTarget>['quorum'] {
  return v === null ? null : { state: v.status, down: v.down, reporting: v.reporting, needed: v.needed };
}

function clusterStatus(deps: AdminDeps): Static<typeof Status>['cluster'] {
  if (!deps.cluster) return null;
  const s = deps.cluster.state();
  return { ...s, servers: [...s.servers], since: new Date(s.since).toISOString() };
}

export const operationRoutes =
  (deps: AdminDeps): FastifyPluginAsync =>
  async (app) => {
    const { monitor } = deps;

    app.get(
      '/health',
      {
        config: { access: 'read' },
        schema: { querystring: PageQuery, ...routeDoc({ summary: 'Every target: state, reason, probe results', operationId: 'listHealth', tags: ['health'], ok: { 200: HealthList } }) },
      },
      async (req) => {
        const page = pageOf([...monitor.states()], ([key]) => key, req.query as { limit?: string; cursor?: string });
        const answers = monitor.answerView();
        return {
          targets: page.items.map(([key, { target, health }]) => ({
            id: key,
            region: target.region,
            probe: target.probe ? { type: target.probe.type, address: target.address, port: target.probe.port } : null,
            state: health.status,
            forced: health.forced,
            healthy: isHealthy(answers.get(key) ?? health),
            quorum: quorumOf(monitor.verdict(key)),
            since: new Date(health.since).toISOString(),
            reason: health.lastFailure && !isHealthy(health) ? health.lastFailure.reason : null,
            lastResult: health.lastResult,
            lastFailure: health.lastFailure,
            rttMs: health.rttMs,
            capacity: health.capacity,
            restoredAgeMs: health.restoredAgeMs,
            history: health.history,
          })),
          next: page.next,
        };
      },
    );

    /** "eu-west" (when one zone has it), "example.com/eu-west" or "eu-west@example.com". */
    const resolveTarget = (id: string): string => {
      const states = monitor.states();
      if (states.has(id)) return id;
      const at = id.indexOf('@');
      if (at > 0) {
        const key = `${id
          .slice(at + 1)
          .replace(/\.$/, '')
          .toLowerCase()}/${id.slice(0, at)}`;
        if (states.has(key)) return key;
      }
      const matches = [...states.keys()].filter((k) => k.slice(k.lastIndexOf('/') + 1) === id);
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw badRequest('id', `"${id}" is a target in several zones: ${matches.join(', ')}; name one`);
      throw notFound(`target ${id}`);
    };

    const override = (forced: ForcedState, verb: string) => async (req: FastifyRequest) => {
      const key = resolveTarget((req.params as { id: string }).id);
      // In a cluster the store takes it first (503 when it cannot), then every node applies it.
      await deps.cluster?.force([key], forced);
      monitor.force(key, forced);
      audit(deps, req, { change: `${verb} target ${key}`, targets: [key] });
      const h = monitor.states().get(key)!.health;
      return { id: key, state: h.status, forced: h.forced, healthy: isHealthy(h) };
    };
    app.post(
      '/targets/:id/drain',
      { config: { access: 'write' }, schema: { params: IdParam, ...routeDoc({ summary: 'Drain a target', operationId: 'drainTarget', tags: ['health'], ok: { 200: TargetOverride } }) } },
      override('down', 'drain'),
    );
    app.post(
      '/targets/:id/undrain',
      { config: { access: 'write' }, schema: { params: IdParam, ...routeDoc({ summary: 'Undo a drain or force-up', operationId: 'undrainTarget', tags: ['health'], ok: { 200: TargetOverride } }) } },
      override(null, 'undrain'),
    );
    app.post(
      '/targets/:id/force-up',
      { config: { access: 'write' }, schema: { params: IdParam, ...routeDoc({ summary: 'Force a target up', operationId: 'forceUpTarget', tags: ['health'], ok: { 200: TargetOverride } }) } },
      override('up', 'force up'),
    );

    const regionOverride = (forced: ForcedState, verb: string) => async (req: FastifyRequest) => {
      const region = (req.params as { id: string }).id;
      const keys = [...monitor.states()].filter(([, s]) => s.target.region === region).map(([k]) => k);
      if (keys.length === 0) throw notFound(`region ${region}`);
      await deps.cluster?.force(keys, forced);
      for (const k of keys) monitor.force(k, forced);
      audit(deps, req, { change: `${verb} region ${region}`, targets: keys });
      return { region, targets: keys, forced };
    };
    app.post(
      '/regions/:id/drain',
      { config: { access: 'write' }, schema: { params: IdParam, ...routeDoc({ summary: "Drain a region's targets", operationId: 'drainRegion', tags: ['health'], ok: { 200: RegionOverride } }) } },
      regionOverride('down', 'drain'),
    );
    app.post(
      '/regions/:id/undrain',
      {
        config: { access: 'write' },
        schema: { params: IdParam, ...routeDoc({ summary: "Undo a region's drain or force-up", operationId: 'undrainRegion', tags: ['health'], ok: { 200: RegionOverride } }) },
      },
      regionOverride(null, 'undrain'),
    );
    app.post(
      '/regions/:id/force-up',
      {
        config: { access: 'write' },
        schema: { params: IdParam, ...routeDoc({ summary: "Force a region's targets up", operationId: 'forceUpRegion', tags: ['health'], ok: { 200: RegionOverride } }) },
      },
      regionOverride('up', 'force up'),
    );

    app.get(
      '/explain',
      {
        config: { access: 'read' },
        schema: { querystring: ExplainQuery, ...routeDoc({ summary: 'Why a client gets the answer it gets', operationId: 'explain', tags: ['steering'], ok: { 200: Explanation } }) },
      },
      async (req) => {
        const q = req.query as { name: string; type: string; client: string };
        try {
          return explain(deps.store.current, q.name, q.type, q.client);
        } catch (err) {
          if (err instanceof ExplainInputError) {
            const field = err.message.startsWith('name ') ? 'name' : /client|prefix|subnet/.test(err.message) ? 'client' : 'type';
            throw badRequest(field, err.message);
          }
          throw err;
        }
      },
    );

    app.get(
      '/latency',
      {
        config: { access: 'read' },
        schema: { querystring: PageQuery, ...routeDoc({ summary: 'The RTT samples in force', operationId: 'listLatency', tags: ['steering'], ok: { 200: LatencyList } }) },
      },
      async (req) => {
        const page = pageOf(deps.samples.list(), (s) => `${s.region} ${s.network}`, req.query as { limit?: string; cursor?: string });
        return { samples: page.items, next: page.next };
      },
    );
    app.post(
      '/latency',
      { config: { access: 'write' }, schema: { body: LatencyBody, ...routeDoc({ summary: 'Add RTT samples', operationId: 'addLatency', tags: ['steering'], ok: { 200: LatencyAccepted } }) } },
      async (req) => {
        const body = req.body as { samples: Array<{ network: string; region: string; ms: number }>; ttlSec: number };
        // Check all before adding any: nothing is half-applied.
        body.samples.forEach((s, i) => {
          try {
            parseCidr(s.network);
          } catch (err) {
            throw badRequest(`body.samples.${i}.network`, (err as Error).message);
          }
        });
        // In a cluster the whole batch goes to the store first (503 when it cannot), then every node adds it.
        await deps.cluster?.addLatency(body.samples, body.ttlSec);
        for (const s of body.samples) deps.samples.add(s.network, s.region, s.ms, body.ttlSec);
        audit(deps, req, { change: `add ${body.samples.length} latency samples` });
        return { accepted: body.samples.length, ttlSec: body.ttlSec };
      },
    );

    app.post('/reload', { config: { access: 'write' }, schema: routeDoc({ summary: 'Re-read every file', operationId: 'reload', tags: ['operations'], ok: { 200: Reloaded } }) }, async (req) => {
      const changed = await deps.reload();
      audit(deps, req, { change: 'reload' });
      return {
        changed,
        snapshot: deps.store.current.version,
        errors: deps.zones.statuses.flatMap((s) => s.problems.filter((p) => p.severity === 'error').map((p) => `${p.file}:${p.line}: ${p.message}`)),
      };
    });

    app.get(
      '/status',
      { config: { access: 'read' }, schema: routeDoc({ summary: 'Version, uptime, snapshot, serials, GeoIP build dates', operationId: 'status', tags: ['operations'], ok: { 200: Status } }) },
      async () => {
        const snap = deps.store.current;
        return {
          version: deps.version,
          startedAt: deps.startedAt.toISOString(),
          uptimeSec: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
          snapshot: snap.version,
          zones: [...snap.zones.values()].map((z) => ({ zone: z.originKey + '.', serial: z.serial })),
          geoip: deps.geo.databases.map((d) => ({ file: d.file, type: d.databaseType, built: d.buildEpoch.toISOString() })),
          health: { targets: monitor.states().size, ...monitor.counters },
          cluster: clusterStatus(deps),
        };
      },
    );
  };
