/** The monitor's scheduling rules: one probe in flight per target, a global cap, removed targets stop, first round. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { HealthMonitor } from '../../src/health/health-monitor.js';
import type { MonitoredTarget, ProbeResult, ProbeSpec, Prober } from '../../src/health/types.js';

const spec: ProbeSpec = { type: 'tcp', port: 1, intervalSec: 1, timeoutMs: 100, rise: 1, fall: 1, jitterMs: 0 };
const targets = (n: number): MonitoredTarget[] => Array.from({ length: n }, (_, i) => ({ key: `z/t${i}`, region: 'r', address: `127.0.0.${i + 1}`, probe: spec }));

/** A prober whose probes finish when the test says so. */
function controlledProber() {
  const pending: Array<{ address: string; finish: (ok: boolean) => void }> = [];
  let maxInFlight = 0;
  const prober: Prober = (_spec, address) =>
    new Promise<ProbeResult>((resolve) => {
      pending.push({
        address,
        finish: (ok) => resolve({ ok, reason: ok ? null : 'refused', detail: '', rttMs: 1, capacity: null, at: Date.now() }),
      });
      maxInFlight = Math.max(maxInFlight, pending.length);
    });
  return { prober, pending, maxInFlight: () => maxInFlight };
}

const log = pino({ level: 'silent' });

describe('health monitor', () => {
  it('caps probes in flight and never runs two for one target', async () => {
    const c = controlledProber();
    const m = new HealthMonitor({ prober: c.prober, concurrency: 3, log, onChange: () => undefined });
    m.sync(targets(10));
    m.tick();
    m.tick();
    assert.equal(c.pending.length, 3, 'the cap holds');
    assert.equal(new Set(c.pending.map((p) => p.address)).size, 3, 'one per target');
    // Finishing one frees a slot for the next target at once.
    c.pending.shift()!.finish(true);
    await new Promise((r) => setImmediate(r));
    m.tick();
    assert.equal(c.pending.length, 3);
    assert.ok(c.maxInFlight() <= 3);
    await m.stop();
  });

  it('reports changes, settles the first round, and stops probing removed targets', async () => {
    const c = controlledProber();
    let changes = 0;
    const m = new HealthMonitor({ prober: c.prober, concurrency: 10, log, onChange: () => changes++ });
    m.sync(targets(2));
    m.tick();
    const round = m.firstRound(2000);
    c.pending.splice(0).forEach((p, i) => p.finish(i === 0));
    assert.equal(await round, true);
    assert.equal(changes, 2, 'unknown → up and unknown → down');
    assert.deepEqual(
      [...m.view().values()].map((h) => h.status),
      ['up', 'down'],
    );
    m.sync(targets(1));
    assert.deepEqual([...m.states().keys()], ['z/t0']);
    await m.stop();
  });

  it('firstRound gives up after its bounded wait', async () => {
    const c = controlledProber();
    const m = new HealthMonitor({ prober: c.prober, concurrency: 10, log, onChange: () => undefined });
    m.sync(targets(1));
    m.tick();
    const started = Date.now();
    assert.equal(await m.firstRound(150), false);
    assert.ok(Date.now() - started < 1000);
    await m.stop();
  });

  it('forced states publish and show', async () => {
    const c = controlledProber();
    let changes = 0;
    const m = new HealthMonitor({ prober: c.prober, concurrency: 10, log, onChange: () => changes++ });
    m.sync(targets(1));
    assert.equal(m.force('z/t0', 'down'), true);
    assert.equal(m.states().get('z/t0')!.health.forced, 'down');
    assert.equal(changes, 1);
    assert.equal(m.force('z/nope', 'down'), false);
    await m.stop();
  });

  it('starts each probe one interval after the last, even when its wake-up timer fires early', async () => {
    // The wake-up timer runs on the monotonic clock, `now` is the wall clock: they disagree by a
    // millisecond on misaligned ticks and by more while NTP slews the wall clock. Here the monitor's
    // clock runs 0.3 % slow, so every wake-up comes 3 ms before the target is due by that clock.
    // Missed, the probe waited for the next whole-second cron tick: up to a second late, beyond
    // the failover bound (issue #20). Measured: 0.4 s late, 1 in 7 recoveries over the bound.
    const t0 = Date.now();
    const slowClock = (): number => t0 + Math.floor((Date.now() - t0) * 0.997);
    const starts = new Map<string, number[]>();
    const prober: Prober = async (_spec, address) => {
      starts.set(address, [...(starts.get(address) ?? []), Date.now()]);
      return { ok: true, reason: null, detail: '', rttMs: 1, capacity: null, at: Date.now() };
    };
    const m = new HealthMonitor({ prober, concurrency: 100, log, onChange: () => undefined, now: slowClock });
    m.start();
    // three targets at different phases of the whole-second tick
    for (let n = 1; n <= 3; n++) {
      m.sync(targets(n));
      m.tick();
      await new Promise((r) => setTimeout(r, 300));
    }
    await new Promise((r) => setTimeout(r, 3600));
    await m.stop();
    const gaps = [...starts.values()].flatMap((ts) => ts.slice(1).map((t, i) => t - ts[i]!));
    // 1000 ms by the slow clock. A missed wake-up waits for the next whole-second tick, up to a
    // second late; of three targets 300 ms apart, at least two would be more than 300 ms late.
    // So 300 ms of slack for a loaded machine (a CI run beside other jobs saw 196 ms) still fails it.
    const late = gaps.filter((g) => g > 1300);
    assert.deepEqual(late, [], `of ${gaps.length} gaps: ${gaps.join(', ')}`);
    assert.ok(gaps.length >= 9, `${gaps.length} gaps`);
  });
});
