/**
 * The balancer's Prometheus metrics. Per-backend figures are read from the Backend objects at
 * scrape time; the request path only bumps plain fields and observes one histogram child.
 */
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { isHealthy } from '../health/state-machine.js';
import { selfFillingMetrics } from '../metrics/self-filling.js';
import type { Runtime } from './runtime.js';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class BalancerMetrics {
  rateLimited = 0;
  retries = 0;
  readonly registry = new Registry();
  private readonly latency: Histogram<'pool'>;
  private readonly children = new Map<string, { observe(v: number): void }>();

  constructor(runtime: () => Runtime, defaultMetrics = true) {
    const r = this.registry;
    if (defaultMetrics) collectDefaultMetrics({ register: r });
    this.latency = new Histogram({ name: 'meridian_l7_response_header_seconds', help: 'time from sending a request to a backend to its response header, by pool', labelNames: ['pool'], buckets: LATENCY_BUCKETS, registers: [r] });
    const { counter, gauge, unlabelled } = selfFillingMetrics(r);
    const eachBackend = (fn: (labels: { pool: string; backend: string }, b: import('./backend.js').Backend) => void): void => {
      for (const pool of runtime().pools.values()) for (const b of pool.backends) fn({ pool: pool.name, backend: b.id }, b);
    };
    counter('meridian_l7_requests_total', 'requests sent to a backend (retries included)', ['pool', 'backend'], (set) => eachBackend((l, b) => set(l, b.requests)));
    counter('meridian_l7_responses_total', 'backend outcomes by status class (502/504 when it could not be reached)', ['pool', 'backend', 'class'], (set) =>
      eachBackend((l, b) => {
        set({ ...l, class: '2xx' }, b.responses2xx);
        set({ ...l, class: '3xx' }, b.responses3xx);
        set({ ...l, class: '4xx' }, b.responses4xx);
        set({ ...l, class: '5xx' }, b.responses5xx);
      }),
    );
    gauge('meridian_l7_backend_in_flight', 'requests in flight to the backend', ['pool', 'backend'], (set) => eachBackend((l, b) => set(l, b.inFlight)));
    gauge('meridian_l7_backend_up', '1 when the backend may take new requests (health, ejection, drain)', ['pool', 'backend'], (set) =>
      eachBackend((l, b) => set(l, isHealthy(b.health) && !b.isEjected(Date.now()) && !b.draining ? 1 : 0)),
    );
    gauge('meridian_l7_backend_latency_seconds', 'smoothed response-header latency of the backend (EWMA)', ['pool', 'backend'], (set) => eachBackend((l, b) => set(l, b.latencyMs / 1000)));
    counter('meridian_l7_ejections_total', 'passive-health ejections', ['pool'], (set) => {
      for (const p of runtime().pools.values()) set({ pool: p.name }, p.ejectionsTotal);
    });
    gauge('meridian_l7_queue_length', 'requests waiting for a backend with room', ['pool'], (set) => {
      for (const p of runtime().pools.values()) set({ pool: p.name }, p.queued);
    });
    gauge('meridian_l7_panic', '1 while the pool spreads over all backends because too few are healthy', ['pool'], (set) => {
      for (const p of runtime().pools.values()) set({ pool: p.name }, p.panic ? 1 : 0);
    });
    counter('meridian_l7_rate_limited_total', 'requests answered 429', [], unlabelled(() => this.rateLimited));
    counter('meridian_l7_retries_total', 'requests retried on another backend after a connect failure', [], unlabelled(() => this.retries));
  }

  observe(pool: string, seconds: number): void {
    let child = this.children.get(pool);
    if (child === undefined) {
      child = this.latency.labels({ pool });
      this.children.set(pool, child);
    }
    child.observe(seconds);
  }
}
