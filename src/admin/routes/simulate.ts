/** POST /v1/simulate: what a drain, a failure or a policy edit would do to answers (issue #20). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { badRequest } from '../errors.js';
import { populationOfBody, PopulationError, samplePopulation } from '../../steer/population.js';
import { MAX_POLICY_BYTES } from '../../steer/policy-file.js';
import { policyChange, SimulationError, whatIfSliced, worldOf, type Change } from '../../explain/simulate.js';
import type { AdminDeps } from '../server.js';
import { routeDoc } from '../openapi.js';

/** Networks one request may simulate: each costs a decision per steered name, twice. */
export const MAX_API_NETWORKS = 10_000;

/** Client networks simulated between two turns of the event loop: about 10 ms of work (0.2 ms each for the example zones, before and after). */
const SLICE = 50;

/** A policy file at its limit plus a population as text, JSON-escaped. */
const BODY_LIMIT = 10 * 1024 * 1024;

const Ids = Type.Array(Type.String({ minLength: 1, maxLength: 300 }), { maxItems: 100, default: [] });
const SimulateBody = Type.Object(
  {
    clients: Type.Optional(
      Type.Union([
        Type.Array(Type.Object({ network: Type.String({ minLength: 2, maxLength: 64 }), weight: Type.Number({ exclusiveMinimum: 0, maximum: 1e12 }) }, { additionalProperties: false }), {
          minItems: 1,
          maxItems: MAX_API_NETWORKS,
        }),
        Type.String({ minLength: 1, maxLength: 4 * 1024 * 1024, description: '"network weight" lines or query-log lines' }),
      ]),
    ),
    drain: Ids,
    undrain: Ids,
    down: Ids,
    up: Ids,
    policy: Type.Optional(Type.Object({ zone: Type.String({ minLength: 1, maxLength: 255 }), text: Type.String({ maxLength: MAX_POLICY_BYTES }) }, { additionalProperties: false })),
    type: Type.Union([Type.Literal('A'), Type.Literal('AAAA')], { default: 'A' }),
  },
  { additionalProperties: false },
);

const Share = Type.Object({}, { additionalProperties: true });
const Comparison = Type.Object(
  {
    type: Type.Union([Type.Literal('A'), Type.Literal('AAAA')]),
    population: Type.Object({ source: Type.String(), networks: Type.Integer(), weight: Type.Number() }),
    names: Type.Array(Share),
  },
  { description: 'answers before and after, per steered name, as meridian simulate prints them' },
);

interface Body {
  clients?: { network: string; weight: number }[] | string;
  drain: string[];
  undrain: string[];
  down: string[];
  up: string[];
  policy?: { zone: string; text: string };
  type: 'A' | 'AAAA';
}

export const simulateRoutes =
  (deps: AdminDeps): FastifyPluginAsync =>
  async (app) => {
    // It changes nothing, but it is CPU in the process that answers DNS: a write token, like
    // every POST. Large populations are sliced (whatIfSliced) so DNS keeps answering.
    app.post(
      '/simulate',
      {
        config: { access: 'write' },
        bodyLimit: BODY_LIMIT,
        schema: { body: SimulateBody, ...routeDoc({ summary: 'What a change would do to answers', operationId: 'simulate', tags: ['steering'], ok: { 200: Comparison } }) },
      },
      async (req) => {
        const body = req.body as Body;
        const snapshot = deps.store.current;
        try {
          const population = body.clients === undefined ? samplePopulation() : await populationOfBody(body.clients, 'body.clients');
          if (population.entries.length > MAX_API_NETWORKS)
            throw badRequest('body.clients', `${population.entries.length} networks; at most ${MAX_API_NETWORKS} per request (aggregate them, or use meridian simulate)`);
          const change: Change = {
            drain: body.drain,
            undrain: body.undrain,
            down: body.down,
            up: body.up,
            ...(body.policy ? { policy: policyChange(snapshot, body.policy.zone, body.policy.text, 'body.policy.text') } : {}),
          };
          return await whatIfSliced(worldOf(snapshot, Date.now()), change, population, snapshot.locate, body.type, SLICE);
        } catch (err) {
          if (err instanceof PopulationError) throw badRequest('body.clients', err.message);
          if (err instanceof SimulationError) {
            const [first, ...rest] = err.message.split('\n');
            throw badRequest(`body.${err.field === 'zone' ? 'policy.zone' : err.field}`, first!.slice(err.field.length + 2), rest);
          }
          throw err;
        }
      },
    );
  };
