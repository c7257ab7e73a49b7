/**
 * Issue #4, measured: real HTTP servers on 127.0.0.2 and 127.0.0.3 as regions, a failover
 * policy, real UDP queries. Killing the primary moves answers within fall × interval +
 * timeout (plus a margin); it comes back after `rise` probes;
 * flapping faster than the thresholds does not move answers; state survives a restart.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { startServer, type RunningServer } from '../../src/main.js';
import { udp } from '../support/dns-client.js';
import { listen, stopHttp } from './probes/servers.js';

const INTERVAL_S = 1;
const TIMEOUT_MS = 300;
const FALL = 2;
const RISE = 2;
/** Detection bound of the issue (fall × interval + timeout), plus a margin for a loaded CI machine. */
const DETECT_BOUND_MS = FALL * INTERVAL_S * 1000 + TIMEOUT_MS + 1000;

/** An HTTP "region" whose answers the test controls. */
class Region {
  server: http.Server | null = null;
  status = 200;
  /** When set, every request gets the opposite of the previous answer: pass, fail, pass… */
  alternate = false;
  requests = 0;
  constructor(readonly host: string) {}
  async start(port: number): Promise<number> {
    this.server = http.createServer((_req, res) => {
      this.requests++;
      if (this.alternate) this.status = this.status === 200 ? 503 : 200;
      res.writeHead(this.status, { 'content-type': 'text/plain', connection: 'close' }).end('ok');
    });
    return listen(this.server, this.host, port);
  }
  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    await stopHttp(s);
  }
}

const primary = new Region('127.0.0.2');
const secondary = new Region('127.0.0.3');
let port = 0;
let dir = '';

function writeZones(d: string, p: number): void {
  fs.writeFileSync(path.join(d, 'hc.test.zone'), '$TTL 60\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n');
  fs.writeFileSync(
    path.join(d, 'hc.test.policy.yaml'),
    `probes:
  web: { type: http, port: ${p}, path: /health, interval: ${INTERVAL_S}, timeout: ${TIMEOUT_MS}, fall: ${FALL}, rise: ${RISE}, jitter: 0 }
targets:
  primary:   { region: one, ipv4: [192.0.2.1], probe: web, probeAddress: 127.0.0.2 }
  secondary: { region: two, ipv4: [192.0.2.2], probe: web, probeAddress: 127.0.0.3 }
names:
  www:
    ttl: 5
    policy:
      - failover:
          groups: [{ targets: [primary] }, { targets: [secondary] }]
`,
  );
}

async function start(stateFile: string | null, startupWaitMs = 3000): Promise<RunningServer & { port: number }> {
  const base = loadConfig(null, { listen: ['127.0.0.1:0'], zonesDir: dir, logLevel: 'silent' }, {});
  const config = { ...base, zones: { ...base.zones, watch: false }, health: { ...base.health, stateFile, startupWaitMs }, admin: { ...base.admin, listen: null } };
  const s = await startServer(config, pino({ level: 'silent' }));
  return Object.assign(s, { port: s.addresses[0]!.port });
}

const answer = async (p: number): Promise<string> => String((await udp(p, 'www.hc.test', 'A')).msg.answers[0]?.data);

/** Polls DNS every 50 ms until the answer is `expected`; returns the ms it took. */
async function untilAnswer(p: number, expected: string, limitMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    if ((await answer(p)) === expected) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`answer did not become ${expected} within ${limitMs} ms (still ${await answer(p)})`);
}

before(async () => {
  port = await primary.start(0);
  await secondary.start(port);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-health-'));
  writeZones(dir, port);
});
after(async () => {
  await primary.stop();
  await secondary.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('failover driven by health probes', () => {
  it('answers the primary once the first probe round says it is up', async () => {
    const s = await start(null);
    try {
      assert.equal(await answer(s.port), '192.0.2.1');
      const states = [...s.health.states().values()];
      assert.deepEqual(states.map((x) => x.health.status).sort(), ['up', 'up']);
      assert.ok(
        states.every((x) => x.health.rttMs !== null),
        'probe RTTs are kept',
      );
    } finally {
      await s.close();
    }
  });

  it('moves answers away within the bound when the primary dies, and back after rise probes', async () => {
    const s = await start(null);
    try {
      assert.equal(await answer(s.port), '192.0.2.1');
      await primary.stop();
      const detect = await untilAnswer(s.port, '192.0.2.2', DETECT_BOUND_MS + 2000);
      assert.ok(detect <= DETECT_BOUND_MS, `failover took ${detect} ms, bound ${DETECT_BOUND_MS} ms`);
      const state = s.health.states().get('hc.test/primary')!.health;
      assert.equal(state.status, 'down');
      assert.ok(['refused', 'reset'].includes(state.lastFailure!.reason), state.lastFailure!.reason);

      await primary.start(port);
      const restartedAt = Date.now();
      const recover = await untilAnswer(s.port, '192.0.2.1', RISE * INTERVAL_S * 1000 + TIMEOUT_MS + 3000);
      // It needs `rise` passing probes one interval apart: never sooner than (rise − 1) intervals.
      assert.ok(Date.now() - restartedAt >= (RISE - 1) * INTERVAL_S * 1000 - 100, `came back after ${recover} ms`);
    } finally {
      await s.close();
    }
  });

  it('does not flap when the primary alternates between passing and failing', async () => {
    const s = await start(null);
    primary.status = 503; // the next probe passes, the one after fails, and so on
    primary.alternate = true;
    const before = primary.requests;
    try {
      const seen = new Set<string>();
      const until = Date.now() + 5 * INTERVAL_S * 1000;
      while (Date.now() < until) {
        seen.add(await answer(s.port));
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(primary.requests - before >= 4, `${primary.requests - before} probes`);
      assert.deepEqual([...seen], ['192.0.2.1'], 'one failure at a time never reaches fall = 2');
    } finally {
      primary.alternate = false;
      primary.status = 200;
      await s.close();
    }
  });

  it('keeps health state across a restart', async () => {
    const stateFile = path.join(dir, 'state', 'health.json');
    const first = await start(stateFile);
    try {
      await primary.stop();
      await untilAnswer(first.port, '192.0.2.2', DETECT_BOUND_MS + 2000);
    } finally {
      await first.close();
    }
    assert.ok(fs.existsSync(stateFile));
    // Serve at once (no start-up wait): the restored DOWN must hold until a probe says otherwise.
    const second = await start(stateFile, 0);
    try {
      const h = second.health.states().get('hc.test/primary')!.health;
      assert.equal(h.status, 'down');
      assert.ok(h.restoredAgeMs !== null && h.restoredAgeMs >= 0);
      assert.equal(await answer(second.port), '192.0.2.2');
    } finally {
      await second.close();
      await primary.start(port);
    }
  });
});
