/**
 * The balancer's Prometheus metrics. Per-backend figures are read from the Backend objects at
 * scrape time; the request path only bumps plain fields and observes one histogram child.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import { BucketCounts, precountedHistogram } from '../metrics/precounted-histogram.js';
import { selfFillingMetrics } from '../metrics/self-filling.js';
import type { Backend } from './backend.js';
import type { Runtime } from './runtime.js';
import { isServing } from './status.js';

/** Upper bounds in µs: 1 ms to 10 s. */
const LATENCY_BUCKETS_US = [1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000];

export class BalancerMetrics {
  rateLimited = 0;
  retries = 0;
  /** Client-side refusals (issue 15): malformed requests, slow bodies, connections over the per-client cap. */
  badRequests = 0;
  bodyTimeouts = 0;
  connectionsRefused = 0;
  /** HTTP/2 connections closed for cancelling streams too fast (h2-front.ts). */
  h2RapidResets = 0;
  /** HTTP/2 streams refused over client.maxConnectionsPerClient requests in flight per address (h2-front.ts). */
  h2StreamsRefused = 0;
  /** Set by the balancer when the access log is on. */
  accessLog: { readonly written: number; readonly dropped: number } | null = null;
  /** Set by the balancer: DNS discovery's failures and set sizes per pool. */
  discovery: { readonly failures: ReadonlyMap<string, number>; counts(): ReadonlyMap<string, number> } | null = null;
  readonly registry = new Registry();
  /** Pool name → response-header latency buckets. */
  private readonly latency = new Map<string, BucketCounts>();

  constructor(runtime: () => Runtime, defaultMetrics = true) {
    const r = this.registry;
    if (defaultMetrics) collectDefaultMetrics({ register: r });
    r.registerMetric(
      precountedHistogram('meridian_l7_response_header_seconds', 'time from sending a request to a backend to its response header, by pool', () =>
        [...this.latency].map(([pool, h]) => ({ labels: { pool }, histogram: h.read() })),
      ),
    );
    const { counter, gauge, unlabelled } = selfFillingMetrics(r);
    const eachBackend = (fn: (labels: { pool: string; backend: string }, b: Backend) => void): void => {
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
      eachBackend((l, b) => set(l, isServing(b, Date.now()) ? 1 : 0)),
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
    counter(
      'meridian_l7_rate_limited_total',
      'requests answered 429',
      [],
      unlabelled(() => this.rateLimited),
    );
    counter('meridian_l7_client_refused_total', 'client requests or connections refused before any backend saw them', ['reason'], (set) => {
      set({ reason: 'bad-request' }, this.badRequests);
      set({ reason: 'body-timeout' }, this.bodyTimeouts);
      set({ reason: 'too-many-connections' }, this.connectionsRefused);
      set({ reason: 'h2-rapid-reset' }, this.h2RapidResets);
      set({ reason: 'h2-client-streams' }, this.h2StreamsRefused);
    });
    counter('meridian_l7_access_log_lines_total', 'access log lines written, or dropped because the sink could not keep up', ['outcome'], (set) => {
      if (this.accessLog === null) return;
      set({ outcome: 'written' }, this.accessLog.written);
      set({ outcome: 'dropped' }, this.accessLog.dropped);
    });
    counter('meridian_l7_discovery_failures_total', 'DNS discovery resolutions that failed or found nothing (the last good set stays)', ['pool'], (set) => {
      for (const [pool, n] of this.discovery?.failures ?? []) set({ pool }, n);
    });
    gauge('meridian_l7_discovery_backends', 'backends DNS discovery found in the last good resolution', ['pool'], (set) => {
      for (const [pool, n] of this.discovery?.counts() ?? []) set({ pool }, n);
    });
    counter(
      'meridian_l7_retries_total',
      'requests retried on another backend after a connect failure',
      [],
      unlabelled(() => this.retries),
    );
  }

  observe(pool: string, ms: number): void {
    let h = this.latency.get(pool);
    if (h === undefined) {
      h = new BucketCounts(LATENCY_BUCKETS_US);
      this.latency.set(pool, h);
    }
    h.observe(ms * 1000);
  }
}
