import type { EncodedResponse } from './message-writer.js';
import { PerSnapshotCache } from '../snapshot/per-snapshot-cache.js';

/**
 * Encoded answers by (QNAME key, QTYPE, QCLASS, variant), valid for one snapshot version:
 * the owner clears it when a new snapshot is published, so a cached answer can never
 * outlive the data or the health state it was computed from. Bounded; the oldest entry
 * goes first (insertion order of Map), which is O(1) and enough against random-name floods.
 */
export class AnswerCache extends PerSnapshotCache {
  readonly #entries = new Map<string, EncodedResponse>();
  readonly #maxEntries: number;
  hits = 0;
  misses = 0;

  constructor(maxEntries: number) {
    super();
    this.#maxEntries = maxEntries;
  }

  clear(): void {
    this.#entries.clear();
  }

  get(key: string): EncodedResponse | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) this.misses++;
    else this.hits++;
    return e;
  }

  set(key: string, value: EncodedResponse): void {
    if (this.#maxEntries <= 0) return;
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, value);
  }

  get size(): number {
    return this.#entries.size;
  }
}
