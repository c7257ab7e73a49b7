/** The Prometheus registry: collectors that read plain counters at scrape time. */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { typeToText, rcodeToText } from '../dns/constants.js';
import type { AnswerCache } from '../dns/answer-cache.js';
import type { HealthMonitor } from '../health/health-monitor.js';
import { isHealthy } from '../health/state-machine.js';
import { DnsStats, LATENCY_BUCKETS_US } from './dns-stats.js';

export interface MetricSources {
  readonly stats: DnsStats;
  readonly cache: AnswerCache;
  readonly health: HealthMonitor;
  readonly snapshotVersion: () => number;
}

export interface Metrics {
  readonly contentType: string;
  text(): Promise<string>;
}

export function createMetrics(src: MetricSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'meridian_process_' });
  // Each metric refills itself from the plain counters when scraped.
  const metric = <M extends Counter | Gauge>(Kind: new (c: { name: string; help: string; labelNames: string[]; registers: Registry[]; collect: (this: M) => void }) => M, name: string, help: string, labelNames: string[], fill: (m: M) => void): void => {
    new Kind({
      name,
      help,
      labelNames,
      registers: [registry],
      collect(this: M) {
        this.reset();
        fill(this);
      },
    });
  };
  const counter = (name: string, help: string, labelNames: string[], fill: (c: Counter) => void): void => metric(Counter, name, help, labelNames, fill);
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge) => void): void => metric(Gauge, name, help, labelNames, fill);

  counter('meridian_dns_queries_total', 'DNS queries answered, by zone, type and rcode', ['zone', 'type', 'rcode'], (c) => {
    for (const [key, n] of src.stats.queries) {
      const [zone, type, rcode] = key.split('|');
      c.inc({ zone: zone === '' ? '' : `${zone}.`, type: typeToText(Number(type)), rcode: rcodeToText(Number(rcode)) }, n);
    }
  });
  counter('meridian_dns_dropped_total', 'packets dropped without an answer (responses, runts)', [], (c) => c.inc(src.stats.dropped));
  counter('meridian_answer_cache_hits_total', 'answers served from the encoded-answer cache', [], (c) => c.inc(src.cache.hits));
  counter('meridian_answer_cache_misses_total', 'answers that had to be resolved and encoded', [], (c) => c.inc(src.cache.misses));
  gauge('meridian_answer_cache_entries', 'encoded answers held for the current snapshot', [], (g) => g.set(src.cache.size));
  counter('meridian_steered_answers_total', 'steered answers, by target and region', ['target', 'region'], (c) => {
    for (const [key, n] of src.stats.answers) {
      const [target, region] = key.split('|');
      c.inc({ target: target!, region: region! }, n);
    }
  });
  counter('meridian_fail_open_total', 'steered answers given while every target was down (fail-open or fallback)', ['name'], (c) => {
    for (const [name, n] of src.stats.failOpen) c.inc({ name: `${name}.` }, n);
  });
  counter('meridian_health_probes_total', 'health probes run', [], (c) => c.inc(src.health.counters.probes));
  counter('meridian_health_probe_failures_total', 'health probes that failed', [], (c) => c.inc(src.health.counters.failures));
  counter('meridian_health_transitions_total', 'health state transitions (up/down)', [], (c) => c.inc(src.health.counters.transitions));
  gauge('meridian_health_target_up', '1 when answers may use the target (probe and overrides), else 0', ['target', 'region', 'forced'], (g) => {
    for (const [key, { target, health }] of src.health.states()) g.set({ target: key, region: target.region, forced: health.forced ?? '' }, isHealthy(health) ? 1 : 0);
  });
  gauge('meridian_health_probe_rtt_seconds', 'smoothed probe round-trip time', ['target'], (g) => {
    for (const [key, { health }] of src.health.states()) if (health.rttMs !== null) g.set({ target: key }, health.rttMs / 1000);
  });
  gauge('meridian_snapshot_version', 'version of the snapshot being served', [], (g) => g.set(src.snapshotVersion()));

  return {
    contentType: registry.contentType,
    async text() {
      return (await registry.metrics()) + latencyHistogram(src.stats);
    },
  };
}

/** Written by hand: prom-client histograms cannot be filled from precounted buckets. */
function latencyHistogram(s: DnsStats): string {
  const name = 'meridian_dns_query_duration_seconds';
  const lines = [`# HELP ${name} time to answer one query, from packet in to answer built`, `# TYPE ${name} histogram`];
  let cumulative = 0;
  LATENCY_BUCKETS_US.forEach((le, i) => {
    cumulative += s.latencyBuckets[i]!;
    lines.push(`${name}_bucket{le="${le / 1e6}"} ${cumulative}`);
  });
  cumulative += s.latencyBuckets[LATENCY_BUCKETS_US.length]!;
  lines.push(`${name}_bucket{le="+Inf"} ${cumulative}`, `${name}_sum ${s.latencySumUs / 1e6}`, `${name}_count ${s.latencyCount}`);
  return lines.join('\n') + '\n';
}
