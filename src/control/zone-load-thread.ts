/**
 * Entry of the reload thread (a worker_thread, see zone-load-thread-pool.ts): reads,
 * parses, checks and builds a zone file off the answering thread, and sends the built zone
 * as its packed image (zone/packed-nodes.ts), a shared buffer the main thread uses as it is.
 * Nothing here touches what the main thread serves.
 */
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { Name } from '../dns/name.js';
import type { FileProblem } from '../problems/types.js';
import { loadAndPack } from './zone-load-work.js';
import type { ReadPolicy } from './zone-directory.js';
import { PackedNodes, type PackedImage } from '../zone/packed-nodes.js';
import { ZoneNodes } from '../zone/zone-nodes.js';
import { decodeNodes, type NodeChunk } from '../zone/zone-transfer.js';
import type { ZoneNode } from '../zone/zone.js';
import { lowerThreadPriority } from '../zone/thread-priority.js';
import { readFully } from '../storage/chunked-io.js';

export interface LoadRequest {
  readonly kind: 'load';
  readonly file: string;
  readonly origin: Name;
  /** The packed nodes served now (shared, not copied): the reply says which names differ from them. */
  readonly previous?: PackedImage;
}

/** A zone the load process built and packed (zone-load-process.ts): its image, in `tmp`, read into shared memory here. */
export interface ImportRequest {
  readonly kind: 'import';
  readonly tmp: string;
  readonly bytes: number;
  readonly previous?: PackedImage;
}

/**
 * Above this many differing names a reload does not list them: the answer caches empty
 * instead (control/names-changed.ts has the same limit for writes).
 */
export const MAX_LISTED_CHANGES = 20_000;

/**
 * Packs a zone's nodes anew: its base (shared, not copied) with the delta of written nodes
 * applied, so the answering thread's heap sheds the written nodes (ZoneNodes.rebasedSteps).
 */
export interface RepackRequest {
  readonly kind: 'repack';
  readonly image: PackedImage;
  readonly set: readonly NodeChunk[];
  readonly removed: readonly string[];
}

/** What the thread answers a load or a repack with. */
export type LoadReply =
  | {
      readonly kind: 'zone';
      readonly image: PackedImage;
      readonly recordCount: number;
      readonly digest: string;
      /** The policy file's bytes as this thread read them (or its absence). */
      readonly policyDigest: string;
      /** Those bytes: the answering thread compiles them, not the file as it may be by then. */
      readonly policy: ReadPolicy;
      readonly problems: FileProblem[];
      /** The keys whose nodes differ from the request's `previous`; null without one, or when more than MAX_LISTED_CHANGES do. */
      readonly changed: string[] | null;
    }
  | { readonly kind: 'imported'; readonly image: PackedImage; readonly changed: string[] | null }
  | { readonly kind: 'repacked'; readonly image: PackedImage }
  | { readonly kind: 'failed'; readonly problems: FileProblem[] };

/**
 * This thread 10 nice levels below the answering one: where the server has a single CPU, or
 * is pinned to one, the answering thread would otherwise wait out this thread's time slices,
 * and parsing a 1,000,000-record zone takes seconds of them. Not the lowest (19): on a host
 * busy with other work, a reload at nice 19 gets about 1.5 % of a CPU against each busy
 * process, and takes a minute.
 */
const RELOAD_THREAD_NICENESS = 10;

if ((workerData as { background?: boolean } | null)?.background !== false) lowerThreadPriority(RELOAD_THREAD_NICENESS);

function reply(m: LoadReply): void {
  parentPort!.postMessage(m);
}

function failed(file: string, err: unknown): void {
  reply({ kind: 'failed', problems: [{ file, line: 0, message: `reload failed: ${(err as Error).message}`, severity: 'error' }] });
}

function repack(m: RepackRequest): PackedImage {
  const written = new Map<string, ZoneNode | null>();
  for (const chunk of m.set) decodeNodes(chunk, (key, node) => written.set(key, node));
  for (const key of m.removed) written.set(key, null);
  // The same merge of base and writes the answering thread reads through, packed anew.
  return ZoneNodes.pack(ZoneNodes.fromImage(m.image).with(written)).base.image;
}

parentPort!.on('message', (m: LoadRequest | RepackRequest | ImportRequest) => {
  if (m.kind === 'repack') {
    try {
      reply({ kind: 'repacked', image: repack(m) });
    } catch (err) {
      failed('(repack)', err);
    }
    return;
  }
  if (m.kind !== 'load' && m.kind !== 'import') return;
  try {
    if (m.kind === 'import') {
      const image = readImage(m.tmp, m.bytes);
      return reply({ kind: 'imported', image, changed: changedSince(m.previous, new PackedNodes(image)) });
    }
    const loaded = loadAndPack(m.file, m.origin);
    if (loaded.kind === 'failed') return reply(loaded);
    const { zone, ...rest } = loaded;
    reply({ ...rest, kind: 'zone', image: zone.nodes.base.image, changed: changedSince(m.previous, zone.nodes.base) });
  } catch (err) {
    failed(m.kind === 'import' ? m.tmp : m.file, err);
  }
});

/** Found here, off the answering thread: the caches there then forget only these names. */
function changedSince(previous: PackedImage | undefined, now: PackedNodes): string[] | null {
  return previous === undefined ? null : new PackedNodes(previous).differingKeys(now, MAX_LISTED_CHANGES);
}

/** The image the zone load process wrote (zone-load-process.ts), read into shared memory; the file is removed. */
function readImage(tmp: string, bytes: number): PackedImage {
  try {
    const buffer = new SharedArrayBuffer(bytes);
    const fd = fs.openSync(tmp, 'r');
    try {
      readFully(fd, new Uint8Array(buffer), 0, tmp);
    } finally {
      fs.closeSync(fd);
    }
    return { buffer };
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
