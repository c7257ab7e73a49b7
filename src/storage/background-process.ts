/**
 * A long-lived child process that runs jobs one at a time over IPC: the server's background
 * work (journal compaction, zone reloads) in a process whose every thread runs below the
 * answering thread's priority, its garbage collector's too (a worker_thread's collector
 * runs on the server's own V8 threads, at the server's priority).
 *
 * Started early (start()), while the server is small: a fork copies the parent's page
 * tables, and a server holding a 1,000,000-record zone spent 20-27 ms of its answering
 * thread in fork(). A child that dies fails its own job only; the next job starts a new one.
 */
import { fork, type ChildProcess } from 'node:child_process';

interface Job<Req, Rep> {
  readonly request: Req;
  /** A job the process waits for (a clean shutdown's); others never keep it alive. */
  readonly keepAlive: boolean;
  readonly resolve: (reply: Rep) => void;
}

export class BackgroundProcess<Req, Rep> {
  readonly #name: string;
  readonly #entry: string;
  readonly #execArgv: readonly string[];
  readonly #failure: (message: string) => Rep;
  #child: ChildProcess | null = null;
  readonly #queue: Job<Req, Rep>[] = [];
  #running: Job<Req, Rep> | null = null;

  /** `name` says which in errors; `failure`: the reply of a job whose process died or could not be reached. */
  constructor(name: string, entry: string, execArgv: readonly string[], failure: (message: string) => Rep) {
    this.#name = name;
    this.#entry = entry;
    this.#execArgv = execArgv;
    this.#failure = failure;
  }

  /** The child, started now if there is none. */
  start(): ChildProcess {
    if (this.#child !== null) return this.#child;
    // No inherited node options: a server run by a test runner or with --inspect passes its own.
    const child = fork(this.#entry, [], { execArgv: [...this.#execArgv], serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.#child = child;
    this.#hold(false);
    const gone = (message: string): void => {
      if (this.#child !== child) return;
      this.#child = null;
      const job = this.#running;
      this.#running = null;
      job?.resolve(this.#failure(message));
      this.#next();
    };
    child.on('message', (reply: Rep) => {
      const job = this.#running;
      this.#running = null;
      job?.resolve(reply);
      this.#next();
    });
    child.on('error', (err: Error) => {
      gone(err.message);
      if (child.exitCode === null) child.kill();
    });
    child.on('exit', (code, signal) => gone(`the ${this.#name} process exited (${signal ?? code})`));
    return child;
  }

  /** Whether a child runs now (one was started and has not died). */
  get started(): boolean {
    return this.#child !== null;
  }

  /** The child's pid, if one runs (tests). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  run(request: Req, keepAlive = false): Promise<Rep> {
    return new Promise((resolve) => {
      this.#queue.push({ request, keepAlive, resolve });
      if (this.#running === null) this.#next();
    });
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
    child.send(job.request as object);
  }

  /** A job in progress must not keep a stopping server alive, but a shutdown's own does. */
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
