/** What the admin listener reports: /healthz for the GSLB's balancer probe, /status for people. */
import { formatListenAddress } from '../net/listen-address.js';
import type { Backend } from './backend.js';
import type { Pool } from './pool.js';
import type { Runtime } from './runtime.js';

/** The JSON the GSLB's balancer probe reads (src/health/probes/balancer.ts). */
export interface HealthReport {
  /** Every pool has a healthy backend and the balancer is not draining. */
  readonly up: boolean;
  readonly healthy: number;
  readonly total: number;
  /** healthy / total over all pools (0 when draining): how much of the region is left. */
  readonly capacity: number;
  readonly draining: boolean;
  /** Draining and nothing in flight any more. */
  readonly drained: boolean;
}

export function isServing(b: Backend, now: number): boolean {
  return b.passedChecks() && !b.isEjected(now) && !b.draining;
}

export function healthReport(rt: Runtime, draining: boolean, now: number): HealthReport {
  let healthy = 0;
  let total = 0;
  let inFlight = 0;
  let everyPoolServes = true;
  for (const pool of rt.pools.values()) {
    const serving = pool.backends.filter((b) => isServing(b, now)).length;
    healthy += serving;
    total += pool.backends.length;
    inFlight += pool.backends.reduce((n, b) => n + b.inFlight, 0);
    if (serving === 0) everyPoolServes = false;
  }
  return {
    up: everyPoolServes && !draining,
    healthy,
    total,
    capacity: draining || total === 0 ? 0 : Math.round((healthy / total) * 1000) / 1000,
    draining,
    drained: draining && inFlight === 0,
  };
}

export type BackendStatus = ReturnType<typeof backendStatus>;
export type StatusReport = ReturnType<typeof statusReport>;

export function backendStatus(b: Backend, pool: Pool, now: number) {
  const h = b.health;
  const slowStart = pool.config.slowStartMs > 0 && b.usableSince !== 0 && now - b.usableSince < pool.config.slowStartMs;
  return {
    id: b.id,
    address: formatListenAddress(b),
    weight: b.weight,
    serving: isServing(b, now) || (pool.panic && !b.draining),
    health: h.status,
    lastCheck: h.lastResult === null ? null : { ok: h.lastResult.ok, detail: h.lastResult.detail, at: new Date(h.lastResult.at).toISOString() },
    ejected: b.isEjected(now) ? { since: new Date(b.ejectedAt).toISOString(), until: new Date(b.ejectedUntil).toISOString() } : null,
    ejections: b.ejections,
    draining: b.draining,
    drained: b.draining && b.inFlight === 0,
    slowStart,
    inFlight: b.inFlight,
    maxRequests: b.maxRequests,
    requests: b.requests,
    responses: { '2xx': b.responses2xx, '3xx': b.responses3xx, '4xx': b.responses4xx, '5xx': b.responses5xx },
    errors: b.errors,
    latencyMs: Math.round(b.latencyMs * 100) / 100,
  };
}

export function statusReport(rt: Runtime, draining: boolean, now: number) {
  return {
    ...healthReport(rt, draining, now),
    pools: [...rt.pools.values()].map((p) => ({
      name: p.name,
      algorithm: p.config.algorithm,
      panic: p.panic,
      inFlight: p.inFlight,
      queued: p.queued,
      backends: p.backends.map((b) => backendStatus(b, p, now)),
    })),
  };
}
