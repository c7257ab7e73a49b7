/**
 * `/metrics` with `--workers N`: the query counters, latency histogram, caches and protection
 * counters live in each worker. The primary pulls every worker's registry over IPC when
 * scraped and sums them with its own (prom-client's AggregatorRegistry.aggregate), so one
 * scrape shows the whole server. A worker that does not answer in time is counted with its
 * last answer (its counters must not seem to go back, which rate() reads as a restart); a
 * dead one drops out.
 */
import type { Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Responder } from '../answer/responder.js';
import { createMetricsRegistry, type NativeUdpDrops } from '../metrics/registry.js';
import { selfFillingMetrics } from '../metrics/self-filling.js';
import type { Received } from '../server/udp-listener.js';

/** The scrape waits this long for the workers; Prometheus' own default timeout is 10 s. */
export const WORKER_METRICS_TIMEOUT_MS = 2000;

/** Registry.getMetricsAsJSON() as it travels (prom-client's typings declare a `collect` it does not hold). */
export type WorkerMetricsJson = Array<{
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
}>;

/**
 * In a worker: the data-plane metrics of its responder (no process_* metrics: those are the
 * primary's), and what its own sockets read, labelled with its slot: the one figure the sum
 * keeps apart per worker, to show how the kernel (or cluster) spreads the queries.
 */
export function workerMetricsRegistry(responder: Responder, slot: number, received: Readonly<Received>, udpNative: () => NativeUdpDrops | null = () => null): Registry {
  const registry = createMetricsRegistry(
    { queryStats: responder.stats, cache: responder.cache, decisions: responder.decisions, health: null, protection: responder.protection, dnssec: responder.dnssec, udpNative },
    { defaultMetrics: false },
  );
  selfFillingMetrics(registry).counter(
    'meridian_dns_worker_messages_total',
    "DNS messages read by each worker's sockets, by worker slot (0 to N-1, kept by a replacement) and transport",
    ['worker', 'transport'],
    (set) => {
      set({ worker: String(slot), transport: 'udp' }, received.udp);
      set({ worker: String(slot), transport: 'tcp' }, received.tcp);
    },
  );
  return registry;
}

export async function registryJson(registry: Registry): Promise<WorkerMetricsJson> {
  return (await registry.getMetricsAsJSON()) as unknown as WorkerMetricsJson;
}

/** The primary's side: asks the workers, waits at most the timeout, remembers the last answers. */
export class WorkerMetrics {
  #nextId = 1;
  readonly #last = new Map<Worker, WorkerMetricsJson>();
  readonly #pending = new Map<number, { worker: Worker; settle: () => void }>();

  /** A worker's answer (from the pool's message handler); late answers still refresh its last figures. */
  settle(worker: Worker, id: number, metrics: WorkerMetricsJson): void {
    this.#last.set(worker, metrics);
    const p = this.#pending.get(id);
    if (p !== undefined && p.worker === worker) p.settle();
  }

  /** The worker exited: its figures go with it. */
  forget(worker: Worker): void {
    this.#last.delete(worker);
  }

  /** Every worker's figures, and how many answered now, answered earlier only, or never did. */
  async collect(
    workers: Iterable<Worker>,
    send: (w: Worker, id: number) => boolean,
    timeoutMs = WORKER_METRICS_TIMEOUT_MS,
  ): Promise<{ metrics: WorkerMetricsJson[]; fresh: number; stale: number; missing: number }> {
    const asked = [...workers].map((worker) => {
      const id = this.#nextId++;
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => done(false), timeoutMs);
        const done = (answered: boolean): void => {
          clearTimeout(timer);
          this.#pending.delete(id);
          resolve(answered);
        };
        this.#pending.set(id, { worker, settle: () => done(true) });
        if (!send(worker, id)) done(false);
      }).then((answered) => ({ worker, answered }));
    });
    const outcomes = await Promise.all(asked);
    const metrics: WorkerMetricsJson[] = [];
    let fresh = 0;
    let stale = 0;
    for (const { worker, answered } of outcomes) {
      const last = this.#last.get(worker);
      if (last === undefined) continue;
      metrics.push(last);
      if (answered) fresh++;
      else stale++;
    }
    return { metrics, fresh, stale, missing: outcomes.length - fresh - stale };
  }
}

/** The primary's registry summed with the workers' figures, plus how the workers answered. */
export async function aggregateMetrics(primary: Registry, workers: Awaited<ReturnType<WorkerMetrics['collect']>>): Promise<string> {
  // The primary's own metrics (process_*, health, zones) pass through unchanged: as one copy,
  // some would otherwise be dropped or merged by the aggregator prom-client gives them for
  // clusters (process_start_time_seconds is 'omit').
  const inWorkers = new Set(workers.metrics.flatMap((m) => m.map((metric) => metric.name)));
  const own = (await registryJson(primary)).map((metric) => (inWorkers.has(metric.name) ? metric : { ...metric, aggregator: 'first' }));
  const answered: WorkerMetricsJson[number] = {
    name: 'meridian_dns_worker_metrics',
    help: 'DNS workers by how their figures reached this scrape: answered now, from an earlier scrape (slow), or not at all',
    type: 'gauge',
    aggregator: 'sum',
    values: [
      { labels: { answer: 'fresh' }, value: workers.fresh },
      { labels: { answer: 'stale' }, value: workers.stale },
      { labels: { answer: 'missing' }, value: workers.missing },
    ],
  };
  const all = [own, ...workers.metrics, [answered]] as unknown as Parameters<typeof AggregatorRegistry.aggregate>[0];
  return AggregatorRegistry.aggregate(all).metrics();
}
