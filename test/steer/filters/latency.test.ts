/** latency: within tolerance (ms or %) of the best, unknowns dropped, scope from the estimates. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { latencyFilter } from '../../../src/steer/filters/latency.js';
import type { LatencyConfig, LatencyEstimate } from '../../../src/steer/types.js';
import { context, frozen, ids, target } from '../context.js';

const TARGETS = frozen([target('ams'), target('fra'), target('lhr'), target('iad'), target('nrt')]);

/** ms by region; scope 16 except nrt's coarser row. */
function table(ms: Record<string, number>): (region: string) => LatencyEstimate | null {
  return (region) => (region in ms ? { ms: ms[region]!, scopePrefix: region === 'nrt' ? 8 : 16, matched: `test ${region}` } : null);
}

const RTT = { ams: 20, fra: 24, lhr: 31, iad: 90, nrt: 250 };

describe('latency filter', () => {
  const cases: Array<[string, LatencyConfig, Record<string, number>, string[]]> = [
    ['best only by default', {}, RTT, ['ams']],
    ['tolerance in ms', { toleranceMs: 5 }, RTT, ['ams', 'fra']],
    ['tolerance edge is inclusive', { toleranceMs: 11 }, RTT, ['ams', 'fra', 'lhr']],
    ['tolerance in percent of the best', { tolerancePercent: 20 }, RTT, ['ams', 'fra']],
    ['the larger tolerance applies (ms)', { toleranceMs: 12, tolerancePercent: 20 }, RTT, ['ams', 'fra', 'lhr']],
    ['the larger tolerance applies (%)', { toleranceMs: 1, tolerancePercent: 400 }, RTT, ['ams', 'fra', 'lhr', 'iad']],
    ['sorted best first, ties by id', { toleranceMs: 100 }, { iad: 20, ams: 20, fra: 10 }, ['fra', 'ams', 'iad']],
    ['unknown latency is dropped', { toleranceMs: 1000 }, { fra: 24, nrt: 250 }, ['fra', 'nrt']],
  ];
  for (const [name, config, ms, expected] of cases) {
    it(name, () => {
      const h = context({ latency: table(ms) });
      assert.deepEqual(ids(latencyFilter(TARGETS, config, h.ctx)), expected);
      assert.equal(h.traces.length, 1);
      assert.deepEqual(h.traces[0]!.kept, expected);
      assert.equal(h.scope(), 16, 'the longest scope among the estimates');
    });
  }

  it('no estimate at all keeps every candidate, says so, and claims only the client network', () => {
    const h = context({ latency: () => null });
    assert.deepEqual(latencyFilter(TARGETS, { toleranceMs: 10 }, h.ctx), TARGETS);
    assert.match(h.traces[0]!.why, /no latency estimate/);
    assert.deepEqual(h.scopes, [24]);
  });

  it('looks each region up once', () => {
    const asked: string[] = [];
    const h = context({
      latency: (r) => {
        asked.push(r);
        return { ms: 10, scopePrefix: 24, matched: 'x' };
      },
    });
    const out = latencyFilter([target('a', { region: 'eu' }), target('b', { region: 'eu' }), target('c', { region: 'us' })], {}, h.ctx);
    assert.deepEqual(ids(out), ['a', 'b', 'c']);
    assert.deepEqual(asked, ['eu', 'us']);
    assert.equal(h.scope(), 24);
  });

  it('the trace names the best and where it came from', () => {
    const h = context({ latency: table(RTT) });
    latencyFilter(TARGETS, { toleranceMs: 5 }, h.ctx);
    assert.match(h.traces[0]!.why, /best 20 ms \(test ams\)/);
  });
});
