import type { EncodedResponse } from '../dns/message-writer.js';
import { RRType, Rcode } from '../dns/constants.js';
import { nameKey } from '../dns/name.js';
import type { Resolution } from '../resolve/resolution.js';
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
