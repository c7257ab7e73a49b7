/**
 * The nodes of a zone: a packed base (packed-nodes.ts, built with the zone off the answering
 * thread, one object to the garbage collector) under a persistent delta of the nodes admin
 * writes changed since (node-map.ts, copy-on-write). A write copies the delta's touched
 * shards, never the base; the next full load, or a repack on the load thread once many names
 * were written (control/zone-editor.ts REPACK_AT), packs the written nodes into a new base.
 */
import { compareHashKey, hashKey, type NodeMap, NodeMapBuilder } from './node-map.js';
import { packNodes, PackedNodes, type PackedImage } from './packed-nodes.js';
import { TypeMap } from './type-map.js';
import { drain } from './time-slice.js';
import type { RRset, ZoneNode } from './zone.js';

/** In the delta: a node of the base that a write removed. */
const REMOVED: ZoneNode = Object.freeze({ name: [], rrsets: new TypeMap<RRset>(), isCut: false, children: 0 });

/**
 * Shards of the delta: 65,536 written names before a shard holds more than 16. Empty shards
 * share one Map, so an unwritten zone's delta is 16 arrays of 256 pointers.
 */
const DELTA_SHARDS_FOR = 65_536;

export class ZoneNodes implements ReadonlyMap<string, ZoneNode> {
  readonly base: PackedNodes;
  readonly #delta: NodeMap;
  readonly size: number;

  private constructor(base: PackedNodes, delta: NodeMap, size: number) {
    this.base = base;
    this.#delta = delta;
    this.size = size;
  }

  /** Packs `nodes` into a new base with an empty delta. */
  static pack(nodes: Iterable<readonly [string, ZoneNode]>): ZoneNodes {
    return ZoneNodes.over(packNodes(nodes));
  }

  /** The nodes of a base packed elsewhere (the reload thread). */
  static fromImage(image: PackedImage): ZoneNodes {
    return ZoneNodes.over(new PackedNodes(image));
  }

  private static over(base: PackedNodes): ZoneNodes {
    return new ZoneNodes(base, new NodeMapBuilder(DELTA_SHARDS_FOR).finish(), base.size);
  }

  /** Nodes written since the base was packed (removals included). */
  get deltaSize(): number {
    return this.#delta.size;
  }

  /** The delta: nodes set since the base was packed, and the base's keys removed. */
  deltaEntries(): { set: Array<[string, ZoneNode]>; removed: string[] } {
    const set: Array<[string, ZoneNode]> = [];
    const removed: string[] = [];
    for (const [key, node] of this.#delta) {
      if (node === REMOVED) removed.push(key);
      else set.push([key, node]);
    }
    return { set, removed };
  }

  /**
   * These nodes over `base`, a packing of `packed` (an earlier version of this one, over the
   * same base as this): what was written since `packed` is kept as the new delta. Null when
   * `packed` is not an earlier version of this one. In steps (drainSliced): the writes made
   * while the repack ran (thousands, with a batch among them) held the answering thread
   * 40-50 ms when applied in one go.
   */
  *rebasedSteps(base: PackedNodes, packed: ZoneNodes): Generator<void, ZoneNodes | null> {
    if (base.size !== packed.size) return null;
    const since = yield* this.changesSinceSteps(packed);
    if (since === null) return null;
    return yield* ZoneNodes.over(base).withSteps(since);
  }

  get(key: string): ZoneNode | undefined {
    if (this.#delta.size === 0) return this.base.get(key);
    const hash = hashKey(key);
    const d = this.#delta.get(key, hash);
    if (d !== undefined) return d === REMOVED ? undefined : d;
    return this.base.get(key, hash);
  }

  /** Whether `key` has a node, without decoding it. */
  has(key: string): boolean {
    if (this.#delta.size === 0) return this.base.has(key);
    const hash = hashKey(key);
    const d = this.#delta.get(key, hash);
    if (d !== undefined) return d !== REMOVED;
    return this.base.has(key, hash);
  }

  /** A new version with `changes` applied (a node to set, or null to remove); this one is left as it was. */
  with(changes: ReadonlyMap<string, ZoneNode | null>): ZoneNodes {
    return drain(this.withSteps(changes));
  }

  /** `with`, yielding every few hundred changes so a caller can slice a large batch over the event loop. */
  *withSteps(changes: ReadonlyMap<string, ZoneNode | null>): Generator<void, ZoneNodes> {
    const delta = new Map<string, ZoneNode | null>();
    let size = this.size;
    let n = 0;
    for (const [key, node] of changes) {
      if ((++n & 63) === 0) yield;
      const had = this.has(key);
      if (node === null) {
        if (had) size--;
        // A removed base node is remembered as removed; one that only the delta had just goes.
        delta.set(key, this.base.has(key) ? REMOVED : null);
      } else {
        if (!had) size++;
        delta.set(key, node);
      }
    }
    return new ZoneNodes(this.base, yield* this.#delta.withSteps(delta), size);
  }

  /**
   * What `with` changed since `older`, an earlier version over the same base: the nodes set
   * and, as null, those removed. Null when the bases differ (a full load in between).
   */
  changesSince(older: ZoneNodes): Map<string, ZoneNode | null> | null {
    return drain(this.changesSinceSteps(older));
  }

  *changesSinceSteps(older: ZoneNodes): Generator<void, Map<string, ZoneNode | null> | null> {
    if (older.base !== this.base) return null;
    const changes = yield* this.#delta.changesSinceSteps(older.#delta);
    if (changes === null) return null;
    const out = new Map<string, ZoneNode | null>();
    let n = 0;
    for (const [key, node] of changes) {
      if ((++n & 255) === 0) yield;
      out.set(key, node === null || node === REMOVED ? (this.get(key) ?? null) : node);
    }
    return out;
  }

  /**
   * The entries in (hash, key) order, from the key `from` on (null: from the start). A page
   * costs its own entries, a binary search of the base and the delta's shards in its range
   * of hashes. The order holds across every version of one base (a key removed meanwhile
   * still names its place: its hash); a full reload may change it.
   */
  *entriesFrom(from: string | null): Generator<[string, ZoneNode]> {
    const fromHash = from === null ? 0 : hashKey(from);
    const written = this.#delta.entriesInOrder(fromHash, from);
    let next = written.next();
    for (const [key, node, hash] of this.base.entriesFrom(from, fromHash)) {
      for (; !next.done && compareHashKey(next.value[2], next.value[0], hash, key) < 0; next = written.next()) {
        if (next.value[1] !== REMOVED) yield [next.value[0], next.value[1]];
      }
      // The base's node, unless the delta has the key (then it came, or comes, from there).
      if (!next.done && next.value[0] === key) {
        if (next.value[1] !== REMOVED) yield [key, next.value[1]];
        next = written.next();
      } else yield [key, node];
    }
    for (; !next.done; next = written.next()) if (next.value[1] !== REMOVED) yield [next.value[0], next.value[1]];
  }

  *entries(): MapIterator<[string, ZoneNode]> {
    yield* this.entriesFrom(null);
  }
  *keys(): MapIterator<string> {
    if (this.#delta.size === 0) {
      yield* this.base.keys();
      return;
    }
    for (const [k] of this.entriesFrom(null)) yield k;
  }
  *values(): MapIterator<ZoneNode> {
    for (const [, v] of this.entriesFrom(null)) yield v;
  }
  [Symbol.iterator](): MapIterator<[string, ZoneNode]> {
    return this.entries();
  }
  forEach(fn: (value: ZoneNode, key: string, map: ReadonlyMap<string, ZoneNode>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}
