/**
 * A built zone carried from the reload thread to the main thread. Structured clone of the
 * zone's object graph would cost the main thread as much as building it, all in one go; so
 * the thread sends the nodes in small chunks of flat arrays (strings, numbers, and one
 * transferred buffer of RDATA each) and the main thread rebuilds them chunk by chunk, one
 * message event at a time, with queries answered between chunks.
 */
import type { Name } from '../dns/name.js';
import type { FileProblem } from '../problems/types.js';
import { NodeMapBuilder } from './node-map.js';
import { soaFields, TypeMap, type RRset, type Zone, type ZoneNode } from './zone.js';
import { RRType } from '../dns/constants.js';
import type { SteeredName } from '../steer/types.js';
import type { MonitoredTarget } from '../health/types.js';

/** Nodes per message: small enough that decoding one costs the main thread about a millisecond. */
export const NODES_PER_CHUNK = 512;

export interface NodeChunk {
  readonly kind: 'nodes';
  readonly keys: string[];
  /** Each node's name, its labels one after another; `labelCounts[i]` of them for node i. */
  readonly labels: string[];
  readonly labelCounts: number[];
  readonly isCut: boolean[];
  readonly children: number[];
  /** RRsets per node. */
  readonly setCounts: number[];
  /** Per RRset: type, class, ttl, line, index into `files`, number of RDATAs. */
  readonly sets: number[];
  readonly files: string[];
  /** Per RDATA: its length in `rdata`. */
  readonly rdataLengths: number[];
  readonly rdata: ArrayBuffer;
}

export interface ZoneHeader {
  readonly kind: 'zone';
  readonly nodeCount: number;
  readonly recordCount: number;
}

/** Encodes `nodes` into chunks (worker side). */
export function* encodeNodes(nodes: Iterable<readonly [string, ZoneNode]>): Generator<NodeChunk> {
  let c = emptyChunk();
  let parts: Buffer[] = [];
  let bytes = 0;
  const fileIndex = new Map<string, number>();
  const flush = (): NodeChunk => {
    const rdata = new ArrayBuffer(bytes);
    const view = new Uint8Array(rdata);
    let o = 0;
    for (const p of parts) {
      view.set(p, o);
      o += p.length;
    }
    const out = { ...c, rdata };
    c = emptyChunk();
    parts = [];
    bytes = 0;
    fileIndex.clear();
    return out;
  };
  for (const [key, node] of nodes) {
    c.keys.push(key);
    for (const l of node.name) c.labels.push(l);
    c.labelCounts.push(node.name.length);
    c.isCut.push(node.isCut);
    c.children.push(node.children);
    c.setCounts.push(node.rrsets.size);
    for (const set of node.rrsets.values()) {
      let f = fileIndex.get(set.source.file);
      if (f === undefined) {
        f = c.files.length;
        c.files.push(set.source.file);
        fileIndex.set(set.source.file, f);
      }
      c.sets.push(set.type, set.class, set.ttl, set.source.line, f, set.rdatas.length);
      for (const r of set.rdatas) {
        c.rdataLengths.push(r.length);
        parts.push(r);
        bytes += r.length;
      }
    }
    if (c.keys.length >= NODES_PER_CHUNK) yield flush();
  }
  if (c.keys.length > 0) yield flush();
}

function emptyChunk(): Omit<NodeChunk, 'rdata'> & { rdata: null } {
  return { kind: 'nodes', keys: [], labels: [], labelCounts: [], isCut: [], children: [], setCounts: [], sets: [], files: [], rdataLengths: [], rdata: null };
}

/** The nodes of a chunk, each handed to `take`. */
export function decodeNodes(c: NodeChunk, take: (key: string, node: ZoneNode) => void): void {
  const rdata = Buffer.from(c.rdata);
  let label = 0;
  let set = 0;
  let r = 0;
  let offset = 0;
  for (let i = 0; i < c.keys.length; i++) {
    const name: Name = c.labels.slice(label, label + c.labelCounts[i]!);
    label += c.labelCounts[i]!;
    const rrsets = new TypeMap<RRset>();
    for (let s = 0; s < c.setCounts[i]!; s++, set += 6) {
      const n = c.sets[set + 5]!;
      const rdatas: Buffer[] = new Array(n);
      for (let j = 0; j < n; j++, r++) {
        rdatas[j] = rdata.subarray(offset, offset + c.rdataLengths[r]!);
        offset += c.rdataLengths[r]!;
      }
      const type = c.sets[set]!;
      rrsets.set(type, { owner: name, type, class: c.sets[set + 1]!, ttl: c.sets[set + 2]!, rdatas, source: { file: c.files[c.sets[set + 4]!]!, line: c.sets[set + 3]! } });
    }
    take(c.keys[i]!, { name, rrsets, isCut: c.isCut[i]!, children: c.children[i]! });
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
  return { ...zone, nodes, soa, serial, negativeTtl: Math.min(soa.ttl, minimum), recordCount: delta.recordCount };
}

/** Rebuilds a zone from chunks as they arrive (main thread). */
export class ZoneAssembler {
  readonly #builder: NodeMapBuilder;
  readonly #header: ZoneHeader;

  constructor(header: ZoneHeader) {
    this.#header = header;
    this.#builder = new NodeMapBuilder(header.nodeCount);
  }

  add(c: NodeChunk): void {
    decodeNodes(c, (key, node) => this.#builder.set(key, node));
  }

  /** The zone, with the policy's steered names and probes compiled on this thread (they hold functions). */
  finish(origin: Name, originKey: string, file: string, steered: readonly SteeredName[], monitored: readonly MonitoredTarget[]): { zone: Zone | null; problems: FileProblem[] } {
    const nodes = this.#builder.finish();
    const soa = nodes.get(originKey)?.rrsets.get(RRType.SOA);
    if (!soa) return { zone: null, problems: [{ file, line: 0, message: 'the reload thread sent a zone without its SOA', severity: 'error' }] };
    const { serial, minimum } = soaFields(soa.rdatas[0]!);
    const zone: Zone = { origin, originKey, file, nodes, soa, serial, negativeTtl: Math.min(soa.ttl, minimum), recordCount: this.#header.recordCount, steered: new Map(steered.map((s) => [s.key, s])), monitored };
    return { zone, problems: [] };
  }
}
