/**
 * A pool of backends: which of them may take requests now (health, ejection, drain, panic),
 * the pick (algorithm, slow start, circuit breaker, bounded wait queue), passive outlier
 * ejection and the retry budget. The request path calls pick/release; health checks and the
 * admin side call refresh.
 */
import { ALGORITHMS, type Algorithm } from './algorithms/index.js';
import { Backend, type BackendTimeouts } from './backend.js';
import { backendTlsOf } from './backend-tls.js';
import type { PoolConfig } from './config.js';

/** Slow start never sends a ramping backend less than this share of its full load (as Envoy's min weight). */
const SLOW_START_FLOOR = 0.1;

type Waiter = {
  readonly hashKey: string;
  readonly done: (b: Backend | null) => void;
  timer: NodeJS.Timeout | null;
};

export interface PoolDeps {
  readonly now: () => number;
  readonly random: () => number;
}

export class Pool {
  readonly name: string;
  config: PoolConfig;
  backends: Backend[];
  /** The backends picks choose from; a new array whenever membership changes. */
  usable: readonly Backend[] = [];
  /** Too few usable backends: spreading over all (non-draining) ones regardless of health. */
  panic = false;
  /** Requests in flight over all backends, and those of them that are retries. */
  inFlight = 0;
  retriesInFlight = 0;
  ejectionsTotal = 0;
  queueOverflows = 0;
  queueTimeouts = 0;
  private algorithm: Algorithm;
  readonly hashBased: boolean;
  private readonly waiters: Waiter[] = [];
  private ejectionTimer: NodeJS.Timeout | null = null;
  private readonly deps: PoolDeps;

  constructor(name: string, config: PoolConfig, timeouts: BackendTimeouts, deps: PoolDeps, previous?: Pool) {
    this.name = name;
    this.config = config;
    this.deps = deps;
    const now = deps.now();
    // A reload keeps a backend (and its health, counters and connections) whose id, address, connection limit and TLS material stay.
    const old = new Map(previous?.backends.map((b) => [b.key, b]));
    this.backends = config.backends.map((bc, i) => {
      const kept = old.get(`${name}/${bc.id}`);
      const tls = backendTlsOf(config, name, i);
      if (kept !== undefined && kept.sameEndpoint(bc, tls)) {
        kept.weight = bc.weight;
        kept.maxRequests = bc.maxRequests;
        return kept;
      }
      return new Backend(name, bc, timeouts, now, tls);
    });
    // Backends usable before a reload stay usable without a ramp; added ones ramp (slow start).
    if (previous !== undefined) this.usable = previous.usable.filter((b) => this.backends.includes(b));
    const entry = ALGORITHMS[config.algorithm];
    this.algorithm = entry.create({ virtualNodes: config.virtualNodes, random: deps.random });
    this.hashBased = entry.hashBased;
    this.ejectionsTotal = previous?.ejectionsTotal ?? 0;
    this.refresh(previous !== undefined);
  }

  /** Backends of `previous` this pool no longer uses (to close once their requests finish). */
  static dropped(previous: Pool, next: Pool | undefined): Backend[] {
    const kept = new Set(next?.backends);
    return previous.backends.filter((b) => !kept.has(b));
  }

  /** Recomputes the usable list after any health, ejection or drain change; backends that join it ramp up (slow start) unless `ramp` is false (start-up). */
  refresh(ramp = true): void {
    const now = this.deps.now();
    const candidates = this.backends.filter((b) => !b.draining);
    const healthy = candidates.filter((b) => b.passedChecks() && !b.isEjected(now));
    const threshold = this.config.panicThresholdPercent;
    this.panic = candidates.length > 0 && threshold > 0 && healthy.length * 100 < threshold * candidates.length;
    const next = this.panic ? candidates : healthy;
    const before = new Set(this.usable);
    for (const b of next) if (!before.has(b)) b.usableSince = ramp ? now : 0;
    this.usable = next;
    this.scheduleEjectionEnd(now);
    this.serveWaiters();
  }

  /** Start-up: the backends up after the first check round take their full share at once (no traffic to ramp from). */
  skipSlowStart(): void {
    for (const b of this.usable) b.usableSince = 0;
  }

  /**
   * A backend with room, preferring `preferred` (a sticky cookie's) when it is usable;
   * `avoid` (the backend a retry failed on) is skipped when another has room.
   */
  pick(hashKey: string, preferred?: Backend, avoid?: Backend): Backend | undefined {
    if (preferred !== undefined && preferred.hasRoom() && this.usable.includes(preferred)) return preferred;
    if (avoid !== undefined) avoid.skipped = true;
    let b = this.algorithm.pick(this.usable, { hashKey });
    if (b !== undefined && !this.hashBased) b = this.slowStart(b, hashKey);
    if (avoid !== undefined) {
      avoid.skipped = false;
      b ??= this.algorithm.pick(this.usable, { hashKey });
    }
    return b;
  }

  /** A ramping backend keeps a pick with probability elapsed/window (at least the floor); else the pick moves on. */
  private slowStart(b: Backend, hashKey: string): Backend {
    const window = this.config.slowStartMs;
    if (window === 0 || b.usableSince === 0) return b;
    const elapsed = this.deps.now() - b.usableSince;
    if (elapsed >= window) {
      b.usableSince = 0;
      return b;
    }
    if (this.deps.random() < Math.max(SLOW_START_FLOOR, elapsed / window)) return b;
    b.skipped = true;
    const other = this.algorithm.pick(this.usable, { hashKey });
    b.skipped = false;
    return other ?? b;
  }

  /** Marks a request started on `b`. */
  begin(b: Backend, retry: boolean): void {
    b.inFlight++;
    b.requests++;
    this.inFlight++;
    if (retry) this.retriesInFlight++;
  }

  /** Marks a request finished on `b` and lets a waiting request have the room. */
  end(b: Backend, retry: boolean): void {
    b.inFlight--;
    this.inFlight--;
    if (retry) this.retriesInFlight--;
    if (this.waiters.length > 0) this.serveWaiters();
  }

  /**
   * Waits for room when every usable backend is at its limit. Calls `done` with a backend
   * (already begun) or null on timeout; returns false at once when the queue is full.
   */
  wait(hashKey: string, done: (b: Backend | null) => void): boolean {
    if (this.waiters.length >= this.config.queue.size) {
      this.queueOverflows++;
      return false;
    }
    const waiter: Waiter = { hashKey, done, timer: null };
    waiter.timer = setTimeout(() => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
      this.queueTimeouts++;
      done(null);
    }, this.config.queue.timeoutMs);
    this.waiters.push(waiter);
    return true;
  }

  get queued(): number {
    return this.waiters.length;
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      const b = this.pick(w.hashKey);
      if (b === undefined) return;
      this.waiters.shift();
      if (w.timer !== null) clearTimeout(w.timer);
      w.done(b);
    }
  }

  /** Whether one more retry fits the budget: a share of requests in flight, with a floor. */
  canRetry(): boolean {
    const r = this.config.retries;
    return r.attempts > 0 && this.retriesInFlight < Math.max(r.minConcurrent, (r.budgetPercent * this.inFlight) / 100);
  }

  /**
   * Passive health (as Envoy's outlier detection): `consecutiveErrors` 5xx or connect errors in
   * a row eject the backend for base × n (n-th ejection), capped; at most maxEjectedPercent
   * of the pool is out at once; errors while ejected are not counted. Returns true when this
   * report ejected it.
   */
  reportOutcome(b: Backend, ok: boolean): boolean {
    if (ok) {
      b.consecutiveErrors = 0;
      return false;
    }
    b.errors++;
    const od = this.config.outlierDetection;
    const now = this.deps.now();
    // Errors while ejected (requests begun before, or panic mode) do not count towards the next ejection.
    if (od.consecutiveErrors === 0 || b.isEjected(now) || ++b.consecutiveErrors < od.consecutiveErrors) return false;
    const ejectedNow = this.backends.filter((x) => x.isEjected(now)).length;
    const allowed = Math.max(od.maxEjectedPercent > 0 ? 1 : 0, Math.floor((this.backends.length * od.maxEjectedPercent) / 100));
    if (ejectedNow >= allowed) return false;
    // A backend that stayed in for a whole max ejection period starts its back-off afresh.
    if (b.ejectedUntil !== 0 && now - b.ejectedUntil > od.maxEjectionMs) b.ejections = 0;
    b.ejections++;
    b.ejectedAt = now;
    b.ejectedUntil = now + Math.min(od.baseEjectionMs * b.ejections, od.maxEjectionMs);
    b.consecutiveErrors = 0;
    this.ejectionsTotal++;
    this.refresh();
    return true;
  }

  private scheduleEjectionEnd(now: number): void {
    if (this.ejectionTimer !== null) clearTimeout(this.ejectionTimer);
    this.ejectionTimer = null;
    let soonest = Infinity;
    for (const b of this.backends) if (b.ejectedUntil > now && b.ejectedUntil < soonest) soonest = b.ejectedUntil;
    if (soonest === Infinity) return;
    this.ejectionTimer = setTimeout(() => this.refresh(), soonest - now + 1);
    this.ejectionTimer.unref();
  }

  find(id: string): Backend | undefined {
    return this.backends.find((b) => b.id === id);
  }

  /** A replaced pool: its waiting requests still finish (their own timeouts bound them). */
  stopTimers(): void {
    if (this.ejectionTimer !== null) clearTimeout(this.ejectionTimer);
    this.ejectionTimer = null;
  }

  /** Shutdown: stops timers and fails waiting requests; connections are closed by the owner. */
  stop(): void {
    this.stopTimers();
    for (const w of this.waiters.splice(0)) {
      if (w.timer !== null) clearTimeout(w.timer);
      w.done(null);
    }
  }
}
