/**
 * Entry of the reload thread (a worker_thread, see control/zone-load-thread-pool.ts): reads,
 * parses, checks and builds a zone file off the answering thread, then sends the built zone
 * in chunks (zone-transfer.ts), one at a time: the next goes when the main thread asks for
 * it ('more'), after it has rebuilt the one before. Posted all at once, they would queue on
 * the main thread's port, and Node handles every queued message in one event, however long
 * that takes: a whole 1,000,000-record zone without a query answered. Nothing here touches
 * what the main thread serves.
 */
import { parentPort } from 'node:worker_threads';
import type { Name } from '../dns/name.js';
import { loadZoneFile } from './zone-directory.js';
import { chunkBuffers, encodeNodes, type NodeChunk } from './zone-transfer.js';

export interface LoadRequest {
  readonly kind: 'load';
  readonly file: string;
  readonly origin: Name;
}

/** The main thread has rebuilt the last chunk sent and wants the next. */
export interface MoreRequest {
  readonly kind: 'more';
}

/** The chunks of the zone being sent, if any, and its file. */
let sending: { readonly file: string; readonly chunks: Iterator<NodeChunk> } | null = null;

function sendNext(): void {
  if (sending === null) return;
  try {
    const next = sending.chunks.next();
    if (!next.done) return parentPort!.postMessage(next.value, chunkBuffers(next.value));
    parentPort!.postMessage({ kind: 'end' });
  } catch (err) {
    failed(sending.file, err);
  }
  sending = null;
}

function failed(file: string, err: unknown): void {
  parentPort!.postMessage({ kind: 'failed', problems: [{ file, line: 0, message: `reload failed: ${(err as Error).message}`, severity: 'error' }] });
}

parentPort!.on('message', (m: LoadRequest | MoreRequest) => {
  if (m.kind === 'more') return sendNext();
  sending = null;
  try {
    const result = loadZoneFile(m.file, m.origin);
    if (result.zone === null) {
      parentPort!.postMessage({ kind: 'failed', problems: result.problems });
      return;
    }
    parentPort!.postMessage({ kind: 'zone', nodeCount: result.zone.nodes.size, recordCount: result.zone.recordCount, problems: result.problems });
    sending = { file: m.file, chunks: encodeNodes(result.zone.nodes) };
  } catch (err) {
    return failed(m.file, err);
  }
  sendNext();
});
