/**
 * Active health checks of a pool's backends. The probes and the rise/fall state machine are
 * the GSLB's own (src/health), so a backend is judged exactly as a region is; each backend
 * has one probe in flight at most, on its own timer with a little jitter.
 */
import type { Logger } from 'pino';
import { runProbe } from '../health/probes/index.js';
import { applyResult } from '../health/state-machine.js';
import { guarded } from '../health/probes/guard.js';
import type { ProbeResult, ProbeSpec } from '../health/types.js';
import { probeTlsHandshake } from './backend-tls.js';
import type { Backend } from './backend.js';
import type { HealthCheckConfig } from './config.js';
import type { Pool } from './pool.js';
import { grpcHealthProbe } from './grpc-health.js';

export function probeSpecFor(check: HealthCheckConfig, b: Backend): ProbeSpec {
  const common = { port: b.port, intervalSec: Math.max(1, Math.round(check.intervalMs / 1000)), timeoutMs: check.timeoutMs, rise: check.rise, fall: check.fall, jitterMs: 0 };
  if (check.type === 'tcp' || check.type === 'grpc') return { ...common, type: 'tcp' }; // grpc is probed by grpc-health.ts; the spec's timings still apply
  const host = check.host !== undefined && { host: check.host };
  if (b.tls === null) return { ...common, type: 'http', method: 'GET', path: check.path, expect: check.expect, headers: {}, verifyTls: false, ...host };
  // Over TLS the check verifies as requests do: a backend whose certificate fails is down.
  const o = b.tls.options;
  const tlsMaterial = { ...(o.ca !== undefined && { ca: o.ca }), ...(o.cert !== undefined && { cert: o.cert }), ...(o.key !== undefined && { key: o.key }) };
  return {
    ...common,
    type: 'https',
    method: 'GET',
    path: check.path,
    expect: check.expect,
    headers: {},
    verifyTls: o.rejectUnauthorized !== false,
    tlsMaterial,
    ...host,
    ...(b.tls.servername !== null && { sni: b.tls.servername }),
  };
}

/** One check of `b`: its probe, or a TLS handshake for a TCP check of a TLS backend. */
function checkOnce(check: HealthCheckConfig, b: Backend, signal: AbortSignal): Promise<ProbeResult> {
  const spec = probeSpecFor(check, b);
  const t = b.tls;
  if (spec.type === 'tcp' && t !== null) return guarded(spec, signal, (ctx) => probeTlsHandshake(ctx, b.host, b.port, t));
  return runProbe(spec, b.host, signal);
}

export class HealthChecks {
  private readonly timers = new Map<Backend, NodeJS.Timeout>();
  /** First probes of backends never checked, so start() does not send a second one while they run. */
  private readonly first = new Map<Backend, Promise<void>>();
  private readonly controller = new AbortController();
  private stopped = false;

  constructor(
    private readonly pool: Pool,
    private readonly check: HealthCheckConfig,
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {}

  /**
   * Probes at once every backend that was never checked (all at start-up, the added ones on a
   * reload: a backend is not healthy before a check passed); resolves when each has answered.
   */
  firstRound(): Promise<void> {
    for (const b of this.pool.backends) {
      if (b.health.lastResult === null && !this.first.has(b)) this.first.set(b, this.probe(b));
    }
    return Promise.all(this.first.values()).then(() => undefined);
  }

  /** Checks every backend on its own timer from now on: one interval after its first probe, or soon (jittered) for one a reload kept. */
  start(): void {
    for (const b of this.pool.backends) {
      const first = this.first.get(b);
      if (first !== undefined) void first.then(() => this.schedule(b, this.nextDelay()));
      else this.schedule(b, Math.random() * Math.min(this.check.intervalMs, 250));
    }
  }

  private nextDelay(): number {
    return this.check.intervalMs + Math.random() * this.check.intervalMs * 0.1;
  }

  private schedule(b: Backend, delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      void this.probe(b).then(() => this.schedule(b, this.nextDelay()));
    }, delayMs);
    timer.unref();
    this.timers.set(b, timer);
  }

  private async probe(b: Backend): Promise<void> {
    const c = this.check;
    const result = c.type === 'grpc' ? await grpcHealthProbe(b.host, b.port, c.service ?? '', c.timeoutMs, this.controller.signal, b.tls) : await checkOnce(c, b, this.controller.signal);
    if (this.stopped) return;
    const wasHealthy = b.passedChecks();
    const before = b.health.status;
    b.health = applyResult(b.health, result, this.check);
    if (b.health.status !== before) {
      this.log.info({ backend: b.key, from: before, to: b.health.status, why: b.health.history[0]?.why }, 'backend health changed');
    }
    if (b.passedChecks() !== wasHealthy) {
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
