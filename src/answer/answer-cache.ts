import type { EncodedResponse } from '../dns/message-writer.js';
import { BoundedSnapshotMap } from '../snapshot/per-snapshot-cache.js';

/**
 * Encoded answers by (QNAME key, QTYPE, QCLASS, variant), valid for one snapshot version:
 * the owner clears it when a new snapshot is published, so a cached answer can never
 * outlive the data or the health state it was computed from. Bounded; the oldest entry
 * goes first.
 */
export class AnswerCache extends BoundedSnapshotMap<string, EncodedResponse> {
  hits = 0;
  misses = 0;

  get(key: string): EncodedResponse | undefined {
    const e = this.entries.get(key);
    if (e === undefined) this.misses++;
    else this.hits++;
    return e;
  }

  set(key: string, value: EncodedResponse): void {
    this.remember(key, value);
  }
}
