/** The anti-flap state machine: UNKNOWN → UP/DOWN by the first result, then rise/fall; forced states win. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyResult, force, initialHealth, isHealthy, restored, type TargetHealth } from '../../src/health/state-machine.js';
import type { ProbeResult } from '../../src/health/types.js';

const ok = (at: number, rttMs = 10): ProbeResult => ({ ok: true, reason: null, detail: 'HTTP 200', rttMs, capacity: null, at });
const bad = (at: number): ProbeResult => ({ ok: false, reason: 'refused', detail: 'connect ECONNREFUSED', rttMs: null, capacity: null, at });
const T = { rise: 2, fall: 3 };

function run(results: string, start: TargetHealth = initialHealth(0)): TargetHealth[] {
  const out: TargetHealth[] = [];
  let h = start;
  results.split('').forEach((c, i) => {
    h = applyResult(h, c === '+' ? ok(i + 1) : bad(i + 1), T);
    out.push(h);
  });
  return out;
}
const statuses = (hs: TargetHealth[]) => hs.map((h) => h.status[0]).join('');

describe('health state machine', () => {
  const table: Array<[string, string, string]> = [
    ['the first result decides from UNKNOWN (up)', '+', 'u'],
    ['the first result decides from UNKNOWN (down)', '-', 'd'],
    ['fall 3: two failures keep it up', '+--', 'uuu'],
    ['fall 3: the third failure takes it down', '+---', 'uuud'],
    ['a success resets the failure streak', '+--+--', 'uuuuuu'],
    ['rise 2: one success keeps it down', '-+', 'dd'],
    ['rise 2: the second success brings it up', '-++', 'ddu'],
    ['flapping faster than the thresholds never changes state', '+-+-+-+-+-', 'uuuuuuuuuu'],
    ['flapping while down never brings it up', '-+-+-+-', 'ddddddd'],
  ];
  for (const [title, results, expected] of table) {
    it(title, () => assert.equal(statuses(run(results)), expected));
  }

  it('keeps the reason of the newest failure and a history of transitions', () => {
    const hs = run('+---++');
    const down = hs[3]!;
    assert.equal(down.lastFailure?.reason, 'refused');
    assert.match(down.history[0]!.why, /3 probe\(s\) in a row failed \(fall 3\)/);
    const up = hs[5]!;
    assert.deepEqual(
      up.history.map((t) => `${t.from}>${t.to}`),
      ['down>up', 'up>down', 'unknown>up'],
    );
    assert.equal(up.since, 6);
  });

  it('smooths RTT and keeps capacity', () => {
    let h = applyResult(initialHealth(0), ok(1, 100), T);
    h = applyResult(h, ok(2, 200), T);
    assert.equal(h.rttMs, 130);
    h = applyResult(h, { ...ok(3), capacity: 0.5 }, T);
    assert.equal(h.capacity, 0.5);
  });

  it('forced states win over probes and are visible', () => {
    const up = run('++')[1]!;
    const drained = force(up, 'down', 5);
    assert.equal(isHealthy(drained), false);
    assert.equal(drained.status, 'up', 'the probed status stays visible beside the override');
    assert.equal(drained.forced, 'down');
    const stillDrained = applyResult(drained, ok(6), T);
    assert.equal(isHealthy(stillDrained), false);
    const forcedUp = force(run('-')[0]!, 'up', 7);
    assert.equal(isHealthy(forcedUp), true);
    assert.equal(isHealthy(force(forcedUp, null, 8)), false);
  });

  it('UNKNOWN counts as up until a result arrives', () => {
    assert.equal(isHealthy(initialHealth(0)), true);
  });

  it('a restored state keeps its status, resets the streaks and records its age', () => {
    const down = run('---')[2]!;
    const r = restored(down, 10_000, 4_000);
    assert.equal(r.status, 'down');
    assert.equal(r.failures, 0);
    assert.equal(r.restoredAgeMs, 6_000);
  });
});
