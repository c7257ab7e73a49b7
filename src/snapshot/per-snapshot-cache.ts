/**
 * A cache whose entries hold for one snapshot version only: the first use with another
 * version empties it, so nothing cached can outlive the zones, policies or health it was
 * computed from. The responder calls useVersion with the current snapshot's version (and
 * what changed to reach it) before each lookup.
 *
 * An admin write changes a few names' records; emptying every cache for it would send every
 * query down the full path after each write (issue #14 item 3). So a snapshot says, when it
 * knows, which names changed since the versions before it (`NamesChange`), and a cache that
 * tags its entries drops only those entries, plus the ones that depend on more than their
 * own name (negative answers carry the SOA, whose serial every write moves; CNAME chains,
 * wildcards, additional addresses).
 */

/** Snapshot `version` differs from `version - 1` only in the records of these names (and the SOA serial, no other SOA field): no zone added or dropped, no policy, health or GeoIP change, no zone cut or DNAME touched. */
export interface NamesChange {
  readonly version: number;
  /** Name keys (src/dns/name.ts nameKey) of the nodes set or removed, across zones. */
  readonly names: readonly string[];
}

/** What a cached answer depends on. */
export interface AnswerTags {
  /** The question's name key. */
  readonly name: string;
  /** True when the answer depends on nothing but the records at its own name: a positive answer of the name's own RRsets, no CNAME target, wildcard, SOA or additional address. */
  readonly own: boolean;
  /**
   * True for a negative answer (NXDOMAIN, NODATA: the SOA alone in authority) that depends on
   * nothing but the records at its own name and below it, and on no wildcard: it holds until a
   * change at its name, at a name below it, or at a wildcard. Its SOA serial is written afresh
   * for each query (answer/responder.ts), so the serial every write moves does not outdate it.
   */
  readonly negative: boolean;
}

/** Consecutive changes a snapshot carries: a cache that missed more versions than this empties. */
export const MAX_CHANGES_KEPT = 16;

/**
 * The names changed from version `from` to version `to`, when `changes` (consecutive, ending
 * at `to`) covers every version in between; null when it does not, and everything must go.
 */
export function namesSince(from: number, to: number, changes: readonly NamesChange[]): ReadonlySet<string> | readonly string[] | null {
  if (from < 0 || to <= from || changes.length === 0) return null;
  const first = changes.length - (to - from);
  if (first < 0 || changes[changes.length - 1]!.version !== to || changes[first]!.version !== from + 1) return null;
  // One version on (the common case): its list as it is; a set of 10,000 names cost 5 ms per cache.
  if (first === changes.length - 1) return changes[first]!.names;
  const out = new Set<string>();
  for (let i = first; i < changes.length; i++) for (const n of changes[i]!.names) out.add(n);
  return out;
}

export abstract class PerSnapshotCache {
  #version = -1;

  /** Drops every entry made for another version, unless `changes` says which names changed since: then only what depends on them. */
  useVersion(version: number, changes: readonly NamesChange[] = []): void {
    if (version !== this.#version) {
      const names = namesSince(this.#version, version, changes);
      if (names === null) this.clear();
      else this.forget(names);
      this.#version = version;
    }
  }

  abstract clear(): void;

  /** Drops what depends on these names; a cache that does not tag its entries drops everything. */
  protected forget(_names: Iterable<string>): void {
    this.clear();
  }
}

/**
 * A per-snapshot Map of at most `maxEntries` entries (0 keeps none): when full, the oldest
 * entry goes first (Map insertion order), which is O(1) and enough against floods of new names.
 * With `tagsOf`, entries are indexed by name so a change forgets only what it touches.
 */
export class BoundedSnapshotMap<K, V> extends PerSnapshotCache {
  protected readonly entries = new Map<K, V>();
  readonly maxEntries: number;
  readonly #tagsOf: ((value: V) => AnswerTags) | null;
  /** Keys of the entries that depend on their own name only, by that name: the key itself while there is one (most names), no array to trace. */
  readonly #byName = new Map<string, K | K[]>();
  /**
   * The entries that depend on more than their own name, with the count of forgets when they
   * were made: every forget outdates them all at once (counting, not deleting: a write
   * after a while of queries would otherwise delete thousands of entries in one go), and a
   * lookup that finds an outdated one drops it (`fresh`).
   */
  readonly #broad = new Map<K, number>();
  #forgets = 0;
  /** Keys of the negative entries, by their name (as #byName). */
  readonly #negativeByName = new Map<string, K | K[]>();
  /** The negative entries, with the count of wildcard changes when they were made: a wildcard change outdates them all (as #broad). */
  readonly #negative = new Map<K, number>();
  #wildcardChanges = 0;

  constructor(maxEntries: number, tagsOf: ((value: V) => AnswerTags) | null = null) {
    super();
    this.maxEntries = maxEntries;
    this.#tagsOf = tagsOf;
  }

  clear(): void {
    this.entries.clear();
    this.#byName.clear();
    this.#broad.clear();
    this.#negativeByName.clear();
    this.#negative.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  protected override forget(names: Iterable<string>): void {
    if (this.#tagsOf === null) return this.clear();
    this.#forgets++;
    let count = 0;
    for (const name of names) {
      count++;
      const keys = this.#byName.get(name);
      if (keys === undefined) continue;
      if (Array.isArray(keys)) for (const key of keys) this.entries.delete(key);
      else this.entries.delete(keys);
      this.#byName.delete(name);
    }
    if (this.#negative.size === 0) return;
    // Walking up from every name of a large batch would cost more than answering those again.
    if (count > MAX_NAMES_WALKED) {
      this.#wildcardChanges++;
      return;
    }
    for (const name of names) {
      if (name === '*' || name.startsWith('*.')) this.#wildcardChanges++;
      // The name and each name above it: a name below a negative answer's makes it an empty non-terminal, or no longer one.
      for (let k: string | null = name; k !== null; k = parentKey(k)) {
        const keys = this.#negativeByName.get(k);
        if (keys === undefined) continue;
        for (const key of Array.isArray(keys) ? keys : [keys]) {
          this.entries.delete(key);
          this.#negative.delete(key);
        }
        this.#negativeByName.delete(k);
      }
    }
  }

  /** Whether an entry found under `key` still holds; an outdated one is dropped. */
  protected fresh(key: K, value: V): boolean {
    if (this.#tagsOf === null) return true;
    const tags = this.#tagsOf(value);
    if (tags.own || (tags.negative ? this.#negative.get(key) === this.#wildcardChanges : this.#broad.get(key) === this.#forgets)) return true;
    this.entries.delete(key);
    this.#untag(key, value);
    return false;
  }

  protected remember(key: K, value: V): void {
    if (this.maxEntries <= 0) return;
    const old = this.entries.get(key);
    if (old !== undefined) this.#untag(key, old);
    else if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.entries().next();
      if (!oldest.done) {
        this.entries.delete(oldest.value[0]);
        this.#untag(oldest.value[0], oldest.value[1]);
      }
    }
    this.entries.set(key, value);
    this.#tag(key, value);
  }

  #tag(key: K, value: V): void {
    if (this.#tagsOf === null) return;
    const tags = this.#tagsOf(value);
    if (tags.negative) {
      this.#negative.set(key, this.#wildcardChanges);
      addKey(this.#negativeByName, tags.name, key);
      return;
    }
    if (!tags.own) {
      this.#broad.set(key, this.#forgets);
      return;
    }
    addKey(this.#byName, tags.name, key);
  }

  #untag(key: K, value: V): void {
    if (this.#tagsOf === null) return;
    const tags = this.#tagsOf(value);
    if (tags.negative) {
      this.#negative.delete(key);
      removeKey(this.#negativeByName, tags.name, key);
      return;
    }
    if (!tags.own) {
      this.#broad.delete(key);
      return;
    }
    removeKey(this.#byName, tags.name, key);
  }
}

/** Above this many names in one change, negative entries are all outdated rather than looked for name by name and up. */
const MAX_NAMES_WALKED = 1_000;

/** The key of the name one label up ("" for a top-level name, null for the root); labels escape "." and "\\" (dns/name.ts). */
export function parentKey(key: string): string | null {
  if (key === '') return null;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x2e) return key.slice(i + 1);
  }
  return '';
}

function addKey<K>(byName: Map<string, K | K[]>, name: string, key: K): void {
  const keys = byName.get(name);
  if (keys === undefined) byName.set(name, key);
  else if (Array.isArray(keys)) keys.push(key);
  else byName.set(name, [keys, key]);
}

function removeKey<K>(byName: Map<string, K | K[]>, name: string, key: K): void {
  const keys = byName.get(name);
  if (keys === undefined) return;
  if (!Array.isArray(keys)) {
    if (keys === key) byName.delete(name);
    return;
  }
  const i = keys.indexOf(key);
  if (i >= 0) keys.splice(i, 1);
  if (keys.length === 1) byName.set(name, keys[0]!);
}
