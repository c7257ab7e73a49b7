/**
 * Quorum health (cluster mode, issue #13): every node probes and reports what it sees; a
 * target is down for the whole cluster when at least `quorum` of the nodes that reported
 * recently see it down (default: a majority of them), as Route 53's checkers and F5's iQuery
 * decide. One PoP whose uplink breaks then does not pull a region everywhere. Pure.
 */
import type { HealthStatus } from './state-machine.js';

/** One node's view as it reported it: target key → its own probe status. */
export interface NodeReport {
  readonly node: string;
  /** When the store took the report (ms since the epoch). */
  readonly at: number;
  readonly targets: Readonly<Record<string, HealthStatus>>;
}

export interface QuorumVerdict {
  readonly status: 'up' | 'down';
  /** Nodes (this one included) that see the target down, of those that reported it recently. */
  readonly down: number;
  readonly reporting: number;
  /** How many must see it down: `quorum`, or a majority of `reporting`. */
  readonly needed: number;
}

/**
 * The cluster's verdict on each target this node watches: its own view counts, and each other
 * node's report no older than `maxAgeMs`. UNKNOWN counts as not down (fail-open, as at start).
 */
export function quorumVerdicts(own: ReadonlyMap<string, HealthStatus>, others: Iterable<NodeReport>, now: number, maxAgeMs: number, quorum: number | null): Map<string, QuorumVerdict> {
  const fresh = [...others].filter((r) => now - r.at <= maxAgeMs);
  const out = new Map<string, QuorumVerdict>();
  for (const [key, status] of own) {
    let reporting = 1;
    let down = status === 'down' ? 1 : 0;
    for (const r of fresh) {
      const theirs = Object.hasOwn(r.targets, key) ? r.targets[key] : undefined;
      if (theirs === undefined) continue;
      reporting++;
      if (theirs === 'down') down++;
    }
    const needed = quorum ?? Math.floor(reporting / 2) + 1;
    out.set(key, { status: down >= needed ? 'down' : 'up', down, reporting, needed });
  }
  return out;
}
