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
import type { Logger } from 'pino';
import { cpuMsOf, statFields } from '../zone/thread-priority.js';

interface Job<Req, Rep> {
  readonly request: Req;
  /** A job the process waits for (a clean shutdown's); others never keep it alive. */
  readonly keepAlive: boolean;
  readonly resolve: (reply: Rep) => void;
}

/**
 * For a child that lowers itself to SCHED_IDLE: on a host with no idle CPU it would never get
 * any, and its job (a reload) would wait for ever. While a job runs, the child's CPU time is
 * read every `windowMs`; under `minShare` of that window, unless the child is asleep (waiting
 * for a disk or a pipe, not for a CPU), the child is killed, `onStarved` called, and the job
 * (and every later one) runs in a child started with `fallbackArgs`; `warning` goes to the log
 * given to start(), with the CPU time the child had.
 */
export interface Starvation {
  /** 5 s unless given (tests give less). */
  readonly windowMs?: number;
  /** 2 % of a CPU unless given. */
  readonly minShare?: number;
  readonly fallbackArgs: () => string[];
  readonly warning: string;
  /** Also called when a child is found starved (tests). */
  readonly onStarved?: (cpuMs: number, windowMs: number) => void;
}

export interface BackgroundOptions {
  /** The child's arguments, made anew for each child started. */
  readonly args?: () => string[];
  readonly starvation?: Starvation;
  /** After a child exits, with the arguments it was started with (to clean up after one that was killed). */
  readonly onExit?: (args: readonly string[]) => void;
}

export class BackgroundProcess<Req, Rep> {
  readonly #name: string;
  readonly #entry: string;
  readonly #execArgv: readonly string[];
  readonly #failure: (message: string) => Rep;
  #child: ChildProcess | null = null;
  readonly #queue: Job<Req, Rep>[] = [];
  #running: Job<Req, Rep> | null = null;
  #args: () => string[];
  #starvation: Starvation | null;
  readonly #onExit: (args: readonly string[]) => void;
  /** The running job's CPU watch (#watch). */
  #watchTimer: NodeJS.Timeout | null = null;
  /** Where a starved child is reported (start()). */
  #log: Pick<Logger, 'warn'> | null = null;

  /** `name` says which in errors; `failure`: the reply of a job whose process died or could not be reached. */
  constructor(name: string, entry: string, execArgv: readonly string[], failure: (message: string) => Rep, opts: BackgroundOptions = {}) {
    this.#name = name;
    this.#entry = entry;
    this.#execArgv = execArgv;
    this.#failure = failure;
    this.#args = opts.args ?? (() => []);
    this.#starvation = opts.starvation ?? null;
    this.#onExit = opts.onExit ?? (() => {});
  }

  /** The child, started now if there is none; `log` is where a starved child is reported. */
  start(log?: Pick<Logger, 'warn'>): ChildProcess {
    if (log !== undefined) this.#log = log;
    if (this.#child !== null) return this.#child;
    // No inherited node options: a server run by a test runner or with --inspect passes its own.
    const args = this.#args();
    const child = fork(this.#entry, args, { execArgv: [...this.#execArgv], serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.#child = child;
    this.#hold(false);
    const gone = (message: string): void => {
      if (this.#child !== child) return;
      this.#child = null;
      this.#unwatch();
      const job = this.#running;
      this.#running = null;
      job?.resolve(this.#failure(message));
      this.#next();
    };
    child.on('message', (reply: Rep) => {
      if (this.#child !== child) return; // one given up on (#starved): its job runs again elsewhere
      this.#unwatch();
      const job = this.#running;
      this.#running = null;
      job?.resolve(reply);
      this.#next();
    });
    child.on('error', (err: Error) => {
      gone(err.message);
      if (child.exitCode === null) child.kill();
    });
    child.on('exit', (code, signal) => {
      gone(`the ${this.#name} process exited (${signal ?? code})`);
      this.#onExit(args);
    });
    return child;
  }

  /** While a job runs: the child's share of a CPU over each window (Starvation). */
  #watch(child: ChildProcess): void {
    const s = this.#starvation;
    if (s === null || child.pid === undefined) return;
    let last = cpuMsOf(child.pid);
    if (last === null) return;
    const windowMs = s.windowMs ?? 5000;
    this.#watchTimer = setInterval(() => {
      const now = cpuMsOf(child.pid!);
      if (now === null || this.#child !== child) return this.#unwatch();
      const used = now - last!;
      last = now;
      if (used < windowMs * (s.minShare ?? 0.02) && !asleep(child.pid!)) this.#starved(child, used, windowMs, s);
    }, windowMs);
    this.#watchTimer.unref();
  }

  #unwatch(): void {
    if (this.#watchTimer !== null) clearInterval(this.#watchTimer);
    this.#watchTimer = null;
  }

  #starved(child: ChildProcess, usedMs: number, windowMs: number, s: Starvation): void {
    this.#unwatch();
    this.#starvation = null;
    this.#args = s.fallbackArgs;
    this.#log?.warn({ cpuMs: usedMs, windowMs }, s.warning);
    s.onStarved?.(usedMs, windowMs);
    this.#child = null;
    child.kill('SIGKILL');
    const job = this.#running;
    this.#running = null;
    if (job !== null) this.#queue.unshift(job);
    this.#next();
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
    this.#watch(child);
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

/** Whether `pid`'s main thread sleeps (S) or waits for a disk (D): it does not want a CPU then. */
function asleep(pid: number): boolean {
  const state = statFields(`/proc/${pid}/stat`)?.[0];
  return state === 'S' || state === 'D';
}
