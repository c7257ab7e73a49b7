/**
 * Which names an update of the zones changed, when that is all it changed (issue #14 item 3):
 * the caches then forget only the answers for those names (src/snapshot/per-snapshot-cache.ts)
 * instead of every answer, so a stream of admin writes does not send every query down the
 * full path.
 */
import { MAX_CHANGES_KEPT, type NamesChange } from '../snapshot/per-snapshot-cache.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { reachesBelow, type Zone } from '../zone/zone.js';
import type { TargetHealth } from '../health/state-machine.js';

/** Above this many names a change empties the caches: forgetting name by name would cost more than refilling. */
const MAX_NAMES = 20_000;

/**
 * The name keys `next` changed from `prev`, or null when it changed more than some names'
 * records: a zone added or dropped, a zone rebuilt or reloaded (a new packed base), a policy
 * (steered names, probed targets), or a zone cut or DNAME set (they change the answers for
 * every name below them).
 */
export function namesChanged(prev: ReadonlyMap<string, Zone>, next: ReadonlyMap<string, Zone>): string[] | null {
  if (prev.size !== next.size) return null;
  const names: string[] = [];
  for (const [origin, zone] of next) {
    const before = prev.get(origin);
    if (before === undefined) return null;
    if (before === zone) continue;
    if (before.steered !== zone.steered || before.monitored !== zone.monitored) return null;
    // Cached negative answers carry the SOA: they keep only through a change of its serial.
    if (!sameSoaButSerial(before, zone)) return null;
    // Names new to the delta: at least that many changed, without listing them (a large batch).
    if (names.length + zone.nodes.deltaSize - before.nodes.deltaSize > MAX_NAMES) return null;
    // Only the new nodes: answers below a cut or DNAME that went were referrals or DNAME
    // answers, which read more than their own name, and every change drops those already.
    const written = zone.writtenOver;
    if (written !== undefined && written.nodes === before.nodes) {
      // The update listed what it set and checked it.
      if (written.reachesBelow || names.length + written.keys.length > MAX_NAMES) return null;
      for (const key of written.keys) names.push(key);
      continue;
    }
    const keys = changedKeys(before, zone);
    if (keys === null || names.length + keys.length > MAX_NAMES) return null;
    for (const key of keys) {
      if (reachesBelow(zone.nodes.get(key))) return null;
      names.push(key);
    }
  }
  return names;
}

/** Whether two versions of a zone have the same SOA but for its serial, and the same negative TTL. */
function sameSoaButSerial(a: Zone, b: Zone): boolean {
  if (a.soa === b.soa) return true;
  if (a.negativeTtl !== b.negativeTtl || a.soa.ttl !== b.soa.ttl) return false;
  const x = a.soa.rdatas[0]!;
  const y = b.soa.rdatas[0]!;
  // SERIAL is the 20 octets from the end's first 4 (RFC 1035 §3.3.13).
  const at = x.length - 20;
  return x.length === y.length && x.subarray(0, at).equals(y.subarray(0, at)) && x.subarray(at + 4).equals(y.subarray(at + 4));
}

/**
 * The keys whose nodes may differ between two versions of a zone: what writes changed since
 * `before` (the same packed base), or, for a zone reloaded over `before`'s base, the names
 * the reload thread found different plus those written over either base.
 */
function changedKeys(before: Zone, zone: Zone): string[] | null {
  const written = zone.nodes.changesSince(before.nodes);
  if (written !== null) return [...written.keys()];
  const over = zone.reloadedOver;
  if (over === undefined || over.base !== before.nodes.base) return null;
  if (over.changed.length + before.nodes.deltaSize + zone.nodes.deltaSize > MAX_NAMES) return null;
  const keys = new Set(over.changed);
  for (const nodes of [before.nodes, zone.nodes]) {
    const { set, removed } = nodes.deltaEntries();
    for (const [key] of set) keys.add(key);
    for (const key of removed) keys.add(key);
  }
  return [...keys];
}

/**
 * Snapshot.changes for the version after `prev` when that version changes only `names`:
 * prev's changes (when they end at prev's version) with this one added, the oldest dropped.
 */
export function nextChanges(prev: Snapshot, names: readonly string[] | null): readonly NamesChange[] {
  if (names === null) return [];
  const version = prev.version + 1;
  const kept = prev.changes.length > 0 && prev.changes[prev.changes.length - 1]!.version === prev.version ? prev.changes.slice(-(MAX_CHANGES_KEPT - 1)) : [];
  kept.push({ version, names });
  return kept;
}

/**
 * Whether two health maps say the same of every target as far as answers read them: status,
 * the operator's override and capacity (snapshot.ts targetIsUp, targetIsDrained, capacity).
 * Each probe result moves a target's streak, last result and RTT without changing its answers;
 * counting those would empty every cache on each write while probes run.
 */
export function sameHealth(a: ReadonlyMap<string, TargetHealth>, b: ReadonlyMap<string, TargetHealth>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [key, h] of b) {
    const other = a.get(key);
    if (other !== h && (other === undefined || other.status !== h.status || other.forced !== h.forced || other.capacity !== h.capacity)) return false;
  }
  return true;
}
