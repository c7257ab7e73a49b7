/**
 * A cache whose entries hold for one snapshot version only: the first use with another
 * version empties it, so nothing cached can outlive the zones, policies or health it was
 * computed from. The responder calls useVersion with the current snapshot's version before
 * each lookup.
 */
export abstract class PerSnapshotCache {
  #version = -1;

  /** Drops every entry when `version` differs from the one the entries were made for. */
  useVersion(version: number): void {
    if (version !== this.#version) {
      this.clear();
      this.#version = version;
    }
  }

  abstract clear(): void;
}

/**
 * A per-snapshot Map of at most `maxEntries` entries (0 keeps none): when full, the oldest
 * entry goes first (Map insertion order), which is O(1) and enough against floods of new names.
 */
export class BoundedSnapshotMap<K, V> extends PerSnapshotCache {
  protected readonly entries = new Map<K, V>();
  readonly maxEntries: number;

  constructor(maxEntries: number) {
    super();
    this.maxEntries = maxEntries;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  protected remember(key: K, value: V): void {
    if (this.maxEntries <= 0) return;
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, value);
  }
}
