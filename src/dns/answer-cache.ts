import type { EncodedResponse } from './message-writer.js';

/**
 * Encoded answers by (QNAME key, QTYPE, QCLASS, variant), valid for one snapshot version:
 * the owner clears it when a new snapshot is published, so a cached answer can never
 * outlive the data or the health state it was computed from. Bounded; the oldest entry
 * goes first (insertion order of Map), which is O(1) and enough against random-name floods.
 */
export class AnswerCache {
  readonly #entries = new Map<string, EncodedResponse>();
  readonly #maxEntries: number;
  #version = -1;
  hits = 0;
  misses = 0;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  /** Drops every entry when `version` differs from the one the entries were made for. */
  useVersion(version: number): void {
    if (version !== this.#version) {
      this.#entries.clear();
      this.#version = version;
    }
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
