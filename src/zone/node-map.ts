/**
 * The nodes of a zone as a persistent map: the keys are spread over many small shards (native
 * Maps) by a hash, and a change copies only the shards it touches and the shard array, so
 * the next version of a zone shares every other shard with the one before (what Knot's
 * copy-on-write zone tree does with its trie). A change of one name on a 1,000,000-name
 * zone copies one shard of about 16 entries and two arrays of 256 pointers, not the zone.
 */
import type { ZoneNode } from './zone.js';
import { drain } from './time-slice.js';

/** Entries per shard aimed at when a map is built; lookups stay one hash and one Map.get. */
const PER_SHARD = 16;
const MAX_SHARDS = 1 << 16;
const EMPTY: ReadonlyMap<string, ZoneNode> = new Map();

/** FNV-1a over the key's UTF-16 units: cheap, and keys are short. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** (hash, key) order: the order of a zone's record pages (and of a packed zone's order table). */
export function compareHashKey(ah: number, ak: string, bh: number, bk: string): number {
  return ah !== bh ? ah - bh : ak < bk ? -1 : ak > bk ? 1 : 0;
}

/**
 * The shard of a hash among `count` (a power of two): its high bits, so that each shard holds
 * one contiguous range of hashes and the shards in turn walk the keys in hash order.
 */
function shardOf(hash: number, count: number): number {
  return count === 1 ? 0 : hash >>> (32 - Math.log2(count));
}

/** Shards per block of the shard table: a change copies the table of blocks and one block of shard pointers, never the whole table. */
const BLOCK_BITS = 8;
const BLOCK = 1 << BLOCK_BITS;

type Block = ReadonlyArray<ReadonlyMap<string, ZoneNode>>;

export class NodeMap implements ReadonlyMap<string, ZoneNode> {
  /**
   * The shards in blocks of BLOCK: shard i is blocks[i >> BLOCK_BITS][i & (BLOCK - 1)]. Two
   * levels so that one change on a 1,000,000-name zone copies two arrays of 256 pointers
   * (4 KB), not one of 65,536 (512 KB, which a burst of writes turned into old-space garbage
   * and long GC pauses of the answering thread).
   */
  readonly #blocks: ReadonlyArray<Block>;
  readonly #mask: number;
  readonly size: number;

  /** Internal: use NodeMap.from or NodeMapBuilder. */
  constructor(blocks: ReadonlyArray<Block>, shardCount: number, size: number) {
    this.#blocks = blocks;
    this.#mask = shardCount - 1;
    this.size = size;
  }

  /** A map of `entries`, with a shard count fitted to their number. */
  static from(entries: Iterable<readonly [string, ZoneNode]>, expected = 0): NodeMap {
    const builder = new NodeMapBuilder(expected);
    for (const [k, v] of entries) builder.set(k, v);
    return builder.finish();
  }

  #shard(key: string): ReadonlyMap<string, ZoneNode> {
    const i = shardOf(hashKey(key), this.#mask + 1);
    return this.#blocks[i >>> BLOCK_BITS]![i & (BLOCK - 1)]!;
  }

  /** `hash`: hashKey(key), when the caller has it already. */
  get(key: string, hash = hashKey(key)): ZoneNode | undefined {
    const i = shardOf(hash, this.#mask + 1);
    return this.#blocks[i >>> BLOCK_BITS]![i & (BLOCK - 1)]!.get(key);
  }

  has(key: string): boolean {
    return this.#shard(key).has(key);
  }

  /**
   * A new map with `changes` applied (a node to set, or null to delete); this one is left as
   * it was. Costs the touched shards, their blocks and one copy of the block table.
   */
  with(changes: ReadonlyMap<string, ZoneNode | null>): NodeMap {
    const steps = this.withSteps(changes);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  }

  /** `with`, yielding every few changes so a caller can slice a batch of thousands over the event loop (nothing is shared until it returns). */
  *withSteps(changes: ReadonlyMap<string, ZoneNode | null>): Generator<void, NodeMap> {
    const blocks = this.#blocks.slice();
    const copiedBlocks = new Set<number>();
    const copied = new Set<number>();
    let size = this.size;
    let n = 0;
    for (const [key, node] of changes) {
      if ((++n & 255) === 0) yield;
      const i = shardOf(hashKey(key), this.#mask + 1);
      const b = i >>> BLOCK_BITS;
      if (!copiedBlocks.has(b)) {
        blocks[b] = blocks[b]!.slice();
        copiedBlocks.add(b);
      }
      const block = blocks[b] as Array<ReadonlyMap<string, ZoneNode>>;
      let shard = block[i & (BLOCK - 1)] as Map<string, ZoneNode>;
      if (!copied.has(i)) {
        shard = new Map(shard);
        block[i & (BLOCK - 1)] = shard;
        copied.add(i);
      }
      const had = shard.has(key);
      if (node === null) {
        if (had) {
          shard.delete(key);
          size--;
        }
      } else {
        shard.set(key, node);
        if (!had) size++;
      }
    }
    return new NodeMap(blocks, this.#mask + 1, size);
  }

  /**
   * What `with` changed since `older`, found by comparing blocks and shards by identity (those
   * a change did not touch are the same objects): the nodes set and, as null, those removed.
   * Null when the maps do not share a layout (different builds), when nothing cheaper than
   * the whole map tells.
   */
  changesSince(older: NodeMap): Map<string, ZoneNode | null> | null {
    return drain(this.changesSinceSteps(older));
  }

  /** changesSince, yielding every few hundred entries compared (a repack's rebase may follow thousands of writes). */
  *changesSinceSteps(older: NodeMap): Generator<void, Map<string, ZoneNode | null> | null> {
    const mine = this.#blocks;
    const theirs = older.#blocks;
    if (this.#mask !== older.#mask) return null;
    const out = new Map<string, ZoneNode | null>();
    let shared = 0;
    let compared = 0;
    for (let bi = 0; bi < mine.length; bi++) {
      const ba = mine[bi]!;
      const bb = theirs[bi]!;
      if (ba === bb) {
        shared += ba.length;
        continue;
      }
      for (let i = 0; i < ba.length; i++) {
        const a = ba[i]!;
        const b = bb[i]!;
        if (a === b) {
          shared++;
          continue;
        }
        if ((++compared & 63) === 0) yield;
        for (const [k, v] of a) if (b.get(k) !== v) out.set(k, v);
        for (const k of b.keys()) if (!a.has(k)) out.set(k, null);
      }
    }
    // Two separate builds share no shard: the "changes" would be the whole zone.
    return shared === 0 && this.#mask > 0 ? null : out;
  }

  *#shards(from = 0): Generator<ReadonlyMap<string, ZoneNode>> {
    for (let i = from; i <= this.#mask; i++) yield this.#blocks[i >>> BLOCK_BITS]![i & (BLOCK - 1)]!;
  }

  /**
   * The entries in (hash, key) order from the first at or after (`fromHash`, `fromKey`) on
   * (from the start when `fromKey` is null), each with its hash: a page costs the shards it
   * walks, each sorted on its own (a few entries), never a sort of the whole map.
   */
  *entriesInOrder(fromHash: number, fromKey: string | null): Generator<[string, ZoneNode, number]> {
    const count = this.#mask + 1;
    for (let i = fromKey === null ? 0 : shardOf(fromHash, count); i < count; i++) {
      const shard = this.#blocks[i >>> BLOCK_BITS]![i & (BLOCK - 1)]!;
      if (shard.size === 0) continue;
      const items: Array<[string, ZoneNode, number]> = [];
      for (const [k, v] of shard) items.push([k, v, hashKey(k)]);
      items.sort((a, b) => compareHashKey(a[2], a[0], b[2], b[0]));
      for (const item of items) if (fromKey === null || compareHashKey(item[2], item[0], fromHash, fromKey) >= 0) yield item;
    }
  }

  *entries(): MapIterator<[string, ZoneNode]> {
    for (const shard of this.#shards()) yield* shard.entries();
  }
  *keys(): MapIterator<string> {
    for (const shard of this.#shards()) yield* shard.keys();
  }
  *values(): MapIterator<ZoneNode> {
    for (const shard of this.#shards()) yield* shard.values();
  }
  [Symbol.iterator](): MapIterator<[string, ZoneNode]> {
    return this.entries();
  }
  forEach(fn: (value: ZoneNode, key: string, map: ReadonlyMap<string, ZoneNode>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}

/** Fills a NodeMap one entry at a time (a zone load, or nodes arriving from the reload thread). */
export class NodeMapBuilder {
  readonly #shards: Array<Map<string, ZoneNode>>;
  readonly #mask: number;
  #size = 0;

  constructor(expected: number) {
    let count = 1;
    while (count < MAX_SHARDS && count * PER_SHARD < expected) count <<= 1;
    this.#shards = Array.from({ length: count }, () => new Map<string, ZoneNode>());
    this.#mask = count - 1;
  }

  set(key: string, node: ZoneNode): void {
    const shard = this.#shards[shardOf(hashKey(key), this.#mask + 1)]!;
    if (!shard.has(key)) this.#size++;
    shard.set(key, node);
  }

  get(key: string): ZoneNode | undefined {
    return this.#shards[shardOf(hashKey(key), this.#mask + 1)]!.get(key);
  }

  finish(): NodeMap {
    // Shards left empty share one Map, so a sparse zone does not keep thousands of them.
    const shards = this.#shards.map((s) => (s.size === 0 ? EMPTY : s));
    const blocks: Block[] = [];
    for (let i = 0; i < shards.length; i += BLOCK) blocks.push(shards.slice(i, i + BLOCK));
    return new NodeMap(blocks, shards.length, this.#size);
  }
}
