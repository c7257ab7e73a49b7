/** weighted: distribution by weight, stable per client network, weight 0 only as a last resort. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { weightedFilter } from '../../../src/steer/filters/weighted.js';
import type { Target, WeightedConfig } from '../../../src/steer/types.js';
import { client, context, frozen, ids, seeded, target } from '../context.js';

const A90 = target('a', { weight: 90 });
const B10 = target('b', { weight: 10 });

/** Share of picks (first kept target) per id over n random draws. */
function shares(candidates: readonly Target[], config: WeightedConfig, n: number, seed = 1): Map<string, number> {
  const rand = seeded(seed);
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const h = context({ rand });
    const first = weightedFilter(candidates, config, h.ctx)[0]!.id;
    counts.set(first, (counts.get(first) ?? 0) + 1);
  }
  return new Map([...counts].map(([id, c]) => [id, c / n]));
}

function stablePick(address: string, candidates: readonly Target[], sourcePrefix?: number): { id: string; scope: number } {
  const h = context({ client: client({ address, sourcePrefix }) }); // rand() throws: stable mode must not call it
  const out = weightedFilter(candidates, { mode: 'stable' }, h.ctx);
  return { id: out[0]!.id, scope: h.scope() };
}

describe('weighted filter, random', () => {
  it('90/10 over 10,000 draws is 90% ± 2%', () => {
    const s = shares(frozen([A90, B10]), {}, 10_000);
    assert.ok(Math.abs(s.get('a')! - 0.9) < 0.02, `a got ${s.get('a')}`);
  });

  it('1/2/7 over 10,000 draws is 10/20/70% ± 2%', () => {
    const ts = [target('x', { weight: 1 }), target('y', { weight: 2 }), target('z', { weight: 7 })];
    const s = shares(ts, {}, 10_000, 7);
    for (const [id, want] of [
      ['x', 0.1],
      ['y', 0.2],
      ['z', 0.7],
    ] as const) {
      assert.ok(Math.abs((s.get(id) ?? 0) - want) < 0.02, `${id} got ${s.get(id)}, want ${want}`);
    }
  });

  it('count 2 picks without replacement', () => {
    const rand = seeded(3);
    for (let i = 0; i < 500; i++) {
      const out = ids(weightedFilter([A90, B10, target('c', { weight: 5 })], { count: 2 }, context({ rand }).ctx));
      assert.equal(out.length, 2);
      assert.notEqual(out[0], out[1]);
    }
  });

  it('the same rand sequence picks the same target whatever the candidate order', () => {
    const ts = [target('a', { weight: 3 }), target('b', { weight: 3 }), target('c', { weight: 3 })];
    for (let seed = 0; seed < 50; seed++) {
      const one = weightedFilter(ts, { count: 3 }, context({ rand: seeded(seed) }).ctx);
      const two = weightedFilter([...ts].reverse(), { count: 3 }, context({ rand: seeded(seed) }).ctx);
      assert.deepEqual(ids(one), ids(two));
    }
  });

  it('weight 0 only when no positive weight is left', () => {
    const zeroA = target('a', { weight: 0 });
    const zeroC = target('c', { weight: 0 });
    const b = target('b', { weight: 5 });
    const rand = seeded(11);
    for (let i = 0; i < 1000; i++) {
      assert.deepEqual(ids(weightedFilter([zeroA, b, zeroC], {}, context({ rand }).ctx)), ['b']);
      const two = ids(weightedFilter([zeroA, b, zeroC], { count: 2 }, context({ rand }).ctx));
      assert.equal(two[0], 'b');
      assert.ok(two[1] === 'a' || two[1] === 'c');
    }
    // all zero: an even draw among them, 50% ± 3%
    const s = shares([zeroA, zeroC], {}, 4000, 5);
    assert.ok(Math.abs(s.get('a')! - 0.5) < 0.03, `a got ${s.get('a')}`);
  });

  it('traces once and sets no scope', () => {
    const h = context({ rand: () => 0.5 });
    const out = weightedFilter([A90, B10], {}, h.ctx);
    assert.equal(h.traces.length, 1);
    assert.deepEqual(h.traces[0]!.kept, ids(out));
    assert.match(h.traces[0]!.why, /random: 1 of 2 by weight/);
    assert.deepEqual(h.scopes, []);
  });

  it('one candidate is kept as is', () => {
    const h = context();
    assert.deepEqual(ids(weightedFilter([B10], {}, h.ctx)), ['b']);
    assert.deepEqual(h.scopes, []);
  });
});

describe('weighted filter, stable', () => {
  const AB = frozen([A90, B10]);

  it('the same /24 always gets the same pick, scoped /24', () => {
    const first = stablePick('81.2.69.1', AB);
    assert.equal(first.scope, 24);
    for (let host = 0; host < 256; host++) assert.deepEqual(stablePick(`81.2.69.${host}`, AB), first);
  });

  it('across 3,000 /24s the picks follow the weights: 90% ± 3%', () => {
    let a = 0;
    const n = 3000;
    for (let i = 0; i < n; i++) if (stablePick(`10.${(i >> 8) & 255}.${i & 255}.7`, AB).id === 'a') a++;
    assert.ok(Math.abs(a / n - 0.9) < 0.03, `a got ${a / n}`);
  });

  it('IPv6 clients are grouped by /56', () => {
    const first = stablePick('2001:db8:1234:5600::1', AB);
    assert.equal(first.scope, 56);
    assert.deepEqual(stablePick('2001:db8:1234:56ff:ffff::1', AB), first);
    const picks = new Set<string>();
    for (let i = 0; i < 200; i++) picks.add(stablePick(`2001:db8:${i.toString(16)}::1`, AB).id);
    assert.deepEqual([...picks].sort(), ['a', 'b']);
  });

  it('never reaches past the ECS source prefix', () => {
    const first = stablePick('81.2.64.0', AB, 20);
    assert.equal(first.scope, 20);
    // the whole /20 shares one pick
    assert.equal(stablePick('81.2.79.0', AB, 20).id, first.id);
  });

  it('removing a target moves only the clients it had (rendezvous hashing)', () => {
    const three = [target('a'), target('b'), target('c')];
    let moved = 0;
    for (let i = 0; i < 1000; i++) {
      const address = `172.${i >> 8}.${i & 255}.1`;
      const before = stablePick(address, three).id;
      const after = stablePick(address, three.slice(0, 2)).id;
      if (before !== 'c') assert.equal(after, before, address);
      else moved++;
    }
    assert.ok(moved > 250 && moved < 420, `c had ${moved} of 1000`);
  });

  it('count 2 in stable mode is still a stable pair of distinct targets', () => {
    const ts = [target('a'), target('b'), target('c')];
    const pick = (addr: string) => ids(weightedFilter(ts, { mode: 'stable', count: 2 }, context({ client: client({ address: addr }) }).ctx));
    const p = pick('192.0.2.10');
    assert.equal(new Set(p).size, 2);
    assert.deepEqual(pick('192.0.2.200'), p);
  });
});
