/** QueryStats: the plain per-query counters (by zone, type, rcode), the latency buckets, answers and fail-open events. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rcode, RRType } from '../../src/dns/constants.js';
import { LATENCY_BUCKETS_US, QueryStats } from '../../src/metrics/query-stats.js';
import { target } from '../steer/context.js';

function queries(s: QueryStats): Array<[string, string, string, number]> {
  const out: Array<[string, string, string, number]> = [];
  s.forEachQuery((zone, type, rcode, n) => out.push([zone, type, rcode, n]));
  return out.sort((a, b) => `${a[0]}|${a[1]}|${a[2]}`.localeCompare(`${b[0]}|${b[1]}|${b[2]}`));
}

describe('QueryStats', () => {
  it('counts queries by zone, type and rcode', () => {
    const s = new QueryStats();
    s.record('example.com', RRType.A, Rcode.NOERROR, 5);
    s.record('example.com', RRType.A, Rcode.NOERROR, 5);
    s.record('example.com', RRType.AAAA, Rcode.NXDOMAIN, 5);
    s.record('example.net', RRType.A, Rcode.NOERROR, 5);
    s.record('', RRType.A, Rcode.REFUSED, 5);
    assert.deepEqual(queries(s), [
      ['', 'A', 'REFUSED', 1],
      ['example.com', 'A', 'NOERROR', 2],
      ['example.com', 'AAAA', 'NXDOMAIN', 1],
      ['example.net', 'A', 'NOERROR', 1],
    ]);
    assert.equal(s.queryCount('example.com', 'A', 'NOERROR'), 2);
    assert.equal(s.queryCount('example.com', 'MX', 'NOERROR'), 0);
    assert.equal(s.queryCount('nowhere', 'A', 'NOERROR'), 0);
  });

  it('keeps the label set bounded: unknown types are OTHER, unread questions NONE, odd rcodes OTHER', () => {
    const s = new QueryStats();
    s.record('z', 65280, Rcode.NOERROR, 1);
    s.record('z', 4000, Rcode.NOERROR, 1);
    s.record('z', 0, Rcode.FORMERR, 1);
    s.record('z', 70000, Rcode.NOERROR, 1);
    s.record('z', RRType.HTTPS, Rcode.BADVERS, 1);
    s.record('z', RRType.A, 4095, 1);
    s.record('z', RRType.A, -1, 1);
    assert.deepEqual(queries(s), [
      ['z', 'A', 'OTHER', 2],
      ['z', 'HTTPS', 'BADVERS', 1],
      ['z', 'NONE', 'FORMERR', 1],
      ['z', 'OTHER', 'NOERROR', 3],
    ]);
  });

  it('puts latencies in the fixed buckets (upper bounds inclusive) with sum and count', () => {
    const s = new QueryStats();
    for (const us of [0, 10, 10.5, 25, 99, 100, 101, 10000, 10001, 1e6]) s.record('z', RRType.A, 0, us);
    const h = s.latency();
    assert.deepEqual(h.boundsUs, LATENCY_BUCKETS_US);
    assert.deepEqual(LATENCY_BUCKETS_US, [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]);
    //                 10  25  50  100  250  500  1000  2500  5000  10000  +Inf
    assert.deepEqual(h.counts, [2, 2, 0, 2, 1, 0, 0, 0, 0, 1, 2]);
    assert.equal(h.count, 10);
    assert.equal(h.sumUs, 0 + 10 + 10.5 + 25 + 99 + 100 + 101 + 10000 + 10001 + 1e6);
    // The reader is a copy: later queries do not change it.
    s.record('z', RRType.A, 0, 1);
    assert.equal(h.counts[0], 2);
    assert.equal(s.latency().counts[0], 3);
  });

  it('counts answers by target and region, across equal Target objects from a reload', () => {
    const s = new QueryStats();
    const eu = target('eu', { region: 'eu-west' });
    const us = target('us', { region: 'us-east' });
    s.recordAnswer([eu, us]);
    s.recordAnswer([eu]);
    s.recordAnswer([]);
    // A reload builds new Target objects with the same key: they share the counter.
    s.recordAnswer([target('eu', { region: 'eu-west' })]);
    // A target moved to another region is counted apart.
    s.recordAnswer([target('eu', { region: 'eu-central' })]);
    const out: Array<[string, string, number]> = [];
    s.forEachAnswer((t, r, n) => out.push([t, r, n]));
    assert.deepEqual(out, [
      ['test/eu', 'eu-west', 3],
      ['test/eu', 'eu-central', 1],
      ['test/us', 'us-east', 1],
    ]);
  });

  it('counts fail-open events by name and action, and drops', () => {
    const s = new QueryStats();
    s.recordFailOpen('www.example.com');
    s.recordFailOpen('www.example.com');
    s.recordFailOpen('www.example.com', 'nodata');
    s.recordFailOpen('api.example.com', 'fallback');
    const out: Array<[string, string, number]> = [];
    s.forEachFailOpen((name, action, n) => out.push([name, action, n]));
    assert.deepEqual(out, [
      ['www.example.com', 'fail-open', 2],
      ['www.example.com', 'nodata', 1],
      ['api.example.com', 'fallback', 1],
    ]);
    assert.equal(s.dropped, 0);
    s.recordDrop();
    s.dropped++;
    assert.equal(s.dropped, 2);
  });

  it('records a million queries quickly', () => {
    const s = new QueryStats();
    const zones = ['example.com', 'example.net', ''];
    const started = performance.now();
    for (let i = 0; i < 1e6; i++) s.record(zones[i % 3]!, i & 1 ? RRType.A : RRType.AAAA, i % 7 === 0 ? Rcode.NXDOMAIN : Rcode.NOERROR, i % 2000);
    const ms = performance.now() - started;
    assert.equal(s.latency().count, 1e6);
    // Generous bound (a few ns per query on any machine); catches per-query string building or allocation blow-ups.
    assert.ok(ms < 1500, `${ms.toFixed(0)} ms for 1e6 records`);
  });
});
