/** Test helpers: targets, clients and a FilterContext with defaults that records trace and scope. */
import { runChain } from '../../src/steer/chain.js';
import type { ClientInfo, FilterContext, GeoInfo, LatencyEstimate, Target, TraceEntry } from '../../src/steer/types.js';

export function target(id: string, over: Partial<Target> = {}): Target {
  return { id, key: `test/${id}`, region: id, ipv4: ['192.0.2.1'], ipv6: [], location: null, weight: 1, bias: 0, probe: null, enabled: true, ...over };
}

export const NO_GEO: GeoInfo = {
  continent: null,
  country: null,
  subdivisions: [],
  location: null,
  asn: null,
  geoPrefix: null,
  asnPrefix: null,
  source: 'none',
};

export function client(over: Partial<Omit<ClientInfo, 'geo'>> & { geo?: Partial<GeoInfo> } = {}): ClientInfo {
  const address = over.address ?? '81.2.69.142';
  const family = over.family ?? (address.includes(':') ? 6 : 4);
  return {
    address,
    family,
    sourcePrefix: over.sourcePrefix ?? (family === 4 ? 32 : 128),
    fromEcs: over.fromEcs ?? false,
    geo: { ...NO_GEO, ...over.geo },
  };
}

export interface Harness {
  readonly ctx: FilterContext;
  readonly traces: TraceEntry[];
  /** Every prefix passed to useScope, in order. */
  readonly scopes: number[];
  /** Target ids a geofence restricted whenAllDown to, or null. */
  fenced: ReadonlySet<string> | null;
  /** The resulting scope: the longest prefix used, 0 when none. */
  scope(): number;
}

export interface ContextOptions {
  client?: ClientInfo;
  isUp?: (t: Target) => boolean;
  latency?: (region: string) => LatencyEstimate | null;
  rand?: () => number;
  capacity?: (t: Target) => number;
  now?: number;
}

/** A FilterContext whose runChain is the real one, so nested chains are exercised end to end. */
export function context(opts: ContextOptions = {}): Harness {
  const traces: TraceEntry[] = [];
  const scopes: number[] = [];
  const harness = { fenced: null as ReadonlySet<string> | null };
  const ctx: FilterContext = {
    client: opts.client ?? client(),
    isUp: opts.isUp ?? ((t) => t.enabled),
    latency: opts.latency ?? (() => null),
    rand:
      opts.rand ??
      (() => {
        throw new Error('rand() called but the test gave none');
      }),
    capacity: opts.capacity ?? (() => 1),
    now: opts.now ?? 1_700_000_000_000,
    useScope: (p) => scopes.push(p),
    fence: (ids) => {
      harness.fenced = ids;
    },
    trace: (e) => traces.push(e()),
    runChain: (chain, candidates) => runChain(chain, candidates, ctx),
  };
  return Object.assign(harness, { ctx, traces, scopes, scope: () => Math.max(0, ...scopes) });
}

/** Deterministic uniform [0,1) generator (mulberry32). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const ids = (ts: readonly Target[]): string[] => ts.map((t) => t.id);

/** Deep-freezes test inputs so a filter that mutates them throws. */
export function frozen<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) frozen(v);
  }
  return value;
}
