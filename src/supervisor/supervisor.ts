/**
 * The one worker supervisor of `serve --workers N` and `balance --workers N` (issue #18 item 3):
 * forks N node:cluster workers, each in a slot 0..N-1 (its worker id in every log line and in
 * the worker's own log, through MERIDIAN_WORKER_ID), gives each a start timeout, replaces one
 * that dies after a back-off that doubles while it keeps dying young (capped, so a crash loop
 * neither spins nor waits for ever), reports a crash loop, and on stop asks every worker to
 * finish, killing those that do not. What the workers say to the primary is the caller's
 * (`boot`): the supervisor only learns when one is ready.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { ErrorCode, GslbError } from '../errors.js';

/** How a worker that dies is replaced. */
export interface RestartPolicy {
  /** The first replacement of a slot waits this long. */
  readonly initialMs: number;
  /** Each further one while the slot keeps dying young waits twice the last, up to this. */
  readonly maxMs: number;
  /** A worker ready this long died of something else than its start: its slot's back-off starts over. */
  readonly stableMs: number;
  /** This many restarts of one slot within `windowMs` is a crash loop, reported at each further restart. */
  readonly crashLoopRestarts: number;
  readonly windowMs: number;
}

export const DEFAULT_RESTART: RestartPolicy = { initialMs: 1000, maxMs: 30_000, stableMs: 60_000, crashLoopRestarts: 5, windowMs: 300_000 };

/** Environment variable that carries a worker's slot, for its own log lines. */
export const WORKER_ID_ENV = 'MERIDIAN_WORKER_ID';

/** The slot of this process when a Supervisor forked it, else null. */
export function workerId(): number | null {
  const id = process.env[WORKER_ID_ENV];
  return cluster.isWorker && id !== undefined && /^\d+$/.test(id) ? Number(id) : null;
}

export interface SupervisorOptions<R> {
  /** What the workers are, for log lines and errors: "DNS worker", "balancer worker". */
  readonly role: string;
  readonly count: number;
  /** The module each worker runs, and its arguments. */
  readonly exec: string;
  readonly args?: readonly string[];
  /** IPC serialization: 'advanced' carries Maps. */
  readonly serialization?: 'json' | 'advanced';
  readonly log: Logger;
  /** A worker not ready this long after its fork is reported and killed (then replaced, after the back-off). */
  readonly startTimeoutMs: number;
  /** A worker asked to stop that has not exited this long after is killed. */
  readonly stopTimeoutMs: number;
  readonly restart?: RestartPolicy;
  /**
   * Wires one forked worker: resolves with what it reports once ready, rejects when it says it
   * failed. Its listeners stay for the worker's life (the supervisor sees only exit and ready).
   */
  readonly boot: (worker: Worker, slot: number) => Promise<R>;
  /** Asks a ready worker to finish what it has in flight and exit. */
  readonly requestStop: (worker: Worker) => void;
  /**
   * A replacement is ready; it counts as running once this resolves. A rejection is logged and
   * the worker killed, so it is replaced in turn (after the back-off).
   */
  readonly onReplacement?: (worker: Worker, slot: number, ready: R) => Promise<void>;
  /** A worker exited (for the caller's own bookkeeping: metrics, live sets). */
  readonly onExit?: (worker: Worker, slot: number) => void;
}

interface Slot {
  worker: Worker | null;
  ready: boolean;
  readyAt: number;
  /** The next replacement's wait. */
  delayMs: number;
  /** When this slot was restarted, within the crash-loop window. */
  restarts: number[];
  timer: NodeJS.Timeout | null;
}

/** One slot, as `status()` reports it. */
export interface SlotStatus {
  readonly slot: number;
  readonly pid: number | null;
  readonly ready: boolean;
  /** Restarts within the crash-loop window. */
  readonly recentRestarts: number;
  readonly crashLooping: boolean;
}

export class Supervisor<R> {
  readonly #o: SupervisorOptions<R>;
  readonly #restart: RestartPolicy;
  readonly #slots: Slot[];
  readonly #exited = new Map<Worker, Promise<void>>();
  /** Set once start() succeeded: a worker lost before that fails the start instead of being replaced. */
  #running = false;
  #stopping = false;

  constructor(options: SupervisorOptions<R>) {
    this.#o = options;
    this.#restart = options.restart ?? DEFAULT_RESTART;
    this.#slots = Array.from({ length: options.count }, () => ({ worker: null, ready: false, readyAt: 0, delayMs: this.#restart.initialMs, restarts: [], timer: null }));
  }

  /**
   * Forks every worker; resolves with what each reported once all are ready. When one fails,
   * exits or times out first, stops the others and throws. `onFork` sees each first fork's
   * readiness (WorkerPool releases its port reservation on the first).
   */
  async start(onFork?: (ready: Promise<R>) => void): Promise<R[]> {
    const forks = this.#slots.map((_, slot) => this.#fork(slot));
    for (const f of forks) onFork?.(f);
    const started = await Promise.allSettled(forks);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      await this.stop();
      throw failed.reason;
    }
    this.#running = true;
    return started.map((r) => (r as PromiseFulfilledResult<R>).value);
  }

  /** Every worker forked and not exited, ready or starting. */
  get workers(): Worker[] {
    return this.#slots.flatMap((s) => (s.worker === null ? [] : [s.worker]));
  }

  /** Process ids of the workers (for tests and logs). */
  get pids(): number[] {
    return this.workers.map((w) => w.process.pid!);
  }

  status(): SlotStatus[] {
    const now = Date.now();
    return this.#slots.map((s, slot) => {
      const recent = s.restarts.filter((t) => now - t < this.#restart.windowMs).length;
      return { slot, pid: s.worker?.process.pid ?? null, ready: s.ready, recentRestarts: recent, crashLooping: recent >= this.#restart.crashLoopRestarts };
    });
  }

  /** Asks every ready worker to stop and kills the rest; resolves once every child has exited. Nothing is restarted after. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const s of this.#slots) {
      if (s.timer !== null) clearTimeout(s.timer);
      s.timer = null;
      const w = s.worker;
      if (w === null || w.isDead()) continue;
      const kill = setTimeout(() => {
        this.#o.log.error({ worker: this.#slots.indexOf(s), pid: w.process.pid }, `${this.#o.role} did not stop in ${this.#o.stopTimeoutMs} ms; killing it`);
        w.process.kill('SIGKILL');
      }, this.#o.stopTimeoutMs);
      void this.#exited.get(w)?.then(() => clearTimeout(kill));
      // A worker still starting serves nothing yet: it goes at once.
      if (s.ready && w.isConnected()) this.#o.requestStop(w);
      else w.process.kill('SIGKILL');
    }
    await Promise.all(this.#exited.values());
  }

  #fork(slot: number): Promise<R> {
    const s = this.#slots[slot]!;
    const o = this.#o;
    cluster.setupPrimary({ exec: o.exec, args: [...(o.args ?? [])], serialization: o.serialization ?? 'json' });
    const worker = cluster.fork({ [WORKER_ID_ENV]: String(slot) });
    const pid = worker.process.pid;
    // A send to a worker that has just died (its exit not yet seen) fails with EPIPE as an
    // 'error' event; unheard, it would end the primary and every zone with it. The exit that
    // follows replaces the worker.
    worker.on('error', (err: Error) => o.log.warn({ worker: slot, pid, error: err.message }, `could not send to ${o.role} ${slot}: ${err.message}`));
    s.worker = worker;
    s.ready = false;
    let exited!: () => void;
    this.#exited.set(worker, new Promise<void>((r) => (exited = r)));
    return new Promise<R>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        const message = `${o.role} ${slot} (pid ${pid}) was not ready ${o.startTimeoutMs} ms after it started; killed`;
        o.log.error({ worker: slot, pid, startTimeoutMs: o.startTimeoutMs }, message);
        worker.process.kill('SIGKILL');
        reject(new GslbError(ErrorCode.GSLB_ERR_LISTEN_FAILED, message));
      }, o.startTimeoutMs);
      worker.once('exit', (code: number | null, signal: string | null) => {
        clearTimeout(timer);
        this.#exited.delete(worker);
        exited();
        if (s.worker === worker) {
          s.worker = null;
          s.ready = false;
        }
        o.onExit?.(worker, slot);
        if (!settled) {
          settled = true;
          reject(new GslbError(ErrorCode.GSLB_ERR_LISTEN_FAILED, `${o.role} ${slot} (pid ${pid}) exited (${signal ?? code}) before it was ready`));
        }
        if (this.#running && !this.#stopping) this.#scheduleRestart(slot, pid, code, signal);
      });
      o.boot(worker, slot).then(
        (ready) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          s.ready = true;
          s.readyAt = Date.now();
          resolve(ready);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          o.log.error({ worker: slot, pid, error: (err as Error).message }, `${o.role} failed to start; killed`);
          // Not left half-started: once running, the slot is retried after the back-off.
          worker.process.kill('SIGKILL');
          reject(err);
        },
      );
    });
  }

  #scheduleRestart(slot: number, pid: number | undefined, code: number | null, signal: string | null): void {
    const s = this.#slots[slot]!;
    const r = this.#restart;
    const now = Date.now();
    // Long enough up: what killed it is not its start, so the back-off starts over.
    if (s.readyAt > 0 && now - s.readyAt >= r.stableMs) s.delayMs = r.initialMs;
    s.readyAt = 0;
    const delayMs = s.delayMs;
    s.delayMs = Math.min(delayMs * 2, r.maxMs);
    s.restarts = s.restarts.filter((t) => now - t < r.windowMs);
    s.restarts.push(now);
    const fields = { worker: slot, pid, code, signal, restartInMs: delayMs, recentRestarts: s.restarts.length };
    if (s.restarts.length >= r.crashLoopRestarts) {
      this.#o.log.error(
        { ...fields, crashLoop: true },
        `${this.#o.role} ${slot} is crash-looping: ${s.restarts.length} restarts in ${Math.round(r.windowMs / 1000)} s; starting another in ${delayMs} ms`,
      );
    } else {
      this.#o.log.error(fields, `${this.#o.role} exited; starting another in ${delayMs} ms`);
    }
    s.timer = setTimeout(() => {
      s.timer = null;
      if (this.#stopping) return;
      this.#fork(slot)
        .then(async (ready) => {
          const w = s.worker;
          if (w === null || this.#o.onReplacement === undefined) return;
          try {
            await this.#o.onReplacement(w, slot, ready);
          } catch (err) {
            this.#o.log.error({ worker: slot, pid: w.process.pid, err }, `${this.#o.role} could not take over; replacing it`);
            w.process.kill('SIGKILL');
          }
        })
        .catch((err: unknown) => this.#o.log.error({ worker: slot, err }, `replacement ${this.#o.role} failed`));
    }, delayMs);
    s.timer.unref();
  }
}
