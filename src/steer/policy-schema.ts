/**
 * The policy file schema (zones/<zone>.policy.yaml). README "Steering policies" documents
 * the same fields; keep them in step.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Keyed } from '../config/keyed-record.js';

/**
 * Target and probe ids: they become part of health keys (`<zone>/<id>`), metric labels and
 * admin URLs (the admin API checks its URL ids against it too), so no "/", space or other
 * punctuation, and no leading "_" (which also keeps out `__proto__`). README "Steering
 * policies" states the same rule.
 */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$';
export const ID_RULE = 'an id is 1 to 63 letters, digits, "_", "-" or ".", starting with a letter or digit';
const Id = Type.String({ pattern: ID_PATTERN, description: 'target id' });
const AnyKey = Type.String({ minLength: 1 });
const IdList = Type.Array(Id, { minItems: 1 });
const Empty = Type.Object({}, { additionalProperties: false });

const Target = Type.Object(
  {
    region: Type.String({ minLength: 1, maxLength: 63 }),
    // 256 A records (16 bytes each) still fit a TCP answer; a site with more is several targets
    ipv4: Type.Array(Type.String({ minLength: 2 }), { default: [], maxItems: 256 }),
    ipv6: Type.Array(Type.String({ minLength: 2 }), { default: [], maxItems: 256 }),
    location: Type.Optional(Type.Object({ lat: Type.Number({ minimum: -90, maximum: 90 }), lon: Type.Number({ minimum: -180, maximum: 180 }) }, { additionalProperties: false })),
    weight: Type.Number({ minimum: 0, maximum: 1_000_000, default: 1 }),
    bias: Type.Number({ minimum: -99, maximum: 99, default: 0 }),
    probe: Type.Optional(Type.String({ minLength: 1, description: 'name of a probe in the probes section' })),
    probeAddress: Type.Optional(Type.String({ minLength: 2, description: 'address to probe when it differs from the answered ones' })),
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
      fallthrough: Type.Optional(Type.Boolean({ description: 'false: a geofence, never falls through to a less specific rule' })),
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
        Type.Object({ groups: Type.Array(Type.Object({ targets: IdList, chain: Type.Optional(Chain) }, { additionalProperties: false }), { minItems: 1 }) }, { additionalProperties: false }),
      ),
      first: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
      all: Type.Optional(Empty),
    },
    { additionalProperties: false, minProperties: 1, maxProperties: 1 },
  );
});

const WhenAllDown = Type.Union([Type.Literal('fail-open'), Type.Literal('nodata'), Type.Literal('servfail'), Type.Object({ fallback: IdList }, { additionalProperties: false })]);

const LatencyRow = Type.Object(
  {
    cidr: Type.Optional(Type.String({ minLength: 3 })),
    asn: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295 })),
    country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$' })),
    continent: Type.Optional(Type.String({ pattern: '^(AF|AN|AS|EU|NA|OC|SA)$' })),
    rtt: Keyed(AnyKey, Type.Number({ minimum: 0, maximum: 60_000 })),
  },
  { additionalProperties: false },
);

/** A health probe (issue #4). Times: interval in seconds, the others in milliseconds. */
const Probe = Type.Object(
  {
    type: Type.Union([Type.Literal('http'), Type.Literal('https'), Type.Literal('tcp'), Type.Literal('balancer')]),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    address: Type.Optional(Type.String({ minLength: 2 })),
    interval: Type.Integer({ minimum: 1, maximum: 3600, default: 5 }),
    timeout: Type.Integer({ minimum: 10, maximum: 60_000, default: 2000 }),
    rise: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
    fall: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
    jitter: Type.Integer({ minimum: 0, maximum: 60_000, default: 250 }),
    method: Type.String({ pattern: '^[A-Z]{1,16}$', default: 'GET' }),
    path: Type.Optional(Type.String({ pattern: '^/' })),
    host: Type.Optional(Type.String({ minLength: 1 })),
    sni: Type.Optional(Type.String({ minLength: 1 })),
    expect: Type.Array(Type.Union([Type.Integer({ minimum: 100, maximum: 599 }), Type.String({ pattern: '^[1-5][0-9][0-9](-[1-5][0-9][0-9])?$' })]), {
      minItems: 1,
      default: ['200-399'],
    }),
    body: Type.Optional(Type.String({ minLength: 1, description: 'regular expression the body must match' })),
    headers: Keyed(AnyKey, Type.String(), { default: {} }),
    verifyTls: Type.Boolean({ default: true }),
    slow: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000, description: 'ms; a slower answer fails as "slow"' })),
  },
  { additionalProperties: false },
);

/**
 * What a standard secondary (which cannot steer) serves for the name, sent in zone transfers
 * (README "Zone transfer to secondaries"); absent: the targets up at the transfer's time.
 * Up to 256 addresses of each family, as a target.
 */
const TransferFallback = Type.Object(
  {
    ipv4: Type.Array(Type.String({ minLength: 2 }), { default: [], maxItems: 256 }),
    ipv6: Type.Array(Type.String({ minLength: 2 }), { default: [], maxItems: 256 }),
    ttl: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647, description: "TTL of the fallback records; default: the name's ttl" })),
  },
  { additionalProperties: false },
);

const SteeredName = Type.Object(
  {
    ttl: Type.Integer({ minimum: 0, maximum: 2147483647, default: 30 }),
    downTtl: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647, description: "TTL while any of the name's targets is down (as gdnsd)" })),
    targets: Type.Optional(IdList),
    policy: Type.Array(FilterStep, { minItems: 1 }),
    whenAllDown: Type.Optional(WhenAllDown),
    transferFallback: Type.Optional(TransferFallback),
  },
  { additionalProperties: false },
);

export const PolicyFileSchema = Type.Object(
  {
    probes: Type.Optional(Keyed(Id, Probe)),
    targets: Keyed(Id, Target),
    latency: Type.Optional(Type.Array(LatencyRow)),
    names: Keyed(AnyKey, SteeredName),
  },
  { additionalProperties: false },
);

export type PolicyFile = Static<typeof PolicyFileSchema>;
export type PolicyTargetConfig = Static<typeof Target>;
export type PolicyProbeConfig = Static<typeof Probe>;
