import { RRType } from '../dns/constants.js';
import { suffixKey } from '../zone/lookup.js';
import type { Zone } from '../zone/zone.js';

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
