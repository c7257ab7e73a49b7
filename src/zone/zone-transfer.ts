/**
 * Zones between threads and processes. A full zone built on the reload thread crosses as its
 * packed image (packed-nodes.ts: one shared buffer, nothing to copy or rebuild). The nodes
 * an admin write changed cross to the DNS worker processes as chunks of flat arrays (a few
 * strings, typed arrays and one buffer of RDATA).
 */
import type { Name } from '../dns/name.js';
import type { FileProblem } from '../problems/types.js';
import type { PackedImage } from './packed-nodes.js';
import { ZoneNodes } from './zone-nodes.js';
import { TypeMap } from './type-map.js';
import { NO_HISTORY, soaFields, writtenOver, type RRset, type Zone, type ZoneNode } from './zone.js';
import { RRType } from '../dns/constants.js';
import type { SteeredName } from '../steer/types.js';
import type { MonitoredTarget } from '../health/types.js';

/** Nodes per chunk of a delta. */
export const NODES_PER_CHUNK = 256;

/**
 * Flat arrays, typed where they can be: a typed array is copied (or, to a worker_thread,
 * transferred) whole, where a JS array is cloned element by element. Labels go as a table
 * of the chunk's distinct labels and indexes into it, so every node of a chunk shares the
 * strings of the labels they have in common (the origin's, at least): fewer objects for
 * the main thread to allocate and for its GC to trace.
 */
export interface NodeChunk {
  readonly kind: 'nodes';
  readonly keys: string[];
  /** The distinct labels of the chunk's names. */
  readonly labelTable: string[];
  /** Each node's name as indexes into `labelTable`, one name after another; `labelCounts[i]` of them for node i. */
  readonly labels: Uint32Array;
  readonly labelCounts: Uint8Array;
  readonly isCut: Uint8Array;
  readonly children: Uint32Array;
  /** RRsets per node. */
  readonly setCounts: Uint32Array;
  /** Per RRset: type, class, ttl, line, index into `files`, number of RDATAs. */
  readonly sets: Uint32Array;
  readonly files: string[];
  /** Per RDATA: its length in `rdata`. */
  readonly rdataLengths: Uint16Array;
  readonly rdata: ArrayBuffer;
}

/** The buffers of a chunk, for postMessage's transfer list. */
export function chunkBuffers(c: NodeChunk): ArrayBuffer[] {
  return [c.labels.buffer, c.labelCounts.buffer, c.isCut.buffer, c.children.buffer, c.setCounts.buffer, c.sets.buffer, c.rdataLengths.buffer, c.rdata] as ArrayBuffer[];
}

/** Encodes `nodes` into chunks (worker side). */
export function* encodeNodes(nodes: Iterable<readonly [string, ZoneNode]>): Generator<NodeChunk> {
  let batch: Array<readonly [string, ZoneNode]> = [];
  for (const entry of nodes) {
    batch.push(entry);
    if (batch.length >= NODES_PER_CHUNK) {
      yield encodeChunk(batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield encodeChunk(batch);
}

function encodeChunk(batch: ReadonlyArray<readonly [string, ZoneNode]>): NodeChunk {
  let labelCount = 0;
  let setCount = 0;
  let rdataCount = 0;
  let bytes = 0;
  for (const [, node] of batch) {
    labelCount += node.name.length;
    for (const set of node.rrsets.values()) {
      setCount++;
      rdataCount += set.rdatas.length;
      for (const r of set.rdatas) bytes += r.length;
    }
  }
  const keys: string[] = [];
  const labelTable: string[] = [];
  const labelIndex = new Map<string, number>();
  const labels = new Uint32Array(labelCount);
  const labelCounts = new Uint8Array(batch.length);
  const isCut = new Uint8Array(batch.length);
  const children = new Uint32Array(batch.length);
  const setCounts = new Uint32Array(batch.length);
  const sets = new Uint32Array(setCount * 6);
  const files: string[] = [];
  const fileIndex = new Map<string, number>();
  const rdataLengths = new Uint16Array(rdataCount);
  const rdata = new Uint8Array(bytes);
  let l = 0;
  let s = 0;
  let r = 0;
  let o = 0;
  batch.forEach(([key, node], i) => {
    keys.push(key);
    for (const label of node.name) {
      let at = labelIndex.get(label);
      if (at === undefined) {
        at = labelTable.push(label) - 1;
        labelIndex.set(label, at);
      }
      labels[l++] = at;
    }
    labelCounts[i] = node.name.length;
    isCut[i] = node.isCut ? 1 : 0;
    children[i] = node.children;
    setCounts[i] = node.rrsets.size;
    for (const set of node.rrsets.values()) {
      let f = fileIndex.get(set.source.file);
      if (f === undefined) {
        f = files.push(set.source.file) - 1;
        fileIndex.set(set.source.file, f);
      }
      sets[s++] = set.type;
      sets[s++] = set.class;
      sets[s++] = set.ttl;
      sets[s++] = set.source.line;
      sets[s++] = f;
      sets[s++] = set.rdatas.length;
      for (const d of set.rdatas) {
        rdataLengths[r++] = d.length;
        rdata.set(d, o);
        o += d.length;
      }
    }
  });
  return { kind: 'nodes', keys, labelTable, labels, labelCounts, isCut, children, setCounts, sets, files, rdataLengths, rdata: rdata.buffer };
}

/** The nodes of a chunk, each handed to `take`. */
export function decodeNodes(c: NodeChunk, take: (key: string, node: ZoneNode) => void): void {
  const rdata = Buffer.from(c.rdata);
  let label = 0;
  let set = 0;
  let r = 0;
  let offset = 0;
  for (let i = 0; i < c.keys.length; i++) {
    const count = c.labelCounts[i]!;
    const name = new Array<string>(count);
    for (let j = 0; j < count; j++) name[j] = c.labelTable[c.labels[label + j]!]!;
    label += count;
    const rrsets = new TypeMap<RRset>();
    for (let s = 0; s < c.setCounts[i]!; s++, set += 6) {
      const n = c.sets[set + 5]!;
      const rdatas = new Array<Buffer>(n);
      for (let j = 0; j < n; j++, r++) {
        rdatas[j] = rdata.subarray(offset, offset + c.rdataLengths[r]!);
        offset += c.rdataLengths[r]!;
      }
      const type = c.sets[set]!;
      rrsets.set(type, { owner: name, type, class: c.sets[set + 1]!, ttl: c.sets[set + 2]!, rdatas, source: { file: c.files[c.sets[set + 4]!]!, line: c.sets[set + 3]! } });
    }
    take(c.keys[i]!, { name, rrsets, isCut: c.isCut[i] === 1, children: c.children[i]! });
  }
}

/**
 * The nodes an incremental write changed in a zone, for the DNS worker processes, which
 * apply them to the version they serve (`fromSerial`) instead of re-reading the file.
 */
export interface ZoneDelta {
  readonly origin: string;
  readonly fromSerial: number;
  readonly recordCount: number;
  readonly set: readonly NodeChunk[];
  readonly removed: readonly string[];
}

/** The delta from `older` to `newer`, two versions of one zone; null when only a full load can tell. */
export function zoneDelta(older: Zone, newer: Zone): ZoneDelta | null {
  if (older.steered !== newer.steered || older.monitored !== newer.monitored) return null;
  const changes = newer.nodes.changesSince(older.nodes);
  if (changes === null) return null;
  const set: Array<[string, ZoneNode]> = [];
  const removed: string[] = [];
  for (const [k, v] of changes) {
    if (v === null) removed.push(k);
    else set.push([k, v]);
  }
  return { origin: newer.originKey, fromSerial: older.serial, recordCount: newer.recordCount, set: [...encodeNodes(set)], removed };
}

/** `zone` with `delta` applied; null when `zone` is not the version the delta was made from. */
export function applyZoneDelta(zone: Zone, delta: ZoneDelta): Zone | null {
  if (zone.serial !== delta.fromSerial) return null;
  const changes = new Map<string, ZoneNode | null>();
  for (const chunk of delta.set) decodeNodes(chunk, (k, node) => changes.set(k, node));
  for (const k of delta.removed) changes.set(k, null);
  const nodes = zone.nodes.with(changes);
  const soa = nodes.get(zone.originKey)?.rrsets.get(RRType.SOA);
  if (!soa) return null;
  const { serial, minimum } = soaFields(soa.rdatas[0]!);
  return { ...zone, nodes, soa, serial, negativeTtl: Math.min(soa.ttl, minimum), recordCount: delta.recordCount, writtenOver: writtenOver(zone.nodes, changes) };
}

/**
 * A zone built on the reload thread, from its packed nodes (shared, not copied) and the
 * policy's steered names and probes, compiled on this thread (they hold functions).
 */
export function zoneFromImage(
  image: PackedImage,
  recordCount: number,
  origin: Name,
  originKey: string,
  file: string,
  steered: readonly SteeredName[],
  monitored: readonly MonitoredTarget[],
): { zone: Zone | null; problems: FileProblem[] } {
  const nodes = ZoneNodes.fromImage(image);
  const soa = nodes.get(originKey)?.rrsets.get(RRType.SOA);
  if (!soa) return { zone: null, problems: [{ file, line: 0, message: 'the reload thread sent a zone without its SOA', severity: 'error' }] };
  const { serial, minimum } = soaFields(soa.rdatas[0]!);
  const zone: Zone = { origin, originKey, file, nodes, soa, serial, negativeTtl: Math.min(soa.ttl, minimum), recordCount, steered: new Map(steered.map((s) => [s.key, s])), monitored, ...NO_HISTORY };
  return { zone, problems: [] };
}
