/**
 * Runs journal compactions in a child process (compact-process.ts), so rewriting the zone
 * file of a large zone never holds the answering thread, nor competes with it for a CPU they
 * share: the child runs in SCHED_IDLE, its collector's threads too, which a worker_thread's
 * cannot (they are the server's). At nice 19 it still raised the answering thread's p99 from
 * 1.6 to 4.3-5.3 ms while it rewrote a 1,000,000-record zone (tools/bench-stall.ts); one that
 * gets almost no CPU (every CPU busy) is replaced by one at nice 19, as the zone load process is.
 *
 * One long-lived child, started before the zones load (startCompactor), runs the compactions
 * one at a time. Not one per compaction: forking copies the parent's page tables, and a
 * server holding a 1,000,000-record zone spent 20-27 ms of its answering thread in fork(),
 * a stall of every query 5 s after each burst of writes. A child that dies fails its own
 * compaction only; the next one starts a new child.
 */
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { CompactReply, CompactRequest } from './compact-process.js';
import { BackgroundProcess } from './background-process.js';

const ENTRY = fileURLToPath(new URL('./compact-process.js', import.meta.url));

const compactor = new BackgroundProcess<CompactRequest, CompactReply>('compaction', ENTRY, ['--expose-gc'], (message) => ({ ok: false, message }), {
  args: () => ['--idle'],
  starvation: {
    fallbackArgs: () => [],
    warning: 'the compaction process got almost no CPU at the lowest priority (SCHED_IDLE; every CPU busy?); it is restarted at nice 19 and compacts again',
  },
});

/** Starts the compaction process now, while this process is small (see above); `log` hears of a starved one. */
export function startCompactor(log?: Pick<Logger, 'warn'>): void {
  compactor.start(log);
}

/** Compacts one zone file's journal in the compaction process. `keepAlive`: the compaction of a clean shutdown, which the process waits for. */
export function compactOffThread(request: CompactRequest, keepAlive = false): Promise<CompactReply> {
  return compactor.run({ ...request, origin: [...request.origin] }, keepAlive);
}

/** The compaction process's pid, if one runs (tests). */
export function compactorPid(): number | undefined {
  return compactor.pid;
}
