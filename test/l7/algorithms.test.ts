/** Each algorithm delivers the distribution it promises, within a stated tolerance. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { applyResult } from '../../src/health/state-machine.js';
import { ALGORITHMS, type AlgorithmName } from '../../src/l7/algorithms/index.js';
import { Backend } from '../../src/l7/backend.js';
import type { PoolConfig } from '../../src/l7/config.js';
import { Pool, type PoolDeps } from '../../src/l7/pool.js';
import { seeded } from '../steer/context.js';

const made: Backend[] = [];
after(async () => {
  await Promise.all(made.map((b) => b.dispatcher.destroy()));
});

function backends(weights: number[]): Backend[] {
  const list = weights.map(
    (weight, i) => new Backend('p', { id: `b${i}`, address: `127.0.0.1:${10_000 + i}`, weight, maxConnections: 10, maxRequests: 1000 }, { connectMs: 100, headersMs: 100, idleMs: 100 }, 0),
  );
  made.push(...list);
  return list;
}

/** A round-robin Pool of `n` backends (never connected to) with everything else off unless `overrides` says. */
function testPool(n: number, overrides: Partial<PoolConfig>, deps: PoolDeps): Pool {
  const pool = new Pool(
    'p',
    {
      algorithm: 'round-robin',
      hashKey: { source: 'client-ip' },
      virtualNodes: 160,
      backends: Array.from({ length: n }, (_, i) => ({ id: `b${i}`, address: `127.0.0.1:${11_000 + i}`, weight: 1, maxConnections: 1, maxRequests: 1000 })),
      outlierDetection: { consecutiveErrors: 0, baseEjectionMs: 1000, maxEjectionMs: 1000, maxEjectedPercent: 50 },
      queue: { size: 0, timeoutMs: 1 },
      panicThresholdPercent: 0,
      slowStartMs: 0,
      retries: { attempts: 0, on: ['connect-failure'], budgetPercent: 0, minConcurrent: 0 },
      healthCheck: { type: 'tcp', path: '/', expect: [[200, 399]], intervalMs: 1000, timeoutMs: 100, rise: 1, fall: 1 },
      ...overrides,
    },
    { connectMs: 100, headersMs: 100, idleMs: 100 },
    deps,
  );
  made.push(...pool.backends);
  // As if a first check had passed: a backend is usable only after one.
  for (const b of pool.backends) b.health = applyResult(b.health, { ok: true, reason: null, detail: 'ok', rttMs: 1, capacity: null, at: 0 }, { rise: 1, fall: 1 });
  pool.refresh(false);
  return pool;
}

function create(name: AlgorithmName, seed = 1) {
  return ALGORITHMS[name].create({ virtualNodes: 160, random: seeded(seed) });
}

function shares(list: Backend[], picks: (Backend | undefined)[]): number[] {
  return list.map((b) => picks.filter((p) => p === b).length / picks.length);
}

describe('round-robin', () => {
  it('gives each backend exactly its turn and skips a full one', () => {
    const list = backends([1, 1, 1]);
    const algo = create('round-robin');
    const picks = Array.from({ length: 300 }, () => algo.pick(list, { hashKey: '' }));
    assert.deepEqual(shares(list, picks), [1 / 3, 1 / 3, 1 / 3]);
    list[1]!.inFlight = list[1]!.maxRequests;
    const more = Array.from({ length: 100 }, () => algo.pick(list, { hashKey: '' }));
    assert.ok(!more.includes(list[1]), 'a backend at its request limit is skipped');
    assert.deepEqual(shares(list, more), [0.5, 0, 0.5]);
  });
});

describe('weighted-round-robin (smooth, as nginx)', () => {
  it('follows weights exactly and spreads the heavy backend out (5,1,1 → a a b a c a a)', () => {
    const list = backends([5, 1, 1]);
    const algo = create('weighted-round-robin');
    const seq = Array.from({ length: 7 }, () => algo.pick(list, { hashKey: '' })!.id);
    assert.deepEqual(seq, ['b0', 'b0', 'b1', 'b0', 'b2', 'b0', 'b0']);
    const picks = Array.from({ length: 7000 }, () => algo.pick(list, { hashKey: '' }));
    assert.deepEqual(shares(list, picks), [5 / 7, 1 / 7, 1 / 7]);
  });
});

describe('least-connections (weighted)', () => {
  it('picks the fewest in flight per weight, and rotates ties', () => {
    const list = backends([1, 1, 2]);
    const algo = create('least-connections');
    list[0]!.inFlight = 3;
    list[1]!.inFlight = 1;
    list[2]!.inFlight = 4; // 2 per unit of weight
    assert.equal(algo.pick(list, { hashKey: '' }), list[1]);
    list[1]!.inFlight = 2; // b1: 2, b2: 4/2 = 2: a tie
    const tied = new Set(Array.from({ length: 6 }, () => algo.pick(list, { hashKey: '' })!.id));
    assert.deepEqual([...tied].sort(), ['b1', 'b2']);
  });
  it('under simulated load keeps in-flight counts level per weight', () => {
    const list = backends([1, 3]);
    const algo = create('least-connections');
    for (let i = 0; i < 400; i++) algo.pick(list, { hashKey: '' })!.inFlight++;
    assert.equal(list[0]!.inFlight, 100);
    assert.equal(list[1]!.inFlight, 300);
  });
});

describe('least-response-time', () => {
  it('sends most to the fast backend but not all once its queue grows', () => {
    const list = backends([1, 1]);
    const algo = create('least-response-time');
    list[0]!.latencyMs = 10;
    list[1]!.latencyMs = 40;
    const picks: Backend[] = [];
    for (let i = 0; i < 50; i++) {
      const b = algo.pick(list, { hashKey: '' })!;
      b.inFlight++;
      picks.push(b);
    }
    const fast = shares(list, picks)[0]!;
    // Scores 10×(n+1) vs 40×(m+1) level out at n+1 = 4(m+1): the fast one gets about 80%.
    assert.ok(fast > 0.7 && fast < 0.9, `fast share ${fast}`);
  });
  it('tries a backend with no measurement first', () => {
    const list = backends([1, 1]);
    list[0]!.latencyMs = 5;
    assert.equal(create('least-response-time').pick(list, { hashKey: '' }), list[1]);
  });
});

describe('power-of-two choices', () => {
  it('spreads evenly with equal load (±3% of 1/4 over 20,000 picks)', () => {
    const list = backends([1, 1, 1, 1]);
    const algo = create('power-of-two', 7);
    const picks = Array.from({ length: 20_000 }, () => algo.pick(list, { hashKey: '' }));
    for (const s of shares(list, picks)) assert.ok(Math.abs(s - 0.25) < 0.03, `share ${s}`);
  });
  it('never picks the most loaded of the pool, and avoids a busy backend', () => {
    const list = backends([1, 1, 1, 1]);
    const algo = create('power-of-two', 3);
    list[0]!.inFlight = 100;
    const picks = Array.from({ length: 2000 }, () => algo.pick(list, { hashKey: '' }));
    assert.equal(shares(list, picks)[0], 0);
  });
});

describe('random (weighted)', () => {
  it('follows weights within ±2% over 30,000 picks', () => {
    const list = backends([1, 2, 7]);
    const picks = Array.from(
      { length: 30_000 },
      (
        (algo) => () =>
          algo.pick(list, { hashKey: '' })
      )(create('random', 11)),
    );
    const s = shares(list, picks);
    [0.1, 0.2, 0.7].forEach((want, i) => assert.ok(Math.abs(s[i]! - want) < 0.02, `backend ${i}: ${s[i]} vs ${want}`));
  });
});

describe('ip-hash', () => {
  it('keeps a client on its backend and spreads clients (each of 4 within 25% ±6% of 4,000 addresses)', () => {
    const list = backends([1, 1, 1, 1]);
    const algo = create('ip-hash');
    const keys = Array.from({ length: 4000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.7`);
    const first = keys.map((k) => algo.pick(list, { hashKey: k }));
    assert.deepEqual(
      keys.map((k) => algo.pick(list, { hashKey: k })),
      first,
      'same client, same backend',
    );
    for (const s of shares(list, first)) assert.ok(Math.abs(s - 0.25) < 0.06, `share ${s}`);
  });
});

describe('consistent-hash (ring with virtual nodes)', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
  it('spreads keys evenly (each of 5 within 20% ±5%)', () => {
    const list = backends([1, 1, 1, 1, 1]);
    const algo = create('consistent-hash');
    for (const s of shares(
      list,
      keys.map((k) => algo.pick(list, { hashKey: k })),
    ))
      assert.ok(Math.abs(s - 0.2) < 0.05, `share ${s}`);
  });
  it('removing one of 5 backends remaps about 1/5 of keys, and only the keys it owned', () => {
    const list = backends([1, 1, 1, 1, 1]);
    const algo = create('consistent-hash');
    const before = keys.map((k) => algo.pick(list, { hashKey: k })!);
    const fewer = list.filter((b) => b !== list[2]);
    const afterPick = keys.map((k) => algo.pick(fewer, { hashKey: k })!);
    const moved = keys.filter((_, i) => before[i] !== afterPick[i]).length / keys.length;
    assert.ok(Math.abs(moved - 0.2) < 0.05, `moved ${moved}, expected about 0.2`);
    keys.forEach((_, i) => {
      if (before[i] !== list[2]) assert.equal(afterPick[i], before[i], 'a key whose backend stayed does not move');
    });
  });
  it('honours weight (2:1:1 → about 50/25/25 ±5%)', () => {
    const list = backends([2, 1, 1]);
    const algo = create('consistent-hash');
    const s = shares(
      list,
      keys.map((k) => algo.pick(list, { hashKey: k })),
    );
    [0.5, 0.25, 0.25].forEach((want, i) => assert.ok(Math.abs(s[i]! - want) < 0.05, `backend ${i}: ${s[i]}`));
  });
  it('moves on to the next backend on the ring when one is full', () => {
    const list = backends([1, 1, 1]);
    const algo = create('consistent-hash');
    const home = algo.pick(list, { hashKey: 'k' })!;
    home.inFlight = home.maxRequests;
    const other = algo.pick(list, { hashKey: 'k' });
    assert.ok(other !== undefined && other !== home);
  });
});

describe('slow start (pool)', () => {
  it('admits a ramping backend with probability max(10%, elapsed / window)', () => {
    let now = 1_000_000;
    const pool = testPool(2, { slowStartMs: 10_000 }, { now: () => now, random: seeded(5) });
    const [a, b] = pool.backends as [Backend, Backend];
    b.draining = true;
    pool.refresh();
    b.draining = false;
    pool.refresh(); // b rejoins now: its ramp starts
    const shareOfB = (): number => {
      let n = 0;
      for (let i = 0; i < 20_000; i++) if (pool.pick('') === b) n++;
      return n / 20_000;
    };
    // Admission f: b takes f/(1+f) of round-robin picks (its turn, kept with probability f).
    const expected = (f: number): number => f / (1 + f);
    assert.ok(Math.abs(shareOfB() - expected(0.1)) < 0.02, 'at the start: the 10% floor');
    now += 5_000;
    assert.ok(Math.abs(shareOfB() - expected(0.5)) < 0.02, 'half way');
    now += 5_000;
    assert.equal(shareOfB(), 0.5, 'after the window: a full share');
    let toA = 0;
    for (let i = 0; i < 1000; i++) if (pool.pick('') === a) toA++;
    assert.equal(toA, 500, 'and a keeps exactly the other half');
  });
});

describe('retry budget (pool)', () => {
  it('lets retries in flight reach budgetPercent of requests in flight, never below minConcurrent', () => {
    const pool = testPool(1, { retries: { attempts: 1, on: ['connect-failure'], budgetPercent: 20, minConcurrent: 1 } }, { now: Date.now, random: Math.random });
    const b = pool.backends[0]!;
    assert.equal(pool.canRetry(), true, 'the floor allows one retry with nothing in flight');
    pool.begin(b, true);
    assert.equal(pool.canRetry(), false, 'one retry in flight of one request: over the floor and the budget');
    for (let i = 0; i < 14; i++) pool.begin(b, false); // 15 in flight: 20% is 3
    assert.equal(pool.canRetry(), true);
    pool.begin(b, true);
    pool.begin(b, true); // 3 retries of 17 in flight: 20% is 3.4
    assert.equal(pool.canRetry(), true);
    pool.begin(b, true); // 4 of 18: 20% is 3.6
    assert.equal(pool.canRetry(), false);
  });
});

describe('reload (pool)', () => {
  it('keeps a backend, with its state, only while its address and connection limit stay', () => {
    const old = testPool(2, {}, { now: Date.now, random: Math.random });
    old.backends[0]!.requests = 7;
    const changed = old.config.backends.map((b, i) => (i === 1 ? { ...b, maxConnections: 8 } : b));
    const next = new Pool('p', { ...old.config, backends: changed }, { connectMs: 100, headersMs: 100, idleMs: 100 }, { now: Date.now, random: Math.random }, old);
    made.push(...next.backends.filter((b) => !old.backends.includes(b)));
    assert.equal(next.backends[0], old.backends[0]);
    assert.equal(next.backends[0]!.requests, 7);
    assert.notEqual(next.backends[1], old.backends[1], 'a new connection limit needs a new connection pool');
    assert.deepEqual(Pool.dropped(old, next), [old.backends[1]]);
  });
});
