/**
 * Active health checks of a pool's backends. The probes and the rise/fall state machine are
 * the GSLB's own (src/health), so a backend is judged exactly as a region is; each backend
 * has one probe in flight at most, on its own timer with a little jitter.
 */
import type { Logger } from 'pino';
import { runProbe } from '../health/probes/index.js';
import { applyResult, isHealthy } from '../health/state-machine.js';
import type { ProbeSpec } from '../health/types.js';
import type { Backend } from './backend.js';
import type { HealthCheckConfig } from './config.js';
import type { Pool } from './pool.js';

export function probeSpecFor(check: HealthCheckConfig, b: Backend): ProbeSpec {
  const common = { port: b.port, intervalSec: Math.max(1, Math.round(check.intervalMs / 1000)), timeoutMs: check.timeoutMs, rise: check.rise, fall: check.fall, jitterMs: 0 };
  if (check.type === 'tcp') return { ...common, type: 'tcp' };
  return { ...common, type: 'http', method: 'GET', path: check.path, expect: check.expect, headers: {}, verifyTls: false, ...(check.host !== undefined && { host: check.host }) };
}

export class HealthChecks {
  private readonly timers = new Map<Backend, NodeJS.Timeout>();
  private readonly controller = new AbortController();
  private stopped = false;

  constructor(
    private readonly pool: Pool,
    private readonly check: HealthCheckConfig,
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {}

  start(): void {
    for (const b of this.pool.backends) this.schedule(b, Math.random() * Math.min(this.check.intervalMs, 250));
  }

  /** One probe round for every backend now; resolves when all have answered (start-up uses it). */
  async checkAll(): Promise<void> {
    await Promise.all(this.pool.backends.map((b) => this.probe(b)));
  }

  private schedule(b: Backend, delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      void this.probe(b).then(() => this.schedule(b, this.check.intervalMs + Math.random() * this.check.intervalMs * 0.1));
    }, delayMs);
    timer.unref();
    this.timers.set(b, timer);
  }

  private async probe(b: Backend): Promise<void> {
    const result = await runProbe(probeSpecFor(this.check, b), b.host, this.controller.signal);
    if (this.stopped) return;
    const wasHealthy = isHealthy(b.health);
    const before = b.health.status;
    b.health = applyResult(b.health, result, this.check);
    if (b.health.status !== before) {
      this.log.info({ backend: b.key, from: before, to: b.health.status, why: b.health.history[0]?.why }, 'backend health changed');
    }
    if (isHealthy(b.health) !== wasHealthy) {
      this.pool.refresh();
      this.onChange();
    }
  }

  stop(): void {
    this.stopped = true;
    this.controller.abort();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
