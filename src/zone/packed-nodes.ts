/**
 * A zone's nodes packed into one SharedArrayBuffer, the way Knot keeps a zone in flat
 * memory rather than as objects: names, RRsets and RDATA in records, an open-addressing
 * table of their offsets by key hash, and the records in (hash, key) order for paging.
 *
 * Why: as JS objects a 1,000,000-record zone is about 5 million of them (550 MB of heap),
 * and the answering thread's garbage collector traced them all on every major collection,
 * for hundreds of milliseconds of held queries after each admin write or reload. One
 * buffer is a single object to the collector, whatever its size; it is built off the
 * answering thread (the reload thread) and shared with it without a copy.
 *
 * A lookup decodes the node it finds into the usual ZoneNode (short-lived objects the young
 * generation collects cheaply); the nodes looked up most stay decoded in a small cache.
 *
 * Layout (little-endian):
 *   header  u32 magic, u32 nodes, u32 slots, u32 slotsAt, u32 orderAt, u32 filesAt, u32 recordsAt
 *   slots   u32[slots]: offset of a record, 0 for an empty slot (linear probing)
 *   order   u32[nodes]: offsets of the records in (hash, key) order
 *   files   u32 count, then per file u32 length and UTF-8 bytes
 *   record  u32 hash, u16 key length, key (latin1), u8 labels, per label u8 length and bytes,
 *           u8 flags (1: zone cut), u32 children, u32 RRsets, per RRset
 *           u16 type, u16 class, u32 ttl, u32 line, u32 file, u32 RDATAs, per RDATA u16 length and bytes
 */
import type { RRset, ZoneNode } from './zone.js';
import { TypeMap } from './type-map.js';
import { compareHashKey, hashKey } from './node-map.js';

const MAGIC = 0x314e5a4d; // "MZN1"
const HEADER = 28;
/** Decoded nodes kept per packed zone: the apex and the hot names of the query mix. */
const DECODED_CACHE = 4096;

/** A packed zone's buffer and what it holds, as sent between threads. */
export interface PackedImage {
  readonly buffer: SharedArrayBuffer;
}

interface Entry {
  readonly key: string;
  readonly node: ZoneNode;
  readonly hash: number;
}

function recordSize(e: Entry): number {
  let n = 4 + 2 + e.key.length + 1 + 1 + 4 + 4;
  for (const label of e.node.name) n += 1 + label.length;
  for (const set of e.node.rrsets.values()) {
    n += 2 + 2 + 4 + 4 + 4 + 4;
    for (const r of set.rdatas) n += 2 + r.length;
  }
  return n;
}

/** Packs `nodes` (keys by nameKey) into one buffer. */
export function packNodes(nodes: Iterable<readonly [string, ZoneNode]>): PackedNodes {
  const entries: Entry[] = [];
  const files = new Map<string, number>();
  let recordBytes = 0;
  for (const [key, node] of nodes) {
    const e = { key, node, hash: hashKey(key) };
    entries.push(e);
    recordBytes += recordSize(e);
    for (const set of node.rrsets.values()) if (!files.has(set.source.file)) files.set(set.source.file, files.size);
  }
  // Records are written in the order the nodes came (the order they sit in memory, which a
  // walk in hash order would visit at random: seconds of cache misses on a large zone); the
  // order table alone is sorted, by the hashes in a typed array.
  const hashes = new Uint32Array(entries.length);
  for (let i = 0; i < entries.length; i++) hashes[i] = entries[i]!.hash;
  const byHash = new Uint32Array(entries.length);
  for (let i = 0; i < byHash.length; i++) byHash[i] = i;
  byHash.sort((a, b) => hashes[a]! - hashes[b]! || (entries[a]!.key < entries[b]!.key ? -1 : 1));

  let slotCount = 1;
  while (slotCount < entries.length * 2) slotCount <<= 1;
  const fileBytes = [...files.keys()].map((f) => Buffer.from(f, 'utf8'));
  const slotsAt = HEADER;
  const orderAt = slotsAt + slotCount * 4;
  const filesAt = orderAt + entries.length * 4;
  const recordsAt = filesAt + 4 + fileBytes.reduce((n, b) => n + 4 + b.length, 0);
  // Offsets are 32-bit: about 40 million records. Beyond, the zone fails to load, with this reason.
  if (recordsAt + recordBytes > 0xffff_ffff) throw new Error(`the zone is too large to serve: ${recordsAt + recordBytes} bytes packed, at most 4 GiB`);
  const sab = new SharedArrayBuffer(recordsAt + recordBytes);
  // Byte by byte through a DataView and charCodeAt: Buffer's write methods check their
  // arguments and cross into C++ per call, which made packing the slowest step of a reload.
  const u8 = new Uint8Array(sab);
  const dv = new DataView(sab);
  const latin1 = (text: string, at: number): number => {
    for (let i = 0; i < text.length; i++) u8[at + i] = text.charCodeAt(i);
    return at + text.length;
  };
  const slots = new Uint32Array(sab, slotsAt, slotCount);
  const order = new Uint32Array(sab, orderAt, entries.length);
  const header = [MAGIC, entries.length, slotCount, slotsAt, orderAt, filesAt, recordsAt];
  header.forEach((v, i) => dv.setUint32(i * 4, v, true));
  let o = filesAt;
  dv.setUint32(o, fileBytes.length, true);
  o += 4;
  for (const b of fileBytes) {
    dv.setUint32(o, b.length, true);
    u8.set(b, o + 4);
    o += 4 + b.length;
  }
  const mask = slotCount - 1;
  const offsets = new Uint32Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const { key, node, hash } = entries[i]!;
    offsets[i] = o;
    let slot = hash & mask;
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = o;
    dv.setUint32(o, hash, true);
    dv.setUint16(o + 4, key.length, true);
    o = latin1(key, o + 6);
    u8[o++] = node.name.length;
    for (const label of node.name) {
      u8[o++] = label.length;
      o = latin1(label, o);
    }
    u8[o] = node.isCut ? 1 : 0;
    dv.setUint32(o + 1, node.children, true);
    dv.setUint32(o + 5, node.rrsets.size, true);
    o += 9;
    for (const set of node.rrsets.values()) {
      dv.setUint16(o, set.type, true);
      dv.setUint16(o + 2, set.class, true);
      dv.setUint32(o + 4, set.ttl, true);
      dv.setUint32(o + 8, set.source.line, true);
      dv.setUint32(o + 12, files.get(set.source.file)!, true);
      dv.setUint32(o + 16, set.rdatas.length, true);
      o += 20;
      for (const r of set.rdatas) {
        dv.setUint16(o, r.length, true);
        o += 2;
        if (r.length > 32) u8.set(r, o);
        else for (let b = 0; b < r.length; b++) u8[o + b] = r[b]!;
        o += r.length;
      }
    }
  }
  for (let i = 0; i < byHash.length; i++) order[i] = offsets[byHash[i]!]!;
  return new PackedNodes({ buffer: sab });
}

/** #decode's scratch array (one thread decodes at a time). */
const scratch: Array<string | Buffer> = [];

/** The read side: lookups by key, iteration in (hash, key) order. Immutable. */
export class PackedNodes {
  readonly image: PackedImage;
  readonly size: number;
  readonly #buf: Buffer;
  readonly #slots: Uint32Array;
  readonly #order: Uint32Array;
  readonly #mask: number;
  readonly #files: readonly string[];
  #decoded = new Map<string, ZoneNode>();

  constructor(image: PackedImage) {
    const buf = Buffer.from(image.buffer);
    if (buf.length < HEADER || buf.readUInt32LE(0) !== MAGIC) throw new Error('not a packed zone image');
    this.image = image;
    this.#buf = buf;
    this.size = buf.readUInt32LE(4);
    const slotCount = buf.readUInt32LE(8);
    this.#mask = slotCount - 1;
    this.#slots = new Uint32Array(image.buffer, buf.readUInt32LE(12), slotCount);
    this.#order = new Uint32Array(image.buffer, buf.readUInt32LE(16), this.size);
    let o = buf.readUInt32LE(20);
    const count = buf.readUInt32LE(o);
    o += 4;
    const files: string[] = [];
    for (let i = 0; i < count; i++) {
      const n = buf.readUInt32LE(o);
      files.push(buf.toString('utf8', o + 4, o + 4 + n));
      o += 4 + n;
    }
    this.#files = files;
  }

  /** The offset of `key`'s record, or 0. */
  #find(key: string, hash: number): number {
    const buf = this.#buf;
    const slots = this.#slots;
    for (let slot = hash & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const at = slots[slot]!;
      if (at === 0) return 0;
      if (buf.readUInt32LE(at) !== hash || buf.readUInt16LE(at + 4) !== key.length) continue;
      let i = 0;
      const k = at + 6;
      while (i < key.length && buf[k + i] === key.charCodeAt(i)) i++;
      if (i === key.length) return at;
    }
  }

  has(key: string, hash = hashKey(key)): boolean {
    return this.#find(key, hash) !== 0;
  }

  get(key: string, hash = hashKey(key)): ZoneNode | undefined {
    const hit = this.#decoded.get(key);
    if (hit !== undefined) return hit;
    const at = this.#find(key, hash);
    if (at === 0) return undefined;
    const node = this.#decode(at + 6 + key.length);
    if (this.#decoded.size >= DECODED_CACHE) this.#decoded = new Map();
    this.#decoded.set(key, node);
    return node;
  }

  #keyAt(at: number): string {
    return this.#buf.toString('latin1', at + 6, at + 6 + this.#buf.readUInt16LE(at + 4));
  }

  /** The node whose record's name starts at `o` (just past its key). */
  #decode(o: number): ZoneNode {
    const buf = this.#buf;
    const labels = buf[o++]!;
    // Packed arrays of their exact length, as the parser (parseName) and the write path make
    // theirs: a preallocated one (new Array(n)) is "holey" to V8, and the answer path,
    // optimized for one kind, was deoptimized by the other kind at the first admin write. A
    // scratch array grown by push, then sliced: one grown array would keep room for 17.
    scratch.length = 0;
    for (let i = 0; i < labels; i++) {
      const n = buf[o++]!;
      scratch.push(buf.toString('latin1', o, o + n));
      o += n;
    }
    const name = scratch.slice() as string[];
    scratch.length = 0;
    const isCut = buf[o++] === 1;
    const children = buf.readUInt32LE(o);
    const setCount = buf.readUInt32LE(o + 4);
    o += 8;
    const rrsets = new TypeMap<RRset>();
    for (let s = 0; s < setCount; s++) {
      const type = buf.readUInt16LE(o);
      const cls = buf.readUInt16LE(o + 2);
      const ttl = buf.readUInt32LE(o + 4);
      const line = buf.readUInt32LE(o + 8);
      const file = this.#files[buf.readUInt32LE(o + 12)]!;
      const count = buf.readUInt32LE(o + 16);
      o += 20;
      scratch.length = 0;
      for (let r = 0; r < count; r++) {
        const n = buf.readUInt16LE(o);
        scratch.push(buf.subarray(o + 2, o + 2 + n));
        o += 2 + n;
      }
      const rdatas = scratch.slice() as Buffer[];
      // Not kept here: a buffer of the image would keep the whole image alive after a reload.
      scratch.length = 0;
      rrsets.set(type, { owner: name, type, class: cls, ttl, rdatas, source: { file, line } });
    }
    return { name, rrsets, isCut, children };
  }

  /** The entries in (hash, key) order from the first at or after (`hash`, `key`) on; from the start when `key` is null. */
  *entriesFrom(key: string | null, hash = key === null ? 0 : hashKey(key)): Generator<[string, ZoneNode, number]> {
    const order = this.#order;
    let lo = 0;
    if (key !== null) {
      let hi = order.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const at = order[mid]!;
        if (compareHashKey(this.#buf.readUInt32LE(at), this.#keyAt(at), hash, key) < 0) lo = mid + 1;
        else hi = mid;
      }
    }
    for (let i = lo; i < order.length; i++) {
      const at = order[i]!;
      const k = this.#keyAt(at);
      yield [k, this.#decode(at + 6 + k.length), this.#buf.readUInt32LE(at)];
    }
  }

  /**
   * The keys whose nodes differ between this zone and `other` (set in one only, or with other
   * content), in (hash, key) order; null when more than `max` do. Where a record came from in
   * the files (line, file) is not content: a line inserted above moves every line below it.
   */
  differingKeys(other: PackedNodes, max: number): string[] | null {
    const a = this.#buf;
    const b = other.#buf;
    const ao = this.#order;
    const bo = other.#order;
    const out: string[] = [];
    let i = 0;
    let j = 0;
    while (i < ao.length || j < bo.length) {
      let c: number;
      if (i >= ao.length) c = 1;
      else if (j >= bo.length) c = -1;
      else c = compareRecordKeys(a, ao[i]!, b, bo[j]!);
      if (c < 0) out.push(this.#keyAt(ao[i++]!));
      else if (c > 0) out.push(other.#keyAt(bo[j++]!));
      else {
        if (!sameContent(a, ao[i]!, b, bo[j]!)) out.push(this.#keyAt(ao[i]!));
        i++;
        j++;
      }
      if (out.length > max) return null;
    }
    return out;
  }

  *keys(): Generator<string> {
    for (let i = 0; i < this.#order.length; i++) yield this.#keyAt(this.#order[i]!);
  }
}

/** Two records' (hash, key) in the order table's order (compareHashKey), without making strings. */
function compareRecordKeys(a: Buffer, at: number, b: Buffer, bt: number): number {
  const ha = a.readUInt32LE(at);
  const hb = b.readUInt32LE(bt);
  if (ha !== hb) return ha < hb ? -1 : 1;
  const la = a.readUInt16LE(at + 4);
  const lb = b.readUInt16LE(bt + 4);
  for (let k = 0; k < la && k < lb; k++) {
    const x = a[at + 6 + k]!;
    const y = b[bt + 6 + k]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return la - lb;
}

/** Whether two records with the same key hold the same node: labels, flags, children, RRsets and RDATA, in order (not their lines). */
function sameContent(a: Buffer, at: number, b: Buffer, bt: number): boolean {
  let o = at + 6 + a.readUInt16LE(at + 4);
  let p = bt + 6 + b.readUInt16LE(bt + 4);
  // Labels, flags, children and the RRset count.
  const ha = headLength(a, o);
  if (ha !== headLength(b, p) || a.compare(b, p, p + ha, o, o + ha) !== 0) return false;
  const sets = a.readUInt32LE(o + ha - 4);
  o += ha;
  p += ha;
  for (let s = 0; s < sets; s++) {
    // type, class and ttl (8 octets), then line and file (not compared), then the RDATA count.
    const count = a.readUInt32LE(o + 16);
    if (a.compare(b, p, p + 8, o, o + 8) !== 0 || count !== b.readUInt32LE(p + 16)) return false;
    const la = rdataLength(a, o + 20, count);
    if (la !== rdataLength(b, p + 20, count) || a.compare(b, p + 20, p + 20 + la, o + 20, o + 20 + la) !== 0) return false;
    o += 20 + la;
    p += 20 + la;
  }
  return true;
}

function headLength(buf: Buffer, o: number): number {
  let end = o + 1;
  for (let l = buf[o]!; l > 0; l--) end += 1 + buf[end]!;
  return end + 9 - o;
}

function rdataLength(buf: Buffer, o: number, count: number): number {
  let end = o;
  for (let r = 0; r < count; r++) end += 2 + buf.readUInt16LE(end);
  return end - o;
}
