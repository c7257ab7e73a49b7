/**
 * Entry of the reload thread (a worker_thread, see control/zone-load-thread-pool.ts): reads,
 * parses, checks and builds a zone file off the answering thread, then sends the built zone
 * in chunks (zone-transfer.ts). Nothing here touches what the main thread serves.
 */
import { parentPort } from 'node:worker_threads';
import type { Name } from '../dns/name.js';
import { loadZoneFile } from './zone-directory.js';
import { encodeNodes } from './zone-transfer.js';

export interface LoadRequest {
  readonly file: string;
  readonly origin: Name;
}

parentPort!.on('message', (m: LoadRequest) => {
  try {
    const result = loadZoneFile(m.file, m.origin);
    if (result.zone === null) {
      parentPort!.postMessage({ kind: 'failed', problems: result.problems });
      return;
    }
    parentPort!.postMessage({ kind: 'zone', nodeCount: result.zone.nodes.size, recordCount: result.zone.recordCount, problems: result.problems });
    for (const chunk of encodeNodes(result.zone.nodes)) parentPort!.postMessage(chunk, [chunk.rdata]);
    parentPort!.postMessage({ kind: 'end' });
  } catch (err) {
    parentPort!.postMessage({ kind: 'failed', problems: [{ file: m.file, line: 0, message: `reload failed: ${(err as Error).message}`, severity: 'error' }] });
  }
});
