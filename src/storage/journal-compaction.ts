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
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CompactReply, CompactRequest } from './compact-process.js';

const ENTRY = fileURLToPath(new URL('./compact-process.js', import.meta.url));

interface Job {
  readonly request: CompactRequest;
  /** The compaction of a clean shutdown, which the process waits for. */
  readonly keepAlive: boolean;
  readonly resolve: (reply: CompactReply) => void;
}

class Compactor {
  #child: ChildProcess | null = null;
  readonly #queue: Job[] = [];
  #running: Job | null = null;

  /** The child, started now if there is none. */
  start(): ChildProcess {
    if (this.#child !== null) return this.#child;
    // No inherited node options: a server run by a test runner or with --inspect passes its own.
    const child = fork(ENTRY, [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.#child = child;
    this.#hold(false);
    const gone = (message: string): void => {
      if (this.#child !== child) return;
      this.#child = null;
      const job = this.#running;
      this.#running = null;
      job?.resolve({ ok: false, message });
      this.#next();
    };
    child.on('message', (reply: CompactReply) => {
      const job = this.#running;
      this.#running = null;
      job?.resolve(reply);
      this.#next();
    });
    child.on('error', (err: Error) => {
      gone(err.message);
      if (child.exitCode === null) child.kill();
    });
    child.on('exit', (code, signal) => gone(`the compaction process exited (${signal ?? code})`));
    return child;
  }

  run(request: CompactRequest, keepAlive: boolean): Promise<CompactReply> {
    return new Promise((resolve) => {
      this.#queue.push({ request, keepAlive, resolve });
      if (this.#running === null) this.#next();
    });
  }

  /** The child's pid (tests). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  #next(): void {
    const job = this.#queue.shift();
    if (job === undefined) {
      this.#hold(false);
      return;
    }
    this.#running = job;
    const child = this.start();
    this.#hold(job.keepAlive || this.#queue.some((j) => j.keepAlive));
    child.send({ ...job.request, origin: [...job.request.origin] });
  }

  /** A compaction in progress must not keep a stopping server alive (the journal stays valid), but a shutdown's own does. */
  #hold(on: boolean): void {
    const child = this.#child;
    if (child === null) return;
    if (on) {
      child.ref();
      child.channel?.ref();
    } else {
      child.unref();
      child.channel?.unref();
    }
  }
}

const compactor = new Compactor();

/** Starts the compaction process now, while this process is small (see above). */
export function startCompactor(): void {
  compactor.start();
}

/** Compacts one zone file's journal in the compaction process. `keepAlive`: the compaction of a clean shutdown, which the process waits for. */
export function compactOffThread(request: CompactRequest, keepAlive = false): Promise<CompactReply> {
  return compactor.run(request, keepAlive);
}

/** The compaction process's pid, if one runs (tests). */
export function compactorPid(): number | undefined {
  return compactor.pid;
}
