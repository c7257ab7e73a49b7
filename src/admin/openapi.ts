/**
 * What each admin route documents in /openapi.json (issue #17): a summary, an operationId and
 * its responses. The 2xx schemas are the ones fastify serializes with (a member a schema does
 * not list is not sent), and every error is an RFC 9457 problem document (errors.ts).
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { PROBLEM_JSON } from './errors.js';

/** A schema or null. */
export const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()]);

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'urn:meridian:error:CODE' }),
    title: Type.String({ description: "the code's summary" }),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.String({ description: 'the request path' }),
    code: Type.String({ description: 'the stable error code (README "Error codes")' }),
    field: Nullable(Type.String({ description: 'the field at fault' })),
    details: Type.Array(Type.String()),
    error: Type.String({ description: 'the same as code (the earlier body shape)' }),
    message: Type.String({ description: 'the same as detail (the earlier body shape)' }),
  },
  { required: ['type', 'title', 'status', 'detail', 'instance', 'code', 'field', 'details', 'error', 'message'] },
);

const problems = (description: string) => ({ description, content: { [PROBLEM_JSON]: { schema: ProblemSchema } } });

/** A zone write's answer (with ETag: "<serial>"). */
export const WrittenSchema = Type.Object({
  zone: Type.String(),
  serial: Type.Integer({ description: 'the serial after the write; with dryRun, the serial it would give' }),
  dryRun: Type.Optional(Type.Boolean({ description: 'present (true) when nothing was written: ?dryRun=true' })),
});
/** A policy document or one of its entries, as the policy schema has it (validated on write). */
export const PolicyValue = Type.Object({}, { additionalProperties: true, description: 'as in the policy file (src/steer/policy-schema.ts)' });
/** The `next` cursor of a page: pass it as `cursor`; null on the last page. */
export const NextCursor = Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last' }));

export interface RouteDoc {
  readonly summary: string;
  readonly operationId: string;
  readonly tags: readonly string[];
  /** Status → body schema (null: no body, as 204). */
  readonly ok: Readonly<Record<number, TSchema | null>>;
}

/** The fastify `schema` members of a route: its documentation and its response serializers. */
export function routeDoc(d: RouteDoc): { summary: string; operationId: string; tags: string[]; response: Record<string, unknown> } {
  const response: Record<string, unknown> = {};
  for (const [status, schema] of Object.entries(d.ok)) response[status] = schema === null ? { description: 'no content', type: 'null' } : { description: 'success', ...schema };
  response['4xx'] = problems('the request is refused: a problem document naming the code and the field');
  response['5xx'] = problems('the server failed: a problem document naming the code');
  return { summary: d.summary, operationId: d.operationId, tags: [...d.tags], response };
}
