/**
 * Runs the probes: one node-cron task ticks every second and starts the probes that are
 * due, at most one in flight per target and at most `concurrency` in all; a timer also
 * wakes it exactly when a target falls due, so intervals are kept to the millisecond.
 * Results go through the state machine, and every change of what answers may use is
 * reported at once.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import { applyResult, force, initialHealth, isHealthy, type ForcedState, type TargetHealth } from './state-machine.js';
import type { FailureReason, MonitoredTarget, ProbeResult, Prober } from './types.js';
import type { QuorumVerdict } from './quorum.js';

export interface HealthMonitorOptions {
  readonly prober: Prober;
  /** Probes in flight at once, over all targets. */
  readonly concurrency: number;
  readonly log: Logger;
  /** Called after every change that can change answers (status, override, capacity). */
  readonly onChange: () => void;
  readonly now?: () => number;
  readonly rand?: () => number;
  /** States saved before a restart; a target found here starts from it instead of UNKNOWN. */
  readonly restored?: ReadonlyMap<string, TargetHealth>;
}

interface Entry {
  watched: MonitoredTarget;
  health: TargetHealth;
  nextDue: number;
  inFlight: AbortController | null;
  /** Resolves the waiters of the first round once a first result is in. */
  settled: boolean;
}

export class HealthMonitor {
  readonly #entries = new Map<string, Entry>();
  readonly #opts: HealthMonitorOptions;
  readonly #now: () => number;
  readonly #rand: () => number;
  #running = 0;
  #task: ScheduledTask | null = null;
  #firstRoundWaiters: Array<() => void> = [];
  #verdicts: ReadonlyMap<string, QuorumVerdict> | null = null;
  readonly #wakeups = new Set<NodeJS.Timeout>();
  /** Counters for metrics: probes run and transitions, by outcome. */
  readonly counters = { probes: 0, failures: 0, transitions: 0 };
  /** Per watched target: probes run and failures by reason (meridian_probes_total, meridian_probe_failures_total). */
  readonly probeCounts = new Map<string, { probe: string; runs: number; failures: Map<FailureReason, number> }>();

  constructor(opts: HealthMonitorOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#rand = opts.rand ?? Math.random;
  }

  /** Makes the watched set equal `targets`: new ones start (due now), removed ones stop, changed probes restart. */
  sync(targets: readonly MonitoredTarget[]): void {
    const restoredStates = this.#opts.restored ?? new Map<string, TargetHealth>();
    const keep = new Set<string>();
    const now = this.#now();
    for (const t of targets) {
      keep.add(t.key);
      const existing = this.#entries.get(t.key);
      if (existing && sameProbe(existing.watched, t)) {
        existing.watched = t;
        continue;
      }
      existing?.inFlight?.abort();
      const health = existing?.health ?? restoredStates.get(t.key) ?? initialHealth(now);
      const settled = t.probe === null || (health.status !== 'unknown' && existing !== undefined);
      this.#entries.set(t.key, { watched: t, health, nextDue: now, inFlight: null, settled });
    }
    for (const [key, e] of this.#entries) {
      if (!keep.has(key)) {
        e.inFlight?.abort();
        this.#entries.delete(key);
        this.probeCounts.delete(key); // keeps the label set to the targets watched
      }
    }
    this.#checkFirstRound();
  }

  start(): void {
    if (this.#task) return;
    // Second-level cadence from node-cron; each tick starts whatever is due.
    this.#task = cron.schedule('* * * * * *', () => this.tick(), { noOverlap: false });
    this.tick();
  }

  async stop(): Promise<void> {
    await this.#task?.destroy();
    this.#task = null;
    for (const t of this.#wakeups) clearTimeout(t);
    this.#wakeups.clear();
    for (const e of this.#entries.values()) e.inFlight?.abort();
  }

  /** Resolves once every watched target has had a first result, or after `timeoutMs`. */
  firstRound(timeoutMs: number): Promise<boolean> {
    if (this.#allSettled()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#firstRoundWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Starts every due probe the concurrency cap allows. Public so tests can drive time. */
  tick(): void {
    const now = this.#now();
    for (const e of this.#entries.values()) {
      if (this.#running >= this.#opts.concurrency) return;
      if (e.watched.probe === null || e.inFlight !== null || e.nextDue > now) continue;
      this.#launch(e);
    }
  }

  #launch(e: Entry): void {
    const ctl = new AbortController();
    e.inFlight = ctl;
    this.#running++;
    const spec = e.watched.probe!;
    const started = this.#now();
    this.#opts
      .prober(spec, e.watched.address, ctl.signal)
      .then((result) => {
        if (this.#entries.get(e.watched.key) !== e || ctl.signal.aborted) return;
        this.#record(e, result);
      })
      .catch((err: unknown) => this.#opts.log.error({ err, target: e.watched.key }, 'probe crashed'))
      .finally(() => {
        this.#running--;
        if (e.inFlight === ctl) e.inFlight = null;
        e.nextDue = started + spec.intervalSec * 1000 + Math.floor(this.#rand() * spec.jitterMs);
        if (!this.#task) return;
        // A slot is free: start what waits for it without waiting for the next tick.
        this.tick();
        // Wake up when this target is due, so its interval does not stretch to the next whole-second tick.
        this.#wakeAt(e.nextDue);
      });
  }

  #wakeAt(due: number): void {
    const timer = setTimeout(
      () => {
        this.#wakeups.delete(timer);
        if (!this.#task) return;
        // Timers run on the monotonic clock, `now` on the wall clock (misaligned ticks, NTP slew):
        // a wake-up can come a little before `due`. Missed, the probe would wait for the next
        // whole-second tick, up to a second past the failover bound.
        if (this.#now() < due) this.#wakeAt(due);
        else this.tick();
      },
      Math.max(1, due - this.#now()),
    );
    timer.unref();
    this.#wakeups.add(timer);
  }

  #record(e: Entry, result: ProbeResult): void {
    this.counters.probes++;
    if (!result.ok) this.counters.failures++;
    this.#count(e, result);
    const before = e.health;
    e.health = applyResult(before, result, e.watched.probe!);
    const changed = before.status !== e.health.status || before.capacity !== e.health.capacity;
    if (before.status !== e.health.status) {
      this.counters.transitions++;
      const t = e.health.history[0]!;
      this.#opts.log.info({ target: e.watched.key, from: t.from, to: t.to, why: t.why, reason: result.reason }, `health: ${e.watched.key} is ${t.to}`);
    }
    if (!e.settled) {
      e.settled = true;
      this.#checkFirstRound();
    }
    if (changed) this.#opts.onChange();
  }

  #count(e: Entry, result: ProbeResult): void {
    const probe = e.watched.probe!.type;
    let c = this.probeCounts.get(e.watched.key);
    if (c === undefined || c.probe !== probe) this.probeCounts.set(e.watched.key, (c = { probe, runs: 0, failures: new Map() }));
    c.runs++;
    if (!result.ok) {
      const reason = result.reason ?? 'error';
      c.failures.set(reason, (c.failures.get(reason) ?? 0) + 1);
    }
  }

  /** Drain (down), force up, or clear (null). Returns false for an unknown key. */
  force(key: string, forced: ForcedState): boolean {
    const e = this.#entries.get(key);
    if (!e) return false;
    e.health = force(e.health, forced, this.#now());
    this.#opts.log.info({ target: key, forced }, forced === null ? `health: ${key} override cleared` : `health: ${key} forced ${forced}`);
    // Publish even when the answer set stays the same: the forced flag is part of the visible state.
    this.#opts.onChange();
    return true;
  }

  /** The current state of every watched target. */
  states(): ReadonlyMap<string, { readonly target: MonitoredTarget; readonly health: TargetHealth }> {
    return new Map([...this.#entries].map(([k, e]) => [k, { target: e.watched, health: e.health }]));
  }

  /** This node's own view of every target (what its probes say), as saved across restarts. */
  view(): ReadonlyMap<string, TargetHealth> {
    return new Map([...this.#entries].map(([k, e]) => [k, e.health]));
  }

  /**
   * What answers use, frozen for a snapshot: this node's view, with the cluster's quorum
   * verdict (setVerdicts) in place of a target's probe status; an operator override wins over both.
   */
  answerView(): ReadonlyMap<string, TargetHealth> {
    const verdicts = this.#verdicts;
    if (verdicts === null) return this.view();
    return new Map(
      [...this.#entries].map(([k, e]) => {
        const v = verdicts.get(k);
        return [k, v === undefined || v.status === (e.health.status === 'down' ? 'down' : 'up') ? e.health : { ...e.health, status: v.status }];
      }),
    );
  }

  /** The cluster's verdict on a target (cluster mode), or null. */
  verdict(key: string): QuorumVerdict | null {
    return this.#verdicts?.get(key) ?? null;
  }

  /** Cluster mode: the quorum verdicts (health/quorum.ts); answers change when a verdict does. */
  setVerdicts(verdicts: ReadonlyMap<string, QuorumVerdict> | null): void {
    const before = this.#verdicts;
    this.#verdicts = verdicts;
    const changed = [...this.#entries.keys()].some((k) => (before?.get(k)?.status ?? null) !== (verdicts?.get(k)?.status ?? null));
    if (changed) this.#opts.onChange();
  }

  /** Mean smoothed probe RTT of a region's targets, or null. */
  regionRtt(region: string): number | null {
    let sum = 0;
    let n = 0;
    for (const e of this.#entries.values()) {
      if (e.watched.region === region && e.health.rttMs !== null && isHealthy(e.health)) {
        sum += e.health.rttMs;
        n++;
      }
    }
    return n === 0 ? null : sum / n;
  }

  #allSettled(): boolean {
    for (const e of this.#entries.values()) if (!e.settled) return false;
    return true;
  }

  #checkFirstRound(): void {
    if (this.#firstRoundWaiters.length === 0 || !this.#allSettled()) return;
    const waiters = this.#firstRoundWaiters;
    this.#firstRoundWaiters = [];
    for (const w of waiters) w();
  }
}

function sameProbe(a: MonitoredTarget, b: MonitoredTarget): boolean {
  return a.address === b.address && JSON.stringify(a.probe) === JSON.stringify(b.probe);
}
