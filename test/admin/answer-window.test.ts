/** The sliding window of steered answers behind the status page, on an injected clock. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AnswerWindow } from '../../src/admin/answer-window.js';

const MIN = 60_000;

/** Cumulative counters the test moves by hand, as the data plane would. */
function fakeCounters(): { totals: Map<string, { region: string; count: number }>; add: (key: string, n: number) => void } {
  const totals = new Map<string, { region: string; count: number }>();
  return {
    totals,
    add: (key, n) => totals.set(key, { region: key.split('/')[1]!, count: (totals.get(key)?.count ?? 0) + n }),
  };
}

describe('AnswerWindow', () => {
  it('counts answers since start, then only those of the last five minutes, per minute', async () => {
    let now = 1_000_000;
    const c = fakeCounters();
    c.add('z/eu', 100); // before the window started: never counted
    const w = new AnswerWindow(async () => new Map(c.totals), { now: () => now });
    await w.sample();
    c.add('z/eu', 3);
    now += 30_000;
    let got = await w.counts();
    assert.equal(got.total.get('z/eu')?.count, 3);
    assert.equal(got.since, 1_000_000, 'the window starts when the server did');
    assert.equal(got.buckets.length, 5);
    // One sample a minute for seven minutes: 10 answers in each minute, from eu and us.
    for (let minute = 1; minute <= 7; minute++) {
      now = 1_000_000 + minute * MIN;
      await w.sample();
      c.add('z/eu', 10);
      c.add('z/us', minute);
    }
    now += MIN;
    await w.sample();
    got = await w.counts();
    assert.equal(got.since, now - 5 * MIN);
    // The last five minutes are minutes 4..8 of the loop: eu 10 each, us 4+5+6+7 (+ nothing after minute 7).
    assert.equal(got.total.get('z/eu')?.count, 50);
    assert.equal(got.total.get('z/us')?.count, 3 + 4 + 5 + 6 + 7);
    assert.deepEqual(
      got.buckets.map((b) => b.counts.get('z/eu')),
      [10, 10, 10, 10, 10],
    );
    assert.deepEqual(
      got.buckets.map((b) => b.counts.get('z/us')),
      [3, 4, 5, 6, 7],
    );
    assert.equal(got.buckets[4]!.start, now - MIN);
  });

  it('a target that appears mid-window counts from zero', async () => {
    let now = 0;
    const c = fakeCounters();
    const w = new AnswerWindow(async () => new Map(c.totals), { now: () => now });
    await w.sample();
    now = MIN;
    c.add('z/new', 4);
    const got = await w.counts();
    assert.equal(got.total.get('z/new')?.count, 4);
    assert.equal(got.buckets[4]!.counts.get('z/new'), 4);
  });

  it('a failing reading at start does not stop the server; counting starts with the next one', async () => {
    let fail = true;
    const c = fakeCounters();
    const w = new AnswerWindow(
      async () => {
        if (fail) throw new Error('metrics unavailable');
        return new Map(c.totals);
      },
      { sampleMs: 60_000 },
    );
    await w.start();
    w.stop();
    fail = false;
    c.add('z/eu', 2);
    assert.equal((await w.counts()).total.get('z/eu')?.count, 2);
  });

  it('start() samples at once and its timer does not hold the process open', async () => {
    let reads = 0;
    const w = new AnswerWindow(async () => (reads++, new Map()), { sampleMs: 5 });
    await w.start();
    assert.equal(reads, 1);
    await new Promise((r) => setTimeout(r, 30));
    w.stop();
    assert.ok(reads >= 2, `sampled ${reads} times`);
  });
});
