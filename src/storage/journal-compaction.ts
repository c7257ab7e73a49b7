/**
 * Runs one journal compaction on its own worker_thread (compact-thread.ts), so rewriting the
 * zone file of a large zone never holds the answering thread. One thread per compaction: they
 * are rare (debounced), and a thread that dies fails that compaction only.
 */
import { Worker } from 'node:worker_threads';
import type { CompactReply, CompactRequest } from './compact-thread.js';

/** `keepAlive`: the compaction of a clean shutdown, which the process waits for. */
export function compactOffThread(request: CompactRequest, keepAlive = false): Promise<CompactReply> {
  return new Promise((resolve) => {
    const worker = new Worker(new URL('./compact-thread.js', import.meta.url));
    // A compaction in progress must not keep a stopping server alive: the journal stays valid.
    if (!keepAlive) worker.unref();
    let settled = false;
    const done = (r: CompactReply): void => {
      if (settled) return;
      settled = true;
      resolve(r);
      void worker.terminate();
    };
    worker.on('message', (m: CompactReply) => done(m));
    worker.on('error', (err: Error) => done({ ok: false, message: err.message }));
    worker.on('exit', (code) => done({ ok: false, message: `the compaction thread exited (${code})` }));
    worker.postMessage({ ...request, origin: [...request.origin] });
  });
}
