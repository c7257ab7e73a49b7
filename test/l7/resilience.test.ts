/** Health and resilience over real sockets: checks, ejection, panic, slow start, drain, stickiness, retries, circuit breaking, reload. */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { describe, it } from 'node:test';
import { runProbe } from '../../src/health/probes/index.js';
import { json, pool, request, startBackends, startBalancer, tally, waitFor, type TestBackend, type TestBalancer } from './helpers.js';

async function withSetup(n: number, config: (b: TestBackend[]) => Record<string, unknown>, body: (lb: TestBalancer, b: TestBackend[]) => Promise<void>): Promise<void> {
  const backends = await startBackends(n);
  const lb = await startBalancer(config(backends));
  try {
    await body(lb, backends);
  } finally {
    await lb.close();
    await Promise.all(backends.map((b) => b.close()));
  }
}

const fastChecks = { path: '/healthz', intervalMs: 100, timeoutMs: 200, rise: 1, fall: 1 };

/** Starts a GET and resolves when it answers; the backend's handler decides when. */
function inFlight(url: string): Promise<{ status: number; body: string }> {
  return request(url).then((r) => ({ status: r.status, body: r.body }));
}

describe('active health checks', () => {
  it('take a failing backend out, put it back when it passes, and /healthz tells the GSLB', () =>
    withSetup(
      3,
      (b) => ({ pools: { default: pool(b, { healthCheck: fastChecks }) } }),
      async (lb, [a, b, c]) => {
        b!.healthStatus = 503;
        await waitFor(() => lb.balancer.health().healthy === 2, 3000, 'b to go down');
        const counts = await tally(`${lb.url}/`, 20);
        assert.deepEqual([...counts.entries()].sort(), [
          ['a', 10],
          ['c', 10],
        ]);
        const h = await json(`${lb.adminUrl}/healthz`);
        assert.equal(h.status, 200);
        assert.deepEqual(h.body, { up: true, healthy: 2, total: 3, capacity: 0.667, draining: false, drained: false });
        // The GSLB's own balancer probe reads it as up with two thirds of capacity.
        const probe = await runProbe(
          { type: 'balancer', path: '/healthz', https: false, verifyTls: false, port: Number(new URL(lb.adminUrl).port), intervalSec: 1, timeoutMs: 1000, rise: 1, fall: 1, jitterMs: 0 },
          '127.0.0.1',
          new AbortController().signal,
        );
        assert.equal(probe.ok, true);
        assert.equal(probe.capacity, 0.667);

        a!.healthStatus = 503;
        c!.healthStatus = 503;
        await waitFor(() => lb.balancer.health().healthy === 0, 3000, 'all down');
        const down = await json(`${lb.adminUrl}/healthz`);
        assert.equal(down.status, 503);
        assert.equal(down.body.up, false);
        const lost = await runProbe(
          { type: 'balancer', path: '/healthz', https: false, verifyTls: false, port: Number(new URL(lb.adminUrl).port), intervalSec: 1, timeoutMs: 1000, rise: 1, fall: 1, jitterMs: 0 },
          '127.0.0.1',
          new AbortController().signal,
        );
        assert.equal(lost.ok, false);

        a!.healthStatus = b!.healthStatus = c!.healthStatus = 200;
        await waitFor(() => lb.balancer.health().healthy === 3, 3000, 'all back');
        assert.equal((await tally(`${lb.url}/`, 9)).size, 3);
      },
    ));

  it('with too few healthy backends (panic threshold), spreads over all of them', () =>
    withSetup(
      3,
      (b) => ({ pools: { default: pool(b, { healthCheck: fastChecks, panicThresholdPercent: 50 }) } }),
      async (lb, [a, b]) => {
        a!.healthStatus = 503;
        b!.healthStatus = 503;
        await waitFor(() => lb.balancer.health().healthy === 1, 3000, 'two down');
        assert.equal(lb.balancer.runtime.pools.get('default')!.panic, true);
        // 1 of 3 healthy is under 50%: the survivor is not crushed; every backend takes a share.
        assert.equal((await tally(`${lb.url}/`, 9)).size, 3);
        const status = await json(`${lb.adminUrl}/status`);
        assert.equal(status.body.pools[0].panic, true);
      },
    ));

  it('without a panic threshold only healthy backends serve', () =>
    withSetup(
      3,
      (b) => ({ pools: { default: pool(b, { healthCheck: fastChecks, panicThresholdPercent: 0 }) } }),
      async (lb, [a, b]) => {
        a!.healthStatus = 503;
        b!.healthStatus = 503;
        await waitFor(() => lb.balancer.health().healthy === 1, 3000, 'two down');
        assert.deepEqual([...(await tally(`${lb.url}/`, 6)).entries()], [['c', 6]]);
      },
    ));

  it('slow start: a recovered backend gets less than its share at first, all of it after the window', () =>
    withSetup(
      2,
      (b) => ({ pools: { default: pool(b, { healthCheck: fastChecks, slowStartMs: 4000, panicThresholdPercent: 0 }) } }),
      async (lb, [, b]) => {
        b!.healthStatus = 503;
        await waitFor(() => lb.balancer.health().healthy === 1, 3000, 'b down');
        b!.healthStatus = 200;
        await waitFor(() => lb.balancer.health().healthy === 2, 3000, 'b back');
        const t0 = Date.now();
        const early = await tally(`${lb.url}/`, 30);
        const elapsed = Date.now() - t0;
        const share = (early.get('b') ?? 0) / 30;
        // Round robin alone gives 50%. Ramping, b keeps a pick with probability max(0.1, t/window),
        // so its share is at most f/(1+f) for the largest f reached; a margin covers chance.
        const f = Math.max(0.1, elapsed / 4000);
        assert.ok(share < f / (1 + f) + 0.15, `b's share right after recovery: ${share} (${elapsed} ms into the ramp)`);
        const status = await json(`${lb.adminUrl}/status`);
        assert.equal(status.body.pools[0].backends[1].slowStart, true);
        await waitFor(async () => (await json(`${lb.adminUrl}/status`)).body.pools[0].backends[1].slowStart === false || Date.now() - t0 > 4100, 6000, 'the window to pass');
        const later = await tally(`${lb.url}/`, 40);
        assert.equal(later.get('b'), 20, 'after the window it has its full round-robin share');
      },
    ));
});

describe('passive health (outlier ejection)', () => {
  it('ejects a backend after consecutive 5xx, for a growing time, and brings it back', () =>
    withSetup(
      2,
      (b) => ({ pools: { default: pool(b, { outlierDetection: { consecutiveErrors: 3, baseEjectionMs: 300, maxEjectionMs: 5000, maxEjectedPercent: 50 } }) } }),
      async (lb, [a]) => {
        a!.handler = (_req, res) => {
          res.statusCode = 500;
          res.end('a broken');
        };
        const p = lb.balancer.runtime.pools.get('default')!;
        const first = await tally(`${lb.url}/`, 6); // a answers 500 three times, then is out
        assert.equal(first.get('HTTP 500'), 3);
        const ba = p.find('a')!;
        assert.equal(ba.ejections, 1);
        assert.equal(ba.ejectedUntil - ba.ejectedAt, 300, 'the first ejection lasts baseEjectionMs');
        if (ba.isEjected(Date.now())) assert.deepEqual([...(await tally(`${lb.url}/`, 4)).entries()], [['b', 4]]);
        await waitFor(() => !ba.isEjected(Date.now()), 2000, 'a back');
        // Requests until a has failed three more times: how many reach it first depends on how
        // the balancer spreads them right after a comes back (once 6 were not enough in CI).
        for (let i = 0; i < 10 && ba.ejections < 2; i++) await tally(`${lb.url}/`, 3);
        assert.equal(ba.ejections, 2);
        assert.equal(ba.ejectedUntil - ba.ejectedAt, 600, 'the second lasts twice as long');
        const metrics = await request(`${lb.adminUrl}/metrics`);
        assert.match(metrics.body, /meridian_l7_ejections_total\{pool="default"\} 2/);
      },
    ));

  it("does not count a backend's errors while it is ejected, so it is not ejected again on its first error back", () =>
    // panicThresholdPercent 100: with one backend out the pool panics and still sends the ejected one requests.
    withSetup(
      2,
      (b) => ({ pools: { default: pool(b, { panicThresholdPercent: 100, outlierDetection: { consecutiveErrors: 3, baseEjectionMs: 3000, maxEjectedPercent: 50 } }) } }),
      async (lb, [a]) => {
        a!.handler = (_req, res) => ((res.statusCode = 500), res.end('a broken'));
        const ba = lb.balancer.runtime.pools.get('default')!.find('a')!;
        await tally(`${lb.url}/`, 6); // three 500s in a row from a: ejected
        assert.equal(ba.ejections, 1);
        const during = await tally(`${lb.url}/`, 6);
        assert.equal(during.get('HTTP 500'), 3, 'panic mode still sends the ejected backend its share');
        assert.ok(ba.isEjected(Date.now()), 'those errors came while it was ejected');
        await waitFor(() => !ba.isEjected(Date.now()), 5000, 'the ejection to end');
        assert.equal((await tally(`${lb.url}/`, 2)).get('HTTP 500'), 1);
        assert.equal(ba.ejections, 1, 'one error after the ejection is not three in a row');
      },
    ));

  it('never ejects more than maxEjectedPercent of the pool', () =>
    withSetup(
      2,
      (b) => ({ pools: { default: pool(b, { outlierDetection: { consecutiveErrors: 2, baseEjectionMs: 10_000, maxEjectedPercent: 50 } }) } }),
      async (lb, backends) => {
        for (const b of backends) b.handler = (_req, res) => ((res.statusCode = 503), res.end());
        await tally(`${lb.url}/`, 12);
        const ejected = lb.balancer.runtime.pools.get('default')!.backends.filter((b) => b.isEjected(Date.now()));
        assert.equal(ejected.length, 1);
      },
    ));
});

describe('draining', () => {
  it('a drained backend takes no new requests, finishes the one in flight, then reports drained', () =>
    withSetup(
      2,
      (b) => ({ pools: { default: pool(b, { algorithm: 'round-robin' }) } }),
      async (lb, [a]) => {
        let release!: () => void;
        a!.handler = (_req, res) => {
          release = () => res.end('a slow');
        };
        const pending = inFlight(`${lb.url}/`);
        await waitFor(() => a!.hits === 1, 2000, 'a request at a');
        const drain = await json(`${lb.adminUrl}/drain`, { method: 'POST', body: { backend: 'default/a' } });
        assert.deepEqual(drain.body, { backend: 'default/a', draining: true, drained: false, inFlight: 1 });
        assert.deepEqual([...(await tally(`${lb.url}/`, 4)).entries()], [['b', 4]]);
        release();
        assert.deepEqual(await pending, { status: 200, body: 'a slow' });
        const status = await json(`${lb.adminUrl}/status`);
        assert.equal(status.body.pools[0].backends[0].drained, true);
        await json(`${lb.adminUrl}/undrain`, { method: 'POST', body: { backend: 'default/a' } });
        a!.handler = (_req, res) => res.end('a');
        assert.equal((await tally(`${lb.url}/`, 4)).get('a'), 2);
        assert.equal((await json(`${lb.adminUrl}/drain`, { method: 'POST', body: { backend: 'default/zz' } })).status, 404);
        assert.equal((await json(`${lb.adminUrl}/drain`, { method: 'POST', body: { backend: 'default/a', extra: 1 } })).status, 400);
      },
    ));

  it('the whole balancer drains: new requests get 503, /healthz says draining, in-flight ones finish', () =>
    withSetup(
      1,
      (b) => ({ pools: { default: pool(b) } }),
      async (lb, [a]) => {
        let release!: () => void;
        a!.handler = (_req, res) => {
          release = () => res.end('done');
        };
        const pending = inFlight(`${lb.url}/`);
        await waitFor(() => a!.hits === 1, 2000, 'a request in flight');
        assert.deepEqual((await json(`${lb.adminUrl}/drain`, { method: 'POST' })).body, { draining: true, drained: false });
        const refused = await request(`${lb.url}/`);
        assert.equal(refused.status, 503);
        assert.equal(refused.headers['x-meridian-error'], 'L7_DRAINING');
        const h = await json(`${lb.adminUrl}/healthz`);
        assert.equal(h.status, 503);
        assert.equal(h.body.draining, true);
        release();
        assert.equal((await pending).body, 'done');
        assert.equal((await json(`${lb.adminUrl}/healthz`)).body.drained, true);
        a!.handler = (_req, res) => res.end('a');
        await json(`${lb.adminUrl}/undrain`, { method: 'POST' });
        assert.equal((await request(`${lb.url}/`)).status, 200);
      },
    ));
});

describe('cookie stickiness', () => {
  it('keeps a client on its backend, ignores a forged cookie, and falls back when the backend is down', () =>
    withSetup(
      3,
      (b) => ({ pools: { default: pool(b, { sticky: { cookie: 'lb', secret: 'a-secret-of-16-chars' } }) } }),
      async (lb) => {
        const first = await request(`${lb.url}/`);
        const cookie = String(first.headers['set-cookie']).split(';')[0]!;
        assert.match(cookie, /^lb=[a-c]\.[A-Za-z0-9_-]{22}$/);
        const home = first.body;
        for (let i = 0; i < 6; i++) {
          const r = await request(`${lb.url}/`, { headers: { cookie: `other=1; ${cookie}` } });
          assert.equal(r.body, home);
          assert.equal(r.headers['set-cookie'], undefined, 'no new cookie while it holds');
        }
        const forged = cookie.replace(/^lb=[a-c]/, `lb=${home === 'a' ? 'b' : 'a'}`);
        const f = await tally(`${lb.url}/`, 6, { cookie: forged });
        assert.equal(f.size, 3, 'a forged cookie is ignored (round robin as usual)');
        await json(`${lb.adminUrl}/drain`, { method: 'POST', body: { backend: `default/${home}` } });
        const moved = await request(`${lb.url}/`, { headers: { cookie } });
        assert.notEqual(moved.body, home);
        assert.match(String(moved.headers['set-cookie']), new RegExp(`^lb=${moved.body}\\.`), 'the fallback backend is written into a new cookie');
      },
    ));
});

describe('retries', () => {
  /** A backend that counts requests and reads each one whole before failing it: reset (RST) or 503. */
  const failing = (b: TestBackend, how: 'reset' | '503'): void => {
    b.handler = (req, res) => {
      req.resume();
      req.on('end', () => (how === 'reset' ? req.socket.resetAndDestroy() : ((res.statusCode = 503), res.end('busy'))));
    };
  };
  const echo = (b: TestBackend): void => {
    b.handler = (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`${b.id}:${Buffer.concat(chunks).toString()}`));
    };
  };
  const send = async (url: string, n: number, method: string): Promise<Map<string, number>> => {
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const r = await request(url, { method, ...(method === 'POST' && { body: 'x' }) });
      const key = r.status === 200 ? r.body : `HTTP ${r.status}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  };
  // Outlier ejection off, so the failing backend keeps its turn in the round robin.
  const noEjection = { outlierDetection: { consecutiveErrors: 0 } };

  it('by default retries a connect failure on another backend, for every method: nothing was delivered', () =>
    // The check passes once, then the backend dies: until its next check (a minute away) it is picked and refuses.
    withSetup(
      2,
      (b) => ({ pools: { default: pool(b, { ...noEjection, healthCheck: { type: 'tcp', intervalMs: 60_000 } }) } }),
      async (lb, [a, b]) => {
        await a!.close();
        echo(b!);
        assert.deepEqual([...(await send(`${lb.url}/`, 4, 'GET')).entries()], [['b:', 4]], 'every GET answered by b');
        assert.deepEqual([...(await send(`${lb.url}/`, 4, 'POST')).entries()], [['b:x', 4]], 'every POST too, body and all');
        assert.ok(lb.balancer.metrics.retries >= 4, `${lb.balancer.metrics.retries} retries`);
      },
    ));

  it('by default never repeats a request the backend may have run: a reset after reading it, or a 503, reaches the client once', () =>
    withSetup(
      2,
      (b) => ({ pools: { default: pool(b, noEjection) } }),
      async (lb, [a, b]) => {
        failing(a!, 'reset');
        const gets = await send(`${lb.url}/`, 6, 'GET');
        assert.equal(gets.get('HTTP 502'), a!.hits, 'each GET that reached a ran once there and got 502');
        assert.equal(a!.hits + b!.hits, 6, 'no request ran twice');
        assert.ok(a!.hits >= 1);
        failing(a!, '503');
        a!.hits = b!.hits = 0;
        const busy = await send(`${lb.url}/`, 6, 'DELETE');
        assert.equal(busy.get('HTTP 503'), a!.hits, "a's 503 is passed on");
        assert.equal(a!.hits + b!.hits, 6);
        assert.equal(lb.balancer.metrics.retries, 0);
      },
    ));

  it('with retries.on [reset-before-response, 5xx] retries a GET once on another backend, never a POST', () =>
    withSetup(
      2,
      (b) => ({ pools: { default: pool(b, { ...noEjection, retries: { on: ['reset-before-response', '5xx'] } }) } }),
      async (lb, [a, b]) => {
        for (const how of ['reset', '503'] as const) {
          failing(a!, how);
          a!.hits = b!.hits = 0;
          const gets = await send(`${lb.url}/`, 6, 'GET');
          assert.deepEqual([...gets.entries()], [['b', 6]], `after a ${how} every GET is answered by b`);
          assert.equal(b!.hits, 6);
          assert.ok(a!.hits >= 1 && a!.hits <= 6, `${a!.hits} GETs tried a first`);
          a!.hits = b!.hits = 0;
          const posts = await send(`${lb.url}/`, 6, 'POST');
          assert.equal(posts.get(how === 'reset' ? 'HTTP 502' : 'HTTP 503'), a!.hits, `a POST that met a ${how} is not retried`);
          assert.equal(a!.hits + b!.hits, 6, 'no POST ran twice');
        }
      },
    ));

  it('keeps within the attempts: with both backends failing a GET runs at most twice', () =>
    withSetup(
      2,
      (b) => ({ pools: { default: pool(b, { ...noEjection, retries: { attempts: 1, on: ['5xx'] } }) } }),
      async (lb, backends) => {
        for (const b of backends) failing(b, '503');
        const r = await request(`${lb.url}/`);
        assert.equal(r.status, 503);
        assert.equal(backends[0]!.hits + backends[1]!.hits, 2);
      },
    ));
});

describe('circuit breaking', () => {
  it('queues past maxRequests, then answers 503 when the queue is full or the wait too long', async () => {
    const [a] = await startBackends(1);
    const held: http.ServerResponse[] = [];
    a!.handler = (_req, res) => void held.push(res);
    const lb = await startBalancer({ pools: { default: { backends: [{ id: 'a', address: a!.address, maxRequests: 1 }], queue: { size: 1, timeoutMs: 400 } } } });
    try {
      const first = inFlight(`${lb.url}/1`);
      await waitFor(() => held.length === 1, 2000, 'first request held');
      const second = inFlight(`${lb.url}/2`); // waits in the queue
      await waitFor(() => lb.balancer.runtime.pools.get('default')!.queued === 1, 2000, 'second queued');
      const third = await request(`${lb.url}/3`);
      assert.equal(third.status, 503);
      assert.equal(third.headers['x-meridian-error'], 'L7_QUEUE_FULL');
      held.shift()!.end('one');
      assert.equal((await first).body, 'one');
      await waitFor(() => held.length === 1, 2000, 'second reached the backend');
      held.shift()!.end('two');
      assert.equal((await second).body, 'two');
      // Now a wait that outlasts the queue timeout.
      const blocker = inFlight(`${lb.url}/4`);
      await waitFor(() => held.length === 1, 2000, 'blocker held');
      const waited = await request(`${lb.url}/5`);
      assert.equal(waited.status, 503);
      assert.equal(waited.headers['x-meridian-error'], 'L7_QUEUE_TIMEOUT');
      held.shift()!.end('four');
      await blocker;
    } finally {
      for (const r of held) r.end();
      await lb.close();
      await a!.close();
    }
  });
});

describe('hot reload', () => {
  it('applies a new config without dropping a request in flight; a bad config keeps the old one', () =>
    withSetup(
      2,
      (b) => ({ pools: { default: pool([b[0]!]) } }),
      async (lb, [a, b]) => {
        let release!: () => void;
        a!.handler = (_req, res) => {
          release = () => res.end('a survived');
        };
        const pending = inFlight(`${lb.url}/`);
        await waitFor(() => a!.hits === 1, 2000, 'request in flight');
        lb.write({ listen: '127.0.0.1:0', admin: { listen: '127.0.0.1:0' }, pools: { default: pool([a!, b!], { algorithm: 'weighted-round-robin' }) } });
        // listen/admin differ from the running ones (ports given by the OS): they are kept, the rest applies.
        assert.deepEqual((await json(`${lb.adminUrl}/reload`, { method: 'POST' })).body, { reloaded: true });
        a!.handler = (_req, res) => res.end('a');
        assert.equal((await tally(`${lb.url}/`, 4)).get('b'), 2, 'the added backend serves');
        release();
        assert.equal((await pending).body, 'a survived');
        lb.write('pools:\n  default:\n    algorithm: fastest\n    backends: []\n');
        const bad = await json(`${lb.adminUrl}/reload`, { method: 'POST' });
        assert.equal(bad.status, 400);
        assert.match(bad.body.message, /balancer\.yaml:3: pools\.default\.algorithm/);
        assert.equal((await tally(`${lb.url}/`, 4)).size, 2, 'the old config keeps serving');
      },
    ));
});

describe('status and metrics', () => {
  it('/status lists each backend with state, in-flight, counts and latency; /metrics has them for Prometheus', () =>
    withSetup(
      2,
      (b) => ({ pools: { default: pool(b, { healthCheck: fastChecks }) } }),
      async (lb) => {
        await tally(`${lb.url}/`, 4);
        const s = await json(`${lb.adminUrl}/status`);
        const a = s.body.pools[0].backends[0];
        assert.equal(a.id, 'a');
        assert.equal(a.health, 'up');
        assert.equal(a.serving, true);
        assert.equal(a.requests, 2);
        assert.equal(a.responses['2xx'], 2);
        assert.equal(a.inFlight, 0);
        assert.ok(a.latencyMs > 0);
        const m = (await request(`${lb.adminUrl}/metrics`)).body;
        assert.match(m, /meridian_l7_requests_total\{pool="default",backend="a"\} 2/);
        assert.match(m, /meridian_l7_backend_up\{pool="default",backend="b"\} 1/);
        assert.match(m, /meridian_l7_response_header_seconds_count\{pool="default"\} 4/);
      },
    ));

  it('refuses drain without the token when one is set', async () => {
    const [a] = await startBackends(1);
    const lb = await startBalancer({ admin: { listen: '127.0.0.1:0', token: 'sixteen-chars-token' }, pools: { default: pool([a!]) } });
    try {
      assert.equal((await json(`${lb.adminUrl}/drain`, { method: 'POST' })).status, 401);
      assert.equal((await json(`${lb.adminUrl}/drain`, { method: 'POST', token: 'sixteen-chars-token' })).status, 200);
      assert.equal((await json(`${lb.adminUrl}/healthz`)).status, 503, 'reads stay open');
    } finally {
      await lb.close();
      await a!.close();
    }
  });
});

describe('backend limits', () => {
  it('opens at most maxConnections connections to a backend, queueing requests on them', async () => {
    const [a] = await startBackends(1);
    const sockets = new Set<unknown>();
    a!.handler = (req, res) => {
      sockets.add(req.socket);
      setTimeout(() => res.end('a'), 50);
    };
    const lb = await startBalancer({ pools: { default: { backends: [{ id: 'a', address: a!.address, maxConnections: 1 }] } } });
    try {
      const replies = await Promise.all(Array.from({ length: 4 }, () => request(`${lb.url}/`)));
      assert.deepEqual(
        replies.map((r) => r.body),
        ['a', 'a', 'a', 'a'],
      );
      assert.equal(sockets.size, 1, 'four concurrent requests over one backend connection');
    } finally {
      await lb.close();
      await a!.close();
    }
  });

  it('answers 503 with L7_NO_BACKEND when every backend of the pool is drained', () =>
    withSetup(
      2,
      (b) => ({ pools: { default: pool(b) } }),
      async (lb) => {
        await json(`${lb.adminUrl}/drain`, { method: 'POST', body: { backend: 'default/a' } });
        await json(`${lb.adminUrl}/drain`, { method: 'POST', body: { backend: 'default/b' } });
        const r = await request(`${lb.url}/`);
        assert.equal(r.status, 503);
        assert.equal(r.headers['x-meridian-error'], 'L7_NO_BACKEND');
        assert.match(r.body, /pool default has no usable backend/);
      },
    ));
});
