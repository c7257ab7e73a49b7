/**
 * The steering model (issue #3; src/steer/README.md "Description": a chain of filters).
 *
 * A steered name has targets and a policy: an ordered chain of filters, each a pure
 * function (candidates, ctx) -> candidates. Groups (geo rules, failover groups) hold their
 * own chain, so policies nest. Filters never do I/O: the client's location, health,
 * latency, randomness and time all come in through the context.
 */
import type { Name } from '../dns/name.js';
import type { FailoverBound } from '../health/types.js';
import type { SourcePos } from '../problems/types.js';

/** A regional endpoint that can be answered. Immutable once loaded. */
export interface Target {
  /** Unique within its policy file, e.g. "eu-west". */
  readonly id: string;
  /** Unique across zones: "<zone>/<id>", e.g. "example.com/eu-west"; keys health state. */
  readonly key: string;
  readonly region: string;
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
  readonly location: GeoPoint | null;
  /** Relative share for the weighted filter; 0 means "only when nothing else is left". */
  readonly weight: number;
  /**
   * Proximity bias (as Route 53 geoproximity), -99..99: a positive bias grows the target's
   * catchment, a negative one shrinks it. The effective distance is distance × (1 − bias/100).
   */
  readonly bias: number;
  /** Name of the health probe that watches this target (issue #4); null when unprobed. */
  readonly probe: string | null;
  /** false takes the target out of answers (as an operator drain, until #4 adds probes). */
  readonly enabled: boolean;
}

export interface GeoPoint {
  readonly lat: number;
  readonly lon: number;
}

/** What we know of the client, from EDNS Client Subnet or else the resolver's own address. */
export interface ClientInfo {
  /** The address used for the decision (ECS address, or the resolver's address), IPv4 normalised. */
  readonly address: string;
  readonly family: 4 | 6;
  /** ECS SOURCE PREFIX-LENGTH, or 32/128 for the resolver's address. */
  readonly sourcePrefix: number;
  readonly fromEcs: boolean;
  readonly geo: GeoInfo;
}

/** A GeoIP answer; every field may be missing. `network` is the database record's prefix length. */
export interface GeoInfo {
  readonly continent: string | null;
  readonly country: string | null;
  /** ISO 3166-2 codes, e.g. ["GB-ENG"], most general first. */
  readonly subdivisions: readonly string[];
  readonly location: GeoPoint | null;
  /**
   * 'country-centroid': the record has a country but no coordinates (the default database is
   * country-only), so `location` is a point in the middle of that country: approximate, and it
   * holds for the record's whole network (`geoPrefix`). Absent: `location` is the record's own.
   */
  readonly locationApprox?: 'country-centroid';
  readonly asn: number | null;
  /** Prefix length of the location record's network (for the ECS scope); null when no record matched. */
  readonly geoPrefix: number | null;
  /** Prefix length of the ASN record's network; null when none matched. */
  readonly asnPrefix: number | null;
  /**
   * The longest prefix of the database networks consulted, records or empty ones: every
   * address in that network gets this same GeoInfo (the decision cache keys on it).
   * Absent when unknown (special-purpose or invalid addresses): only the address itself.
   */
  readonly networkPrefix?: number;
  /** Human-readable provenance for explain, e.g. "GeoIP2-City 81.2.69.142/31". */
  readonly source: string;
}

/** Estimated RTT from a client network to a region. */
export interface LatencyEstimate {
  readonly ms: number;
  /** Prefix length of the client network the estimate holds for (the ECS scope it implies). */
  readonly scopePrefix: number;
  /** Where the figure came from, for explain: "cidr 81.2.0.0/16", "country GB". */
  readonly matched: string;
  /**
   * How specific the client network it was measured or guessed for is (issue #20): a network
   * (table CIDR row or pushed sample) 100 + its prefix length, ASN 3, country 2, continent 1,
   * a probe RTT (measured from here, not from the client) 0 or absent. Higher wins.
   */
  readonly specificity?: number;
  /** When it was measured (ms since the epoch); absent for a static table row (the oldest). */
  readonly measuredAt?: number;
}

/** Specificity of each kind of latency figure (see LatencyEstimate.specificity). */
export const SPECIFICITY = { probe: 0, continent: 1, country: 2, asn: 3, network: (prefix: number): number => 100 + prefix } as const;

/** One line of the decision trace. */
export interface TraceEntry {
  readonly filter: string;
  readonly kept: readonly string[];
  readonly why: string;
}

export interface FilterContext {
  readonly client: ClientInfo;
  /** Whether a target is up (health state from #4; the enabled flag until then). */
  readonly isUp: (target: Target) => boolean;
  /** Latency estimate for the client to a region, or null when unknown. */
  readonly latency: (region: string) => LatencyEstimate | null;
  /** Uniform in [0, 1). Injected so tests are deterministic. */
  readonly rand: () => number;
  /**
   * Set only by the what-if simulation (src/explain/simulate.ts): a random pick hands it every outcome it
   * can have, with its exact probability, instead of drawing; it returns the one to follow.
   */
  readonly branch?: (outcomes: readonly RandomOutcome[]) => readonly Target[];
  /** Remaining capacity 0..1 (a balancer probe's healthy-backend ratio); 1 when unknown. */
  readonly capacity: (target: Target) => number;
  /** Milliseconds since the epoch. Injected. */
  readonly now: number;
  /**
   * Records that the decision depended on the client's address up to this prefix length;
   * the ECS scope of the answer is the longest such prefix (capped at the source prefix).
   */
  readonly useScope: (prefixLength: number) => void;
  /**
   * A geofence left nothing: whenAllDown may answer only these target ids (data residency
   * holds even when every target in the fence is down).
   */
  readonly fence: (targetIds: ReadonlySet<string>) => void;
  /** Records a trace line; the entry is built only when someone is explaining, so queries pay nothing for it. */
  readonly trace: (entry: () => TraceEntry) => void;
  /** Runs a nested chain (for filters that hold groups with their own chain). */
  readonly runChain: (chain: readonly FilterStep[], candidates: readonly Target[]) => readonly Target[];
}

/** One result a random filter step can have, and its probability (the outcomes of a step sum to 1). */
export interface RandomOutcome {
  readonly targets: readonly Target[];
  readonly p: number;
}

/** A filter: pure, (candidates, ctx) -> candidates. */
export type Filter<Config> = (candidates: readonly Target[], config: Config, ctx: FilterContext) => readonly Target[];

// ---- Policy configuration: typed data, validated by src/steer/policy-schema.ts ----

export interface GeoRule {
  readonly continents?: readonly string[];
  readonly countries?: readonly string[];
  /** ISO 3166-2, e.g. "US-CA". */
  readonly subdivisions?: readonly string[];
  readonly asns?: readonly number[];
  readonly cidrs?: readonly string[];
  /** Target ids this rule keeps (intersected with the candidates). */
  readonly targets: readonly string[];
  /** Optional chain to run on the kept targets. */
  readonly chain?: readonly FilterStep[];
  /** false: a geofence, never falls through to a less specific rule (default true). */
  readonly fallthrough?: boolean;
}

export interface GeoConfig {
  readonly rules: readonly GeoRule[];
  /** Targets for clients no rule matches; absent means "keep all candidates". */
  readonly default?: { readonly targets: readonly string[]; readonly chain?: readonly FilterStep[] };
}

export interface ProximityConfig {
  /** How many nearest targets to keep (default 1). */
  readonly count?: number;
}

export interface LatencyConfig {
  /** Targets within this many ms of the best count as equal (default 0). */
  readonly toleranceMs?: number;
  /** …or within this percentage of the best (default 0); the larger of the two applies. */
  readonly tolerancePercent?: number;
}

export interface WeightedConfig {
  /** "random": a new draw per query; "stable": a hash of the client subnet picks (default "random"). */
  readonly mode?: 'random' | 'stable';
  /** How many targets to pick (default 1). */
  readonly count?: number;
}

export interface FailoverGroup {
  readonly targets: readonly string[];
  readonly chain?: readonly FilterStep[];
}

export interface FailoverConfig {
  /** Priority order: the first group with a live target wins. */
  readonly groups: readonly FailoverGroup[];
}

export type FilterStep =
  | { readonly health: Record<string, never> }
  | { readonly geo: GeoConfig }
  | { readonly proximity: ProximityConfig }
  | { readonly latency: LatencyConfig }
  | { readonly weighted: WeightedConfig }
  | { readonly failover: FailoverConfig }
  | { readonly first: number }
  | { readonly all: Record<string, never> };

/** What a policy answers when its chain leaves no target. */
export type WhenAllDown = { readonly action: 'fail-open' } | { readonly action: 'fallback'; readonly targets: readonly string[] } | { readonly action: 'nodata' } | { readonly action: 'servfail' };

export interface LatencyTable {
  /** Number of rows. */
  readonly size: number;
  /** The estimate for the client to the region from the most specific row that has it, or null. */
  lookup(client: ClientInfo, region: string): LatencyEstimate | null;
  /** The same without widening the scope around nested CIDR rows. */
  lookupRow(client: ClientInfo, region: string): LatencyEstimate | null;
  /** An estimate (from this table or elsewhere) with its scope widened to keep clear of this table's more specific CIDR rows. */
  narrow(client: ClientInfo, region: string, est: LatencyEstimate | null): LatencyEstimate | null;
}

/** A steered name, compiled: what the data plane needs to answer it. */
export interface SteeredName {
  readonly key: string;
  readonly owner: Name;
  readonly ttl: number;
  /** The candidates the chain starts from, in file order. */
  readonly targets: readonly Target[];
  readonly chain: readonly FilterStep[];
  readonly whenAllDown: WhenAllDown;
  /** Targets of a `fallback` whenAllDown (empty otherwise). */
  readonly fallback: readonly Target[];
  readonly latency: LatencyTable;
  /** Encoded A and AAAA RDATA of each target, by target id. */
  readonly rdata: ReadonlyMap<string, { readonly a: readonly Buffer[]; readonly aaaa: readonly Buffer[] }>;
  /** TTL while any of the name's targets is down; null keeps `ttl`. */
  readonly downTtl: number | null;
  /**
   * The A and AAAA RDATA (and TTL) a zone transfer sends for the name (policy
   * `transferFallback`); null: the A/AAAA of its targets up at the time of the transfer.
   */
  readonly transferFallback: { readonly ttl: number; readonly a: readonly Buffer[]; readonly aaaa: readonly Buffer[] } | null;
  /**
   * Worst case until resolvers stop using a failed target (and use it again once it is
   * back), for the slowest probed target (health/failover-bound.ts). null when nothing is probed.
   */
  readonly failover: FailoverBound | null;
  readonly source: SourcePos;
}

/** Turns an address (ECS or resolver) into ClientInfo. */
export type ClientLocator = (address: string, family: 4 | 6, sourcePrefix: number, fromEcs: boolean) => ClientInfo;
