/**
 * Issue #20 item 5: the failover budget is an honest upper bound. The formula, term by
 * term; then, over real sockets, a primary that freezes (or closes) just after a probe
 * passed — the worst phase — must move DNS answers within the computed bound.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { nameToText } from '../../src/dns/name.js';
import { failoverBound, slowerBound, type FailoverBound } from '../../src/health/failover-bound.js';
import type { RunningServer } from '../../src/main.js';
import { udp } from '../support/dns-client.js';
import { startFailoverServer, writeFailoverZone } from '../support/failover-zone.js';
import { listen, stopHttp } from './probes/servers.js';

describe('failover bound formula', () => {
  // [fall, rise, interval s, jitter ms, timeout ms, ttl, downTtl] → [failover s, recovery s]
  const table: Array<[number, number, number, number, number, number, number | null, number, number]> = [
    [2, 2, 1, 0, 300, 5, null, 2.3 + 5, 2.3 + 5], // no jitter: the old fall × interval + timeout + TTL
    [3, 2, 2, 250, 500, 0, null, 3 * 2.25 + 0.5, 2 * 2.25 + 0.5], // the case: 6.5 s without jitter, 7.25 s with
    [2, 3, 1, 500, 300, 5, 1, 3.3 + 5, 4.8 + 1], // downTtl shortens recovery only
    [1, 1, 10, 0, 2000, 30, 60, 12 + 30, 12 + 30], // a downTtl above ttl changes nothing: resolvers get min(ttl, downTtl)
    [2, 2, 5, 250, 2000, 30, 0, 12.5 + 30, 12.5 + 0], // downTtl 0: the degraded answer is never cached
  ];
  for (const [fall, rise, intervalSec, jitterMs, timeoutMs, ttl, downTtl, failover, recovery] of table) {
    it(`fall ${fall}, rise ${rise}, interval ${intervalSec} s, jitter ${jitterMs} ms, timeout ${timeoutMs} ms, ttl ${ttl}, downTtl ${downTtl}`, () => {
      const b = failoverBound({ fall, rise, intervalSec, jitterMs, timeoutMs }, ttl, downTtl);
      assert.ok(Math.abs(b.failoverSec - failover) < 1e-9, `failover ${b.failoverSec} ≠ ${failover}`);
      assert.ok(Math.abs(b.recoverySec - recovery) < 1e-9, `recovery ${b.recoverySec} ≠ ${recovery}`);
      assert.ok(Math.abs(b.failoverSec - b.detectSec - ttl) < 1e-9);
    });
  }

  it('a name takes its slowest probed target', () => {
    const fast = failoverBound({ fall: 1, rise: 1, intervalSec: 1, jitterMs: 0, timeoutMs: 100 }, 5, null);
    const slow = failoverBound({ fall: 3, rise: 1, intervalSec: 1, jitterMs: 0, timeoutMs: 100 }, 5, null);
    assert.equal(slowerBound(slowerBound(null, fast), slow), slow);
    assert.equal(slowerBound(slow, fast), slow);
  });
});

/**
 * What the bound does not hold and the test allows for, fixed: the wake-up timer of each of
 * the fall probes and the probe's own deadline firing late on an event loop shared with the
 * DNS server and this test (2 busy cores), the 10 ms poll, one query's round trip, and the
 * connect before the passing probe's request reached the region.
 */
const SCHEDULING_ALLOWANCE_MS = 400;

const INTERVAL_S = 1;
const TIMEOUT_MS = 300;
const FALL = 3;
const RISE = 1;
const JITTER_MS = 500; // the most a 1 s interval allows: each of the fall probes may start up to 0.5 s late

/** An HTTP region that, once armed, answers one more probe and then fails: frozen (never answers) or closed. */
class Region {
  server: http.Server | null = null;
  held: http.ServerResponse[] = [];
  frozen = false;
  arm: { mode: 'freeze' | 'close'; failedAt: (t: number) => void } | null = null;
  constructor(readonly host: string) {}

  async start(port: number): Promise<number> {
    const s = http.createServer((_req, res) => {
      if (this.frozen) {
        this.held.push(res);
        return;
      }
      res.writeHead(200, { connection: 'close' }).end('ok');
      const arm = this.arm;
      if (arm === null) return;
      // the worst phase: this probe started a moment ago and passes; the target fails now
      this.arm = null;
      arm.failedAt(performance.now());
      if (arm.mode === 'freeze') this.frozen = true;
      else res.once('finish', () => void this.stop());
    });
    this.server = s;
    return listen(s, this.host, port);
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    await stopHttp(s);
  }

  thaw(): void {
    this.frozen = false;
    for (const res of this.held) res.destroy();
    this.held = [];
  }
}

describe('measured failover never exceeds the computed worst case (real sockets)', () => {
  it('a primary frozen, then closed, just after a passing probe moves answers within the bound; recovery too', async () => {
    const primary = new Region('127.0.0.2');
    const secondary = new Region('127.0.0.3');
    const port = await primary.start(0);
    await secondary.start(port);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-bound-'));
    let s: RunningServer | null = null;
    try {
      writeFailoverZone(dir, 'hb.test', { port, intervalSec: INTERVAL_S, timeoutMs: TIMEOUT_MS, fall: FALL, rise: RISE, jitterMs: JITTER_MS }, 1);
      s = await startFailoverServer(dir, 3000);
      const dnsPort = s.addresses[0]!.port;
      // the bound as the server compiled it from the policy file, the one `check` prints
      let bound: FailoverBound | null = null;
      for (const zone of s.store.current.zones.values()) for (const n of zone.steered.values()) if (nameToText(n.owner) === 'www.hb.test.') bound = n.failover;
      assert.ok(bound !== null);
      assert.equal(bound.jitterSec, JITTER_MS / 1000);

      const answer = async (): Promise<string> => String((await udp(dnsPort, 'www.hb.test', 'A')).msg.answers[0]?.data);
      /** Polls every 10 ms; returns when the answer became `expected` (performance.now()). */
      const until = async (expected: string, limitMs: number): Promise<number> => {
        const t0 = performance.now();
        for (;;) {
          if ((await answer()) === expected) return performance.now();
          if (performance.now() - t0 > limitMs) throw new Error(`answer still not ${expected} after ${limitMs} ms`);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      assert.equal(await answer(), '192.0.2.1');

      const detectMs = bound.detectSec * 1000;
      const recoverMs = bound.recoverDetectSec * 1000;
      for (const mode of ['freeze', 'close'] as const) {
        const failed = new Promise<number>((resolve) => (primary.arm = { mode, failedAt: resolve }));
        const failedAt = await failed;
        const moved = (await until('192.0.2.2', detectMs + 5000)) - failedAt;
        // The TTL term is the resolvers' part: they keep the last old answer at most `ttl` s after this moment.
        assert.ok(moved <= detectMs + SCHEDULING_ALLOWANCE_MS, `${mode}: answers moved after ${moved.toFixed(0)} ms, bound ${detectMs} ms + ${SCHEDULING_ALLOWANCE_MS} ms allowance`);
        // (fall − 1) intervals at least: the bound is not loose by construction
        assert.ok(moved >= (FALL - 1) * INTERVAL_S * 1000, `${mode}: moved after only ${moved.toFixed(0)} ms`);
        process.stdout.write(`# ${mode}: failover ${moved.toFixed(0)} ms (bound ${detectMs} ms + ttl)\n`);

        // Recovery, from the moment the target works again.
        let back: number;
        if (mode === 'freeze') {
          back = performance.now();
          primary.thaw();
        } else {
          await primary.start(port);
          back = performance.now();
        }
        const recovered = (await until('192.0.2.1', recoverMs + 5000)) - back;
        assert.ok(recovered <= recoverMs + SCHEDULING_ALLOWANCE_MS, `${mode}: recovery took ${recovered.toFixed(0)} ms, bound ${recoverMs} ms + allowance`);
        process.stdout.write(`# ${mode}: recovery ${recovered.toFixed(0)} ms (bound ${recoverMs} ms + min(ttl, downTtl))\n`);
      }
    } finally {
      await s?.close();
      primary.thaw();
      await primary.stop();
      await secondary.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
