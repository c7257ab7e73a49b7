/**
 * The Prometheus registry: the exposition text names every metric, with its labels and the
 * values of the plain counters it reads (a real AnswerCache, a real HealthMonitor with an
 * injected prober), and scraping twice does not count twice.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Rcode, RRType } from '../../src/dns/constants.js';
import { AnswerCache, type CachedAnswer } from '../../src/answer/answer-cache.js';
import { HealthMonitor } from '../../src/health/health-monitor.js';
import type { MonitoredTarget, ProbeResult, ProbeSpec, Prober } from '../../src/health/types.js';
import { QueryStats } from '../../src/metrics/query-stats.js';
import { createMetricsRegistry } from '../../src/metrics/registry.js';
import { target } from '../steer/context.js';
import { familyOf, find, parseExposition, value, type Exposition } from './exposition.js';

const log = pino({ level: 'silent' });
const spec: ProbeSpec = { type: 'tcp', port: 1, intervalSec: 1, timeoutMs: 100, rise: 1, fall: 1, jitterMs: 0 };
const watched: MonitoredTarget[] = [
  { key: 'example.com/eu-west', region: 'eu-west', address: '192.0.2.1', probe: spec },
  { key: 'example.com/us-east', region: 'us-east', address: '192.0.2.2', probe: spec },
  { key: 'example.com/ap-south', region: 'ap-south', address: '192.0.2.3', probe: null },
];

/** Probes that answer at once: up with a 20 ms RTT, except 192.0.2.2, which is refused. */
const prober: Prober = async (_spec, address) => {
  const ok = address !== '192.0.2.2';
  const r: ProbeResult = { ok, reason: ok ? null : 'refused', detail: '', rttMs: ok ? 20 : null, capacity: null, at: Date.now() };
  return r;
};

const encoded = {
  bytes: Buffer.alloc(12),
  additionalCuts: [],
  glueRequired: false,
  rcode: 0,
  zone: 'example.com',
  staleAt: Infinity,
  soaSerialAt: -1,
  name: 'www.example.com',
  own: true,
  negative: false,
} satisfies CachedAnswer;

async function scrape(registry: { metrics(): Promise<string> }): Promise<Exposition> {
  return parseExposition(await registry.metrics());
}

describe('metrics registry', () => {
  it('exposes queries, latency, cache, steering, health and snapshot metrics', async () => {
    const stats = new QueryStats();
    stats.record('example.com', RRType.A, Rcode.NOERROR, 30);
    stats.record('example.com', RRType.A, Rcode.NOERROR, 30);
    stats.record('example.com', RRType.AAAA, Rcode.NXDOMAIN, 300);
    stats.record('', 0, Rcode.FORMERR, 5);
    stats.record('', RRType.A, Rcode.REFUSED, 20000);
    stats.recordDrop();
    const eu = target('eu-west', { key: 'example.com/eu-west', region: 'eu-west' });
    stats.recordAnswer([eu]);
    stats.recordAnswer([eu]);
    stats.recordFailOpen('www.example.com', 'fail-open');

    const cache = new AnswerCache(10);
    cache.useVersion(3);
    assert.equal(cache.get('k'), undefined);
    cache.set('k', encoded);
    assert.ok(cache.get('k'));
    assert.ok(cache.get('k'));

    const monitor = new HealthMonitor({ prober, concurrency: 10, log, onChange: () => undefined });
    monitor.sync(watched);
    monitor.tick();
    assert.equal(await monitor.firstRound(2000), true);
    assert.equal(monitor.force('example.com/ap-south', 'down'), true);

    let version = 3;
    const registry = createMetricsRegistry({ queryStats: stats, cache, health: monitor, snapshotVersion: () => version });
    const e = await scrape(registry);

    // Every sample belongs to a family with a TYPE and a HELP.
    for (const s of e.samples) {
      const family = familyOf(s.name, e.types);
      assert.ok(family, `${s.name} has a TYPE`);
      assert.ok(e.help.get(family), `${family} has a HELP`);
    }
    const expectedTypes: Record<string, string> = {
      meridian_dns_queries_total: 'counter',
      meridian_dns_query_duration_seconds: 'histogram',
      meridian_dns_dropped_total: 'counter',
      meridian_answer_cache_hits_total: 'counter',
      meridian_answer_cache_misses_total: 'counter',
      meridian_answer_cache_entries: 'gauge',
      meridian_steered_answers_total: 'counter',
      meridian_fail_open_total: 'counter',
      meridian_health_probes_total: 'counter',
      meridian_health_probe_failures_total: 'counter',
      meridian_health_transitions_total: 'counter',
      meridian_probes_total: 'counter',
      meridian_probe_failures_total: 'counter',
      meridian_health_target_up: 'gauge',
      meridian_health_probe_rtt_seconds: 'gauge',
      meridian_snapshot_version: 'gauge',
    };
    for (const [name, type] of Object.entries(expectedTypes)) assert.equal(e.types.get(name), type, name);
    assert.deepEqual([...e.types.keys()].filter((n) => n.startsWith('meridian_')).sort(), Object.keys(expectedTypes).sort(), 'no other meridian_ metric');

    // Queries by zone, type and rcode; the zone label is the origin with its trailing dot.
    assert.equal(value(e, 'meridian_dns_queries_total', { zone: 'example.com.', type: 'A', rcode: 'NOERROR' }), 2);
    assert.equal(value(e, 'meridian_dns_queries_total', { zone: 'example.com.', type: 'AAAA', rcode: 'NXDOMAIN' }), 1);
    assert.equal(value(e, 'meridian_dns_queries_total', { zone: '', type: 'NONE', rcode: 'FORMERR' }), 1);
    assert.equal(value(e, 'meridian_dns_queries_total', { zone: '', type: 'A', rcode: 'REFUSED' }), 1);
    assert.equal(find(e, 'meridian_dns_queries_total').length, 4, 'zero counters are left out');
    assert.equal(value(e, 'meridian_dns_dropped_total'), 1);

    // The latency histogram: cumulative buckets in seconds, +Inf = count.
    const buckets = find(e, 'meridian_dns_query_duration_seconds_bucket');
    assert.deepEqual(
      buckets.map((b) => b.labels.le),
      ['0.00001', '0.000025', '0.00005', '0.0001', '0.00025', '0.0005', '0.001', '0.0025', '0.005', '0.01', '+Inf'],
    );
    assert.deepEqual(
      buckets.map((b) => b.value),
      [1, 1, 3, 3, 3, 4, 4, 4, 4, 4, 5],
    );
    assert.equal(value(e, 'meridian_dns_query_duration_seconds_count'), 5);
    assert.ok(Math.abs(value(e, 'meridian_dns_query_duration_seconds_sum') - (30 + 30 + 300 + 5 + 20000) / 1e6) < 1e-12);

    // The answer cache: one miss, two hits, one entry.
    assert.equal(value(e, 'meridian_answer_cache_hits_total'), 2);
    assert.equal(value(e, 'meridian_answer_cache_misses_total'), 1);
    assert.equal(value(e, 'meridian_answer_cache_entries'), 1);

    // Steering.
    assert.equal(value(e, 'meridian_steered_answers_total', { target: 'example.com/eu-west', region: 'eu-west' }), 2);
    assert.equal(value(e, 'meridian_fail_open_total', { name: 'www.example.com.', action: 'fail-open' }), 1);

    // Health: two probes (one failed), two first-result transitions; the unprobed target is drained.
    assert.equal(value(e, 'meridian_health_probes_total'), 2);
    assert.equal(value(e, 'meridian_health_probe_failures_total'), 1);
    assert.equal(value(e, 'meridian_health_transitions_total'), 2);
    assert.equal(value(e, 'meridian_health_target_up', { target: 'example.com/eu-west', region: 'eu-west', forced: '' }), 1);
    assert.equal(value(e, 'meridian_health_target_up', { target: 'example.com/us-east', region: 'us-east', forced: '' }), 0);
    assert.equal(value(e, 'meridian_health_target_up', { target: 'example.com/ap-south', region: 'ap-south', forced: 'down' }), 0);
    assert.equal(value(e, 'meridian_health_probe_rtt_seconds', { target: 'example.com/eu-west' }), 0.02);
    assert.equal(find(e, 'meridian_health_probe_rtt_seconds').length, 1, 'no RTT before a probe answered');

    assert.equal(value(e, 'meridian_snapshot_version'), 3);

    // prom-client's default process metrics come along.
    assert.equal(e.types.get('process_cpu_seconds_total'), 'counter');
    assert.ok(find(e, 'nodejs_heap_size_total_bytes').length === 1);

    // A second scrape reads the counters afresh: nothing counted twice, changes show.
    stats.record('example.com', RRType.A, Rcode.NOERROR, 30);
    version = 4;
    monitor.force('example.com/ap-south', 'up');
    const again = await scrape(registry);
    assert.equal(value(again, 'meridian_dns_queries_total', { zone: 'example.com.', type: 'A', rcode: 'NOERROR' }), 3);
    assert.equal(value(again, 'meridian_dns_query_duration_seconds_count'), 6);
    assert.equal(value(again, 'meridian_answer_cache_hits_total'), 2);
    assert.equal(value(again, 'meridian_steered_answers_total', { target: 'example.com/eu-west', region: 'eu-west' }), 2);
    assert.equal(value(again, 'meridian_health_probes_total'), 2);
    assert.equal(value(again, 'meridian_health_target_up', { target: 'example.com/ap-south', region: 'ap-south', forced: 'up' }), 1);
    assert.equal(find(again, 'meridian_health_target_up', { target: 'example.com/ap-south' }).length, 1, 'the forced-down series is gone');
    assert.equal(value(again, 'meridian_snapshot_version'), 4);
    await monitor.stop();
  });

  it('leaves health metrics out without a monitor, and default metrics when asked', async () => {
    const registry = createMetricsRegistry({ queryStats: new QueryStats(), cache: new AnswerCache(0), health: null, snapshotVersion: () => 1 }, { defaultMetrics: false });
    const e = await scrape(registry);
    assert.deepEqual(
      [...e.types.keys()].filter((n) => n.includes('health')),
      [],
    );
    assert.deepEqual(
      [...e.types.keys()].filter((n) => !n.startsWith('meridian_')),
      [],
    );
    // Empty counters still show as 0 when unlabelled; labelled ones have no series yet.
    assert.equal(value(e, 'meridian_dns_dropped_total'), 0);
    assert.equal(value(e, 'meridian_dns_query_duration_seconds_count'), 0);
    assert.equal(value(e, 'meridian_dns_query_duration_seconds_bucket', { le: '+Inf' }), 0);
    assert.equal(find(e, 'meridian_dns_queries_total').length, 0);
    assert.equal(registry.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  });

  it('escapes label values and gives the histogram to getMetricsAsJSON too', async () => {
    const stats = new QueryStats();
    stats.record('we\\"ird.example', RRType.TXT, Rcode.NOERROR, 1);
    const registry = createMetricsRegistry({ queryStats: stats, cache: new AnswerCache(1), health: null, snapshotVersion: () => 1 }, { defaultMetrics: false });
    const e = await scrape(registry);
    assert.equal(value(e, 'meridian_dns_queries_total', { zone: 'we\\"ird.example.', type: 'TXT', rcode: 'NOERROR' }), 1);
    const json = await registry.getMetricsAsJSON();
    const h = json.find((m) => m.name === 'meridian_dns_query_duration_seconds');
    assert.equal(String(h?.type), 'histogram');
    assert.equal(h?.values.length, 13, '11 buckets, sum and count');
  });
});
