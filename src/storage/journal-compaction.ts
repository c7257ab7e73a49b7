/**
 * Runs one journal compaction in a child process (compact-process.ts), so rewriting the zone
 * file of a large zone never holds the answering thread, nor competes with it for a CPU they
 * share: the child runs at nice 19, its collector's threads too, which a worker_thread's
 * cannot (they are the server's). One process per compaction: they are rare (debounced), and
 * one that dies fails that compaction only.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CompactReply, CompactRequest } from './compact-process.js';

const ENTRY = fileURLToPath(new URL('./compact-process.js', import.meta.url));

/** `keepAlive`: the compaction of a clean shutdown, which the process waits for. */
export function compactOffThread(request: CompactRequest, keepAlive = false): Promise<CompactReply> {
  return new Promise((resolve) => {
    // No inherited node options: a server run by a test runner or with --inspect passes its own.
    const child = fork(ENTRY, [], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    // A compaction in progress must not keep a stopping server alive: the journal stays valid.
    if (!keepAlive) {
      child.unref();
      child.channel?.unref();
    }
    let settled = false;
    const done = (r: CompactReply): void => {
      if (settled) return;
      settled = true;
      resolve(r);
      if (child.exitCode === null) child.kill();
    };
    child.on('message', (m: CompactReply) => done(m));
    child.on('error', (err: Error) => done({ ok: false, message: err.message }));
    child.on('exit', (code, signal) => done({ ok: false, message: `the compaction process exited (${signal ?? code})` }));
    child.send({ ...request, origin: [...request.origin] });
  });
}
