import { RRType } from '../dns/constants.js';
import { suffixKey } from '../zone/lookup.js';
import type { Zone } from '../zone/zone.js';
import type { SteeredName, ClientLocator, Target } from '../steer/types.js';
import { isHealthy, type TargetHealth } from '../health/state-machine.js';
import type { DecisionEnv } from '../steer/decide.js';
import type { LatencySamples } from '../steer/latency-samples.js';
import type { NamesChange } from './per-snapshot-cache.js';

/** Answers to CHAOS-class queries (version.bind, id.server); null means REFUSED. */
export interface ChaosAnswers {
  readonly version: string | null;
  readonly identity: string | null;
}

/**
 * Everything the data plane reads to answer a query, immutable. The control plane builds a
 * new one on every change and swaps it whole, so a query sees the old state or the new,
 * never a mix; `version` keys the encoded-answer cache.
 */
export interface Snapshot {
  readonly version: number;
  /** Zones by nameKey of their origin. */
  readonly zones: ReadonlyMap<string, Zone>;
  readonly chaos: ChaosAnswers;
  /** Every steered name of every zone, by nameKey, with its zone (for NODATA and SOA). */
  readonly steered: ReadonlyMap<string, { readonly zone: Zone; readonly name: SteeredName }>;
  /** Where clients are: GeoIP and ASN, with the databases in use. */
  readonly locate: ClientLocator;
  /** Which GeoIP load `locate` reads: it moves on every reload (DNS workers reopen the files then). */
  readonly geoGeneration: number;
  /** Health of the probed targets, by Target.key, as of this snapshot (issue #4). */
  readonly health: ReadonlyMap<string, TargetHealth>;
  /** Whether answers may use a target: enabled, and not down or drained. */
  readonly isUp: (target: Target) => boolean;
  /** Remaining capacity 0..1 from a balancer probe; 1 when unknown. */
  readonly capacity: (target: Target) => number;
  /** Probe RTTs per region, read live: an estimate for regions the latency table lacks (scope 0). */
  readonly regionRtt: (region: string) => number | null;
  /** RTT samples pushed through the admin API, read live (they age out by themselves). */
  readonly samples: LatencySamples | null;
  /**
   * When this version differs from the one before only in some names' records (an admin
   * write): the names, with those of up to MAX_CHANGES_KEPT versions before it, so the
   * caches forget only those. Empty otherwise (a reload, a policy, health or GeoIP change).
   */
  readonly changes: readonly NamesChange[];
}

export type { ClientLocator } from '../steer/types.js';

export interface SnapshotParts {
  readonly version: number;
  readonly zones: ReadonlyMap<string, Zone>;
  readonly chaos: ChaosAnswers;
  readonly locate: ClientLocator;
  readonly geoGeneration?: number;
  readonly health?: ReadonlyMap<string, TargetHealth>;
  readonly regionRtt?: (region: string) => number | null;
  readonly samples?: LatencySamples | null;
  readonly changes?: readonly NamesChange[];
}

const NO_HEALTH: ReadonlyMap<string, TargetHealth> = new Map();

export function createSnapshot(parts: SnapshotParts): Snapshot {
  const steered = new Map<string, { zone: Zone; name: SteeredName }>();
  for (const zone of parts.zones.values()) {
    for (const [key, name] of zone.steered) steered.set(key, { zone, name });
  }
  const health = parts.health ?? NO_HEALTH;
  return {
    version: parts.version,
    zones: parts.zones,
    chaos: parts.chaos,
    locate: parts.locate,
    geoGeneration: parts.geoGeneration ?? 0,
    steered,
    health,
    isUp: (t) => targetIsUp(health, t),
    capacity: (t) => health.get(t.key)?.capacity ?? 1,
    regionRtt: parts.regionRtt ?? (() => null),
    samples: parts.samples ?? null,
    changes: parts.changes ?? [],
  };
}

/** Whether answers may use a target: enabled, and not down or drained (never probed: up). */
export function targetIsUp(health: ReadonlyMap<string, TargetHealth>, t: Target): boolean {
  if (!t.enabled) return false;
  const h = health.get(t.key);
  return h === undefined || isHealthy(h);
}

/** Drained by an operator: out of every answer (steer/decide.ts). */
export function targetIsDrained(health: ReadonlyMap<string, TargetHealth>, t: Target): boolean {
  return health.get(t.key)?.forced === 'down';
}

/**
 * The zone that holds the name: the longest matching origin. A DS query for the apex of a
 * child zone is answered from the parent zone when we serve both (RFC 4035 §3.1.4.1).
 */
export function findZone(snapshot: Snapshot, labelKeys: readonly string[], qtype: number): Zone | null {
  for (let i = 0; i <= labelKeys.length; i++) {
    const zone = snapshot.zones.get(suffixKey(labelKeys, i));
    if (zone === undefined) continue;
    if (i === 0 && qtype === RRType.DS && labelKeys.length > 0) {
      const parent = findZone(snapshot, labelKeys.slice(1), RRType.A);
      if (parent !== null) return parent;
    }
    return zone;
  }
  return null;
}

/** A holder for the current snapshot: the single atomic swap point between the planes. */
export class SnapshotStore {
  #current: Snapshot;
  readonly #listeners = new Set<(s: Snapshot) => void>();

  constructor(initial: Snapshot) {
    this.#current = initial;
  }

  get current(): Snapshot {
    return this.#current;
  }

  publish(next: Snapshot): void {
    this.#current = next;
    for (const l of this.#listeners) l(next);
  }

  onPublish(listener: (s: Snapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** What a steering decision reads from a snapshot. */
export function steeringEnv(snapshot: Snapshot, rand: () => number, now: number): DecisionEnv {
  return {
    isUp: snapshot.isUp,
    isDrained: (t) => targetIsDrained(snapshot.health, t),
    capacity: snapshot.capacity,
    rand,
    now,
    latency: (client, region) => {
      const sampled = snapshot.samples?.lookup(client, region);
      if (sampled) return sampled;
      const ms = snapshot.regionRtt(region);
      // A probe RTT is measured from here, not from the client: the same for every client.
      return ms === null ? null : { ms, scopePrefix: 0, matched: `probe RTT to ${region}` };
    },
    latencyScope: (client, region, scope) => snapshot.samples?.exclusionScope(client, region, scope) ?? scope,
  };
}
