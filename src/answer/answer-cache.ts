import type { EncodedResponse } from '../dns/message-writer.js';
import { RRType, Rcode } from '../dns/constants.js';
import { nameKey } from '../dns/name.js';
import type { Resolution } from '../resolve/resolution.js';
import { suffixKey } from '../zone/lookup.js';
import type { Zone } from '../zone/zone.js';
import { BoundedSnapshotMap, type AnswerTags } from '../snapshot/per-snapshot-cache.js';

/** An encoded answer with what it depends on, so an admin write forgets only the answers it changes. */
export type CachedAnswer = EncodedResponse & AnswerTags;

/**
 * Encoded answers by (QNAME key, QTYPE, QCLASS, variant), valid for one snapshot version:
 * a new snapshot empties it, or, after an admin write, drops the answers that depend on the
 * names it changed, so a cached answer can never outlive the data or the health state it was
 * computed from. Bounded; the oldest entry goes first.
 */
export class AnswerCache extends BoundedSnapshotMap<string, CachedAnswer> {
  hits = 0;
  misses = 0;

  constructor(maxEntries: number) {
    super(maxEntries, (answer) => answer);
  }

  get(key: string): CachedAnswer | undefined {
    let e = this.entries.get(key);
    if (e !== undefined && !this.fresh(key, e)) e = undefined;
    if (e === undefined) this.misses++;
    else this.hits++;
    return e;
  }

  set(key: string, value: CachedAnswer): void {
    this.remember(key, value);
  }
}

/**
 * Whether a negative answer (NXDOMAIN or NODATA, `zone`'s SOA alone in authority) depends on
 * nothing but the records at the question's name and below it (AnswerTags.negative). Not when
 * a wildcard sits one label below any name above it in the zone: removing a name between them
 * could let the wildcard answer (RFC 4592 §3.3.1), and so may synthesised NODATA.
 */
export function plainNegative(res: Resolution, zone: Zone | null, labelKeys: readonly string[]): boolean {
  if (zone === null || !res.authoritative || res.answer.length > 0 || res.additional.length > 0 || res.authority.length !== 1) return false;
  if ((res.rcode !== Rcode.NXDOMAIN && res.rcode !== Rcode.NOERROR) || res.authority[0]!.set !== zone.soa) return false;
  for (let i = labelKeys.length - zone.origin.length; i >= 1; i--) {
    const above = suffixKey(labelKeys, i);
    if (zone.nodes.has(above.length === 0 ? '*' : `*.${above}`)) return false;
  }
  return true;
}

/** Types whose answers bring other names' addresses into the additional section (resolve/resolver.ts). */
const WITH_ADDITIONAL = new Set<number>([RRType.NS, RRType.MX, RRType.SRV]);

/**
 * Whether an answer depends on nothing but the records at the question's own name (`qkey`):
 * a positive answer of RRsets owned by that name (not a wildcard's, not reached through a
 * CNAME), with no authority section (negative answers carry the SOA) and no type that adds
 * other names' addresses. Everything else is dropped by every write.
 */
export function ownAnswer(res: Resolution, qkey: string): boolean {
  if (res.rcode !== Rcode.NOERROR || !res.authoritative || res.answer.length === 0 || res.authority.length > 0 || res.additional.length > 0) return false;
  for (const e of res.answer) {
    if (WITH_ADDITIONAL.has(e.set.type) || nameKey(e.set.owner) !== qkey) return false;
  }
  return true;
}
