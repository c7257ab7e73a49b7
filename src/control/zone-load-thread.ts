/**
 * Entry of the reload thread (a worker_thread, see zone-load-thread-pool.ts): reads,
 * parses, checks and builds a zone file off the answering thread, and sends the built zone
 * as its packed image (zone/packed-nodes.ts), a shared buffer the main thread uses as it is.
 * Nothing here touches what the main thread serves.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { Name } from '../dns/name.js';
import type { FileProblem } from '../problems/types.js';
import { loadZoneFile, readPolicyBeside, type ReadPolicy } from './zone-directory.js';
import { PackedNodes, type PackedImage } from '../zone/packed-nodes.js';
import { ZoneNodes } from '../zone/zone-nodes.js';
import { decodeNodes, type NodeChunk } from '../zone/zone-transfer.js';
import type { ZoneNode } from '../zone/zone.js';
import { lowerThreadPriority } from '../zone/thread-priority.js';

export interface LoadRequest {
  readonly kind: 'load';
  readonly file: string;
  readonly origin: Name;
  /** The packed nodes served now (shared, not copied): the reply says which names differ from them. */
  readonly previous?: PackedImage;
}

/**
 * Above this many differing names a reload does not list them: the answer caches empty
 * instead (control/names-changed.ts has the same limit for writes).
 */
export const MAX_LISTED_CHANGES = 20_000;

/**
 * Packs a zone's nodes anew: its base (shared, not copied) with the delta of written nodes
 * applied, so the answering thread's heap sheds the written nodes (ZoneNodes.rebased).
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

/**
 * A digest of what the load read: the policy file, then the zone file and each $INCLUDE'd
 * one as the parser read them. The main thread keeps it with the zone it built, and a
 * forced reload (SIGHUP) that reads the same skips sending and rebuilding the zone.
 */
function digestingReader(policy: ReadPolicy): { read: (file: string) => string; digest: (serial: number) => string; policyDigest: string } {
  const hash = createHash('sha256');
  // The bytes this load compiles, here and on the answering thread: a digest of any other
  // read could say "unchanged" of files whose policy was never compiled (an edit undone).
  const text = policy === null ? 'no policy' : 'text' in policy.read ? policy.read.text : `unreadable policy: ${policy.read.problems.map((p) => p.message).join('; ')}`;
  hash.update(text);
  return {
    /** The policy file's alone: a reload that reads the same keeps the steered names compiled before. */
    policyDigest: createHash('sha256').update(text).digest('base64'),
    read: (file) => {
      const text = fs.readFileSync(file, 'utf8');
      hash.update(`${file}\0${text.length}\0`).update(text);
      return text;
    },
    /** `serial`: the zone's, which the journal (read apart from the files) moves with every entry it applied. */
    digest: (serial: number) => hash.update(`\0serial ${serial}`).digest('base64'),
  };
}

function repack(m: RepackRequest): PackedImage {
  const written = new Map<string, ZoneNode | null>();
  for (const chunk of m.set) decodeNodes(chunk, (key, node) => written.set(key, node));
  for (const key of m.removed) written.set(key, null);
  // The same merge of base and writes the answering thread reads through, packed anew.
  return ZoneNodes.pack(ZoneNodes.fromImage(m.image).with(written)).base.image;
}

parentPort!.on('message', (m: LoadRequest | RepackRequest) => {
  if (m.kind === 'repack') {
    try {
      reply({ kind: 'repacked', image: repack(m) });
    } catch (err) {
      failed('(repack)', err);
    }
    return;
  }
  if (m.kind !== 'load') return;
  try {
    const policy = readPolicyBeside(m.file);
    const reader = digestingReader(policy);
    const result = loadZoneFile(m.file, m.origin, reader.read, policy);
    if (result.zone === null) return reply({ kind: 'failed', problems: result.problems });
    const { zone } = result;
    // Found here, off the answering thread: the caches there then forget only these names.
    const changed = m.previous === undefined ? null : new PackedNodes(m.previous).differingKeys(zone.nodes.base, MAX_LISTED_CHANGES);
    reply({
      kind: 'zone',
      image: zone.nodes.base.image,
      recordCount: zone.recordCount,
      digest: reader.digest(zone.serial),
      policyDigest: reader.policyDigest,
      policy,
      problems: result.problems,
      changed,
    });
  } catch (err) {
    failed(m.file, err);
  }
});
