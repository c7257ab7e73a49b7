/**
 * The policy file schema (zones/<zone>.policy.yaml). README "Steering policies" documents
 * the same fields; keep them in step.
 */
import { Type, type Static } from '@sinclair/typebox';

const Id = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$', description: 'target id' });
const IdList = Type.Array(Id, { minItems: 1 });
const Empty = Type.Object({}, { additionalProperties: false });

const Target = Type.Object(
  {
    region: Type.String({ minLength: 1, maxLength: 63 }),
    ipv4: Type.Array(Type.String({ minLength: 2 }), { default: [] }),
    ipv6: Type.Array(Type.String({ minLength: 2 }), { default: [] }),
    location: Type.Optional(
      Type.Object({ lat: Type.Number({ minimum: -90, maximum: 90 }), lon: Type.Number({ minimum: -180, maximum: 180 }) }, { additionalProperties: false }),
    ),
    weight: Type.Number({ minimum: 0, maximum: 1_000_000, default: 1 }),
    bias: Type.Number({ minimum: -99, maximum: 99, default: 0 }),
    probe: Type.Optional(Type.String({ minLength: 1 })),
    enabled: Type.Boolean({ default: true }),
  },
  { additionalProperties: false },
);

/**
 * A filter step: an object with exactly one key naming the filter. Written as one object
 * with optional keys (not a union) so a schema error names the exact field. Recursive
 * through groups.
 */
const FilterStep = Type.Recursive((Step) => {
  const Chain = Type.Array(Step);
  const GeoRule = Type.Object(
    {
      continents: Type.Optional(Type.Array(Type.String({ pattern: '^(AF|AN|AS|EU|NA|OC|SA)$' }), { minItems: 1 })),
      countries: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Z]{2}$' }), { minItems: 1 })),
      subdivisions: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Z]{2}-[A-Z0-9]{1,3}$' }), { minItems: 1 })),
      asns: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: 4294967295 }), { minItems: 1 })),
      cidrs: Type.Optional(Type.Array(Type.String({ minLength: 3 }), { minItems: 1 })),
      targets: IdList,
      chain: Type.Optional(Chain),
    },
    { additionalProperties: false },
  );
  return Type.Object(
    {
    health: Type.Optional(Empty),
    geo: Type.Optional(
      Type.Object(
        {
          rules: Type.Array(GeoRule, { minItems: 1 }),
          default: Type.Optional(Type.Object({ targets: IdList, chain: Type.Optional(Chain) }, { additionalProperties: false })),
        },
        { additionalProperties: false },
      ),
    ),
    proximity: Type.Optional(Type.Object({ count: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })) }, { additionalProperties: false })),
    latency: Type.Optional(
      Type.Object(
        { toleranceMs: Type.Optional(Type.Number({ minimum: 0, maximum: 10_000 })), tolerancePercent: Type.Optional(Type.Number({ minimum: 0, maximum: 1000 })) },
        { additionalProperties: false },
      ),
    ),
    weighted: Type.Optional(
      Type.Object(
        { mode: Type.Optional(Type.Union([Type.Literal('random'), Type.Literal('stable')])), count: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })) },
        { additionalProperties: false },
      ),
    ),
    failover: Type.Optional(
      Type.Object(
        { groups: Type.Array(Type.Object({ targets: IdList, chain: Type.Optional(Chain) }, { additionalProperties: false }), { minItems: 1 }) },
        { additionalProperties: false },
      ),
    ),
    first: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
    all: Type.Optional(Empty),
    },
    { additionalProperties: false, minProperties: 1, maxProperties: 1 },
  );
});

const WhenAllDown = Type.Union([
  Type.Literal('fail-open'),
  Type.Literal('nodata'),
  Type.Literal('servfail'),
  Type.Object({ fallback: IdList }, { additionalProperties: false }),
]);

const LatencyRow = Type.Object(
  {
    cidr: Type.Optional(Type.String({ minLength: 3 })),
    asn: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
    country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$' })),
    continent: Type.Optional(Type.String({ pattern: '^(AF|AN|AS|EU|NA|OC|SA)$' })),
    rtt: Type.Record(Type.String({ minLength: 1 }), Type.Number({ minimum: 0, maximum: 60_000 })),
  },
  { additionalProperties: false },
);

const SteeredName = Type.Object(
  {
    ttl: Type.Integer({ minimum: 0, maximum: 2147483647, default: 30 }),
    targets: Type.Optional(IdList),
    policy: Type.Array(FilterStep, { minItems: 1 }),
    whenAllDown: Type.Optional(WhenAllDown),
  },
  { additionalProperties: false },
);

export const PolicyFileSchema = Type.Object(
  {
    targets: Type.Record(Id, Target),
    latency: Type.Optional(Type.Array(LatencyRow)),
    names: Type.Record(Type.String({ minLength: 1 }), SteeredName),
  },
  { additionalProperties: false },
);

export type PolicyFile = Static<typeof PolicyFileSchema>;
export type PolicyTargetConfig = Static<typeof Target>;
