/** Zones, records and steering policies. Every write is on disk before the answer. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { nameToText } from '../../dns/name.js';
import { formatProblem } from '../../problems/problem-list.js';
import { audit, auditAsync, type AdminDeps } from '../server.js';
import { controlError, badRequest } from '../errors.js';
import { DEFAULT_PAGE_LIMIT, type PolicySection, type WriteResult } from '../../control/zone-editor.js';
import { NextCursor, Nullable, PolicyValue, routeDoc, WrittenSchema } from '../openapi.js';
import { PageQuery, pageLimit, pageOf } from '../paging.js';
import { ID_PATTERN } from '../../steer/policy-schema.js';
import { ErrorCode } from '../../errors.js';

const ZoneParam = Type.Object({ zone: Type.String({ minLength: 1 }) });
const RRsetJson = Type.Object({ name: Type.String(), type: Type.String(), ttl: Type.Integer(), rdata: Type.Array(Type.String()) });
const ZoneSummary = Type.Object({
  zone: Type.String(),
  file: Type.String(),
  serial: Nullable(Type.Integer()),
  records: Type.Integer(),
  steeredNames: Type.Array(Type.String()),
  loadedAt: Nullable(Type.String({ format: 'date-time' })),
  errors: Type.Array(Type.String()),
});
const ZoneList = Type.Object({ zones: Type.Array(ZoneSummary), next: NextCursor });
const ZoneDetail = Type.Object({
  zone: Type.String(),
  file: Type.String(),
  serial: Nullable(Type.Integer()),
  loadedAt: Nullable(Type.String({ format: 'date-time' })),
  lastLoadErrors: Type.Array(Type.String()),
  warnings: Type.Array(Type.String()),
  records: Type.Array(RRsetJson),
  recordsNext: NextCursor,
  policy: Nullable(PolicyValue),
});
const RecordsPage = Type.Object({ records: Type.Array(RRsetJson), next: NextCursor });
const RecordParams = Type.Object({ zone: Type.String({ minLength: 1 }), name: Type.String({ minLength: 1 }), type: Type.String({ minLength: 1 }) });
const RRsetBody = Type.Object({ ttl: Type.Integer({ minimum: 0, maximum: 2147483647 }), rdata: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }) }, { additionalProperties: false });
const BatchBody = Type.Object(
  {
    operations: Type.Array(
      Type.Object(
        {
          op: Type.Union([Type.Literal('put'), Type.Literal('delete')]),
          name: Type.String({ minLength: 1 }),
          type: Type.String({ minLength: 1 }),
          ttl: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
          rdata: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 10_000 },
    ),
  },
  { additionalProperties: false },
);
const CreateZoneBody = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    ttl: Type.Integer({ minimum: 0, maximum: 2147483647, default: 3600 }),
    soa: Type.Object(
      {
        mname: Type.String({ minLength: 1 }),
        rname: Type.String({ minLength: 1 }),
        refresh: Type.Integer({ minimum: 0, default: 7200 }),
        retry: Type.Integer({ minimum: 0, default: 3600 }),
        expire: Type.Integer({ minimum: 0, default: 1209600 }),
        minimum: Type.Integer({ minimum: 0, default: 300 }),
      },
      { additionalProperties: false },
    ),
    ns: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    records: Type.Optional(
      Type.Array(
        Type.Object({ name: Type.String(), type: Type.String(), ttl: Type.Optional(Type.Integer({ minimum: 0 })), rdata: Type.Array(Type.String(), { minItems: 1 }) }, { additionalProperties: false }),
      ),
    ),
  },
  { additionalProperties: false },
);
const SectionParams = Type.Object({
  zone: Type.String({ minLength: 1 }),
  section: Type.Union([Type.Literal('targets'), Type.Literal('names'), Type.Literal('probes')]),
  id: Type.String({ minLength: 1 }),
});

const POLICY_ID = new RegExp(ID_PATTERN);

/**
 * `?dryRun=true` on a record write: every check of the write, and the new zone built, but
 * nothing written, journaled, published or audited. A string: query values are not coerced.
 */
export const DryRunQuery = Type.Object(
  { dryRun: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'true: check and build the change, write nothing' })) },
  { additionalProperties: false },
);
const isDryRun = (req: FastifyRequest): boolean => (req.query as { dryRun?: string }).dryRun === 'true';

/** Target and probe ids as the policy schema has them, checked here so the answer names the URL's id. */
function checkPolicyId(section: PolicySection, id: string): void {
  if (section !== 'names' && !POLICY_ID.test(id)) {
    throw badRequest('id', `"${id}" is not a ${section === 'targets' ? 'target' : 'probe'} id: a letter or digit, then up to 62 letters, digits, "_", "." or "-"`);
  }
}

export const zoneRoutes =
  (deps: AdminDeps): FastifyPluginAsync =>
  async (app) => {
    const { editor } = deps;
    const written = async (reply: FastifyReply, what: string, r: WriteResult, req: FastifyRequest, status = 200) => {
      // nothing changed: nothing for the audit trail
      if (r.dryRun) return reply.header('etag', r.etag).status(200).send({ zone: r.zone, serial: r.serial, dryRun: true });
      await auditAsync(deps, req, { change: what, zone: r.zone, oldSerial: r.previousSerial, newSerial: r.serial });
      reply.header('etag', r.etag);
      return reply.status(status).send({ zone: r.zone, serial: r.serial });
    };
    const ifMatch = (h: string | string[] | undefined): string | undefined => (Array.isArray(h) ? h.join(',') : h);

    app.get(
      '/zones',
      { config: { access: 'read' }, schema: { querystring: PageQuery, ...routeDoc({ summary: 'List zones', operationId: 'listZones', tags: ['zones'], ok: { 200: ZoneList } }) } },
      async (req) => {
        const page = pageOf(deps.zones.statuses, (s) => nameToText(s.origin), req.query as { limit?: string; cursor?: string });
        return {
          zones: page.items.map((s) => ({
            zone: nameToText(s.origin),
            file: s.file,
            serial: s.zone?.serial ?? null,
            records: s.zone?.recordCount ?? 0,
            steeredNames: s.zone ? [...s.zone.steered.values()].map((n) => nameToText(n.owner)) : [],
            loadedAt: s.loadedAt?.toISOString() ?? null,
            errors: s.problems.filter((p) => p.severity === 'error').map(formatProblem),
          })),
          next: page.next,
        };
      },
    );

    app.post(
      '/zones',
      { config: { access: 'write' }, schema: { body: CreateZoneBody, ...routeDoc({ summary: 'Create a zone', operationId: 'createZone', tags: ['zones'], ok: { 201: WrittenSchema } }) } },
      async (req, reply) => {
        const r = await editor.createZone(req.body as never);
        return written(reply, `create zone ${r.zone}`, r, req, 201);
      },
    );

    app.get(
      '/zones/:zone',
      {
        config: { access: 'read' },
        schema: { params: ZoneParam, ...routeDoc({ summary: 'A zone: serial, load errors, policy and the first page of records', operationId: 'getZone', tags: ['zones'], ok: { 200: ZoneDetail } }) },
      },
      async (req, reply) => {
        const { zone } = req.params as { zone: string };
        const s = editor.status(zone);
        if (s.zone) reply.header('etag', editor.etag(zone));
        // The first page only: GET /zones/{zone}/records?cursor=… has the rest.
        const page = s.zone ? editor.recordsPage(zone, DEFAULT_PAGE_LIMIT, undefined) : { records: [], next: null };
        return {
          zone: nameToText(s.origin),
          file: s.file,
          serial: s.zone?.serial ?? null,
          loadedAt: s.loadedAt?.toISOString() ?? null,
          lastLoadErrors: s.problems.filter((p) => p.severity === 'error').map(formatProblem),
          warnings: s.problems.filter((p) => p.severity === 'warning').map(formatProblem),
          records: page.records,
          recordsNext: page.next,
          policy: editor.policy(zone),
        };
      },
    );

    app.delete(
      '/zones/:zone',
      { config: { access: 'write' }, schema: { params: ZoneParam, ...routeDoc({ summary: 'Delete a zone and its policy', operationId: 'deleteZone', tags: ['zones'], ok: { 204: null } }) } },
      async (req, reply) => {
        const r = await editor.deleteZone((req.params as { zone: string }).zone, ifMatch(req.headers['if-match']));
        audit(deps, req, { change: `delete zone ${r.zone}`, zone: r.zone, oldSerial: r.previousSerial });
        return reply.status(204).send();
      },
    );

    app.get(
      '/zones/:zone/records',
      {
        config: { access: 'read' },
        schema: { params: ZoneParam, querystring: PageQuery, ...routeDoc({ summary: 'A page of RRsets', operationId: 'listRecords', tags: ['records'], ok: { 200: RecordsPage } }) },
      },
      async (req, reply) => {
        const { zone } = req.params as { zone: string };
        const query = req.query as { limit?: string; cursor?: string };
        const limit = pageLimit(query.limit);
        reply.header('etag', editor.etag(zone));
        const page = editor.recordsPage(zone, limit, query.cursor);
        return { records: page.records, next: page.next };
      },
    );

    app.get(
      '/zones/:zone/records/:name/:type',
      { config: { access: 'read' }, schema: { params: RecordParams, ...routeDoc({ summary: 'One RRset', operationId: 'getRRset', tags: ['records'], ok: { 200: RRsetJson } }) } },
      async (req, reply) => {
        const { zone, name, type } = req.params as { zone: string; name: string; type: string };
        const found = editor.records(zone, name, type);
        if (found.length === 0) throw controlError(ErrorCode.GSLB_ERR_API_NOT_FOUND, `no ${type} records at ${name} in ${zone}`);
        reply.header('etag', editor.etag(zone));
        return found[0];
      },
    );

    app.put(
      '/zones/:zone/records/:name/:type',
      {
        config: { access: 'write' },
        schema: {
          params: RecordParams,
          querystring: DryRunQuery,
          body: RRsetBody,
          ...routeDoc({ summary: 'Replace one RRset', operationId: 'putRRset', tags: ['records'], ok: { 200: WrittenSchema } }),
        },
      },
      async (req, reply) => {
        const { zone, name, type } = req.params as { zone: string; name: string; type: string };
        const r = await editor.putRRset(zone, name, type, req.body as { ttl: number; rdata: string[] }, ifMatch(req.headers['if-match']), isDryRun(req));
        return written(reply, `put ${name} ${type}`, r, req);
      },
    );

    app.delete(
      '/zones/:zone/records/:name/:type',
      {
        config: { access: 'write' },
        schema: { params: RecordParams, querystring: DryRunQuery, ...routeDoc({ summary: 'Delete one RRset', operationId: 'deleteRRset', tags: ['records'], ok: { 200: WrittenSchema } }) },
      },
      async (req, reply) => {
        const { zone, name, type } = req.params as { zone: string; name: string; type: string };
        const r = await editor.deleteRRset(zone, name, type, ifMatch(req.headers['if-match']), isDryRun(req));
        return written(reply, `delete ${name} ${type}`, r, req);
      },
    );

    app.post(
      '/zones/:zone/records/batch',
      {
        config: { access: 'write' },
        schema: {
          params: ZoneParam,
          querystring: DryRunQuery,
          body: BatchBody,
          ...routeDoc({ summary: 'Put and delete RRsets, all or nothing', operationId: 'batchRecords', tags: ['records'], ok: { 200: WrittenSchema } }),
        },
      },
      async (req, reply) => {
        const { zone } = req.params as { zone: string };
        const { operations } = req.body as { operations: Array<{ op: 'put' | 'delete'; name: string; type: string; ttl?: number; rdata?: string[] }> };
        const ops = operations.map((o, i) => {
          if (o.op === 'delete') return { op: 'delete' as const, name: o.name, type: o.type };
          if (o.ttl === undefined) throw badRequest(`operations[${i}].ttl`, 'a put needs ttl');
          if (o.rdata === undefined) throw badRequest(`operations[${i}].rdata`, 'a put needs rdata');
          return { op: 'put' as const, name: o.name, type: o.type, ttl: o.ttl, rdata: o.rdata };
        });
        const r = await editor.batch(zone, ops, ifMatch(req.headers['if-match']), isDryRun(req));
        return written(reply, `batch of ${ops.length} operations`, r, req);
      },
    );

    app.get(
      '/zones/:zone/policy',
      { config: { access: 'read' }, schema: { params: ZoneParam, ...routeDoc({ summary: "The zone's steering policy", operationId: 'getPolicy', tags: ['policy'], ok: { 200: PolicyValue } }) } },
      async (req, reply) => {
        const { zone } = req.params as { zone: string };
        reply.header('etag', editor.etag(zone));
        const policy = editor.policy(zone);
        if (policy === null) throw controlError(ErrorCode.GSLB_ERR_API_NOT_FOUND, `zone ${zone} has no policy`);
        return policy;
      },
    );

    app.put(
      '/zones/:zone/policy',
      {
        config: { access: 'write' },
        schema: {
          params: ZoneParam,
          body: Type.Object({}, { additionalProperties: true }),
          ...routeDoc({ summary: "Replace the zone's policy", operationId: 'putPolicy', tags: ['policy'], ok: { 200: WrittenSchema } }),
        },
      },
      async (req, reply) => {
        const { zone } = req.params as { zone: string };
        const r = await editor.putPolicy(zone, req.body, ifMatch(req.headers['if-match']));
        return written(reply, 'put policy', r, req);
      },
    );

    app.delete(
      '/zones/:zone/policy',
      { config: { access: 'write' }, schema: { params: ZoneParam, ...routeDoc({ summary: "Delete the zone's policy", operationId: 'deletePolicy', tags: ['policy'], ok: { 200: WrittenSchema } }) } },
      async (req, reply) => {
        const { zone } = req.params as { zone: string };
        const r = await editor.putPolicy(zone, null, ifMatch(req.headers['if-match']));
        return written(reply, 'delete policy', r, req);
      },
    );

    app.get(
      '/zones/:zone/policy/:section/:id',
      {
        config: { access: 'read' },
        schema: { params: SectionParams, ...routeDoc({ summary: 'One target, steered name or probe', operationId: 'getPolicyEntry', tags: ['policy'], ok: { 200: PolicyValue } }) },
      },
      async (req, reply) => {
        const { zone, section, id } = req.params as { zone: string; section: PolicySection; id: string };
        const value = editor.policyEntry(zone, section, id);
        if (value === undefined) throw controlError(ErrorCode.GSLB_ERR_API_NOT_FOUND, `${section}.${id} not found in the policy of ${zone}`);
        reply.header('etag', editor.etag(zone));
        return value;
      },
    );

    app.put(
      '/zones/:zone/policy/:section/:id',
      {
        config: { access: 'write' },
        schema: {
          params: SectionParams,
          body: Type.Object({}, { additionalProperties: true }),
          ...routeDoc({ summary: 'Replace one target, steered name or probe', operationId: 'putPolicyEntry', tags: ['policy'], ok: { 200: WrittenSchema } }),
        },
      },
      async (req, reply) => {
        const { zone, section, id } = req.params as { zone: string; section: PolicySection; id: string };
        checkPolicyId(section, id);
        const r = await editor.patchPolicy(zone, section, id, req.body, ifMatch(req.headers['if-match']));
        return written(reply, `put policy ${section}.${id}`, r, req);
      },
    );

    app.patch(
      '/zones/:zone/policy/:section/:id',
      {
        config: { access: 'write' },
        schema: {
          params: SectionParams,
          consumes: ['application/merge-patch+json', 'application/json'],
          body: Type.Object({}, { additionalProperties: true, description: 'an RFC 7396 merge patch: members to change, null to remove one' }),
          ...routeDoc({ summary: 'Change members of one target, steered name or probe (JSON merge patch)', operationId: 'patchPolicyEntry', tags: ['policy'], ok: { 200: WrittenSchema } }),
        },
      },
      async (req, reply) => {
        const { zone, section, id } = req.params as { zone: string; section: PolicySection; id: string };
        checkPolicyId(section, id);
        const r = await editor.mergePolicyEntry(zone, section, id, req.body, ifMatch(req.headers['if-match']));
        return written(reply, `patch policy ${section}.${id}`, r, req);
      },
    );

    app.delete(
      '/zones/:zone/policy/:section/:id',
      {
        config: { access: 'write' },
        schema: { params: SectionParams, ...routeDoc({ summary: 'Delete one target, steered name or probe', operationId: 'deletePolicyEntry', tags: ['policy'], ok: { 200: WrittenSchema } }) },
      },
      async (req, reply) => {
        const { zone, section, id } = req.params as { zone: string; section: PolicySection; id: string };
        const r = await editor.patchPolicy(zone, section, id, null, ifMatch(req.headers['if-match']));
        return written(reply, `delete policy ${section}.${id}`, r, req);
      },
    );
  };
