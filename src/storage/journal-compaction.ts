/**
 * Runs journal compactions in a child process (compact-process.ts), so rewriting the zone
 * file of a large zone never holds the answering thread, nor competes with it for a CPU they
 * share: the child runs at nice 19, its collector's threads too, which a worker_thread's
 * cannot (they are the server's).
 *
 * One long-lived child, started before the zones load (startCompactor), runs the compactions
 * one at a time. Not one per compaction: forking copies the parent's page tables, and a
 * server holding a 1,000,000-record zone spent 20-27 ms of its answering thread in fork(),
 * a stall of every query 5 s after each burst of writes. A child that dies fails its own
 * compaction only; the next one starts a new child.
 */
import { fileURLToPath } from 'node:url';
import type { CompactReply, CompactRequest } from './compact-process.js';
import { BackgroundProcess } from './background-process.js';

const ENTRY = fileURLToPath(new URL('./compact-process.js', import.meta.url));

const compactor = new BackgroundProcess<CompactRequest, CompactReply>('compaction', ENTRY, ['--expose-gc'], (message) => ({ ok: false, message }));

/** Starts the compaction process now, while this process is small (see above). */
export function startCompactor(): void {
  compactor.start();
}

/** Compacts one zone file's journal in the compaction process. `keepAlive`: the compaction of a clean shutdown, which the process waits for. */
export function compactOffThread(request: CompactRequest, keepAlive = false): Promise<CompactReply> {
  return compactor.run({ ...request, origin: [...request.origin] }, keepAlive);
}

/** The compaction process's pid, if one runs (tests). */
export function compactorPid(): number | undefined {
  return compactor.pid;
}
