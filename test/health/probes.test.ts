/** HTTP and TCP probes against real loopback servers: each failure reason, timeouts, aborts, no leaks. */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, it } from 'node:test';
import { runProbe } from '../../src/health/probes/index.js';
import { hostHeader } from '../../src/health/probes/request.js';
import type { ProbeResult, ProbeSpec } from '../../src/health/types.js';
import { assertNoSockets, closeServer, httpSpec, ipv6Available, listen, never, tcpSpec } from './probes/servers.js';

/** Runs `fn` against a server on `host`, then closes it and checks that nothing leaked. */
async function withServer<T>(server: net.Server, fn: (port: number) => Promise<T>, host = '127.0.0.1'): Promise<T> {
  const port = await listen(server, host);
  try {
    return await fn(port);
  } finally {
    await closeServer(server);
    await assertNoSockets();
  }
}

const withHttp = <T>(handler: http.RequestListener, fn: (port: number) => Promise<T>, host?: string): Promise<T> => withServer(http.createServer(handler), fn, host);

/** Runs the probe and measures how long it took to settle. */
async function timed(spec: ProbeSpec, address: string, signal = never): Promise<{ r: ProbeResult; ms: number }> {
  const started = performance.now();
  const r = await runProbe(spec, address, signal);
  return { r, ms: performance.now() - started };
}

function assertFailed(r: ProbeResult, reason: ProbeResult['reason'], detail?: RegExp): void {
  assert.equal(r.ok, false, `expected failure, got ${JSON.stringify(r)}`);
  assert.equal(r.reason, reason, `reason of ${JSON.stringify(r)}`);
  if (detail) assert.match(r.detail, detail);
}

const reply =
  (status: number, body = 'ok'): http.RequestListener =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
  };

describe('http probe', () => {
  it('is ok on 200, with an rtt and a fresh timestamp', async () => {
    const before = Date.now();
    const r = await withHttp(reply(200), (port) => runProbe(httpSpec(port), '127.0.0.2', never), '127.0.0.2');
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.reason, null);
    assert.equal(r.capacity, null);
    assert.ok(r.rttMs !== null && r.rttMs >= 0 && r.rttMs < 1000, `rtt ${r.rttMs}`);
    assert.ok(r.at >= before && r.at <= Date.now());
    assert.match(r.detail, /HTTP 200/);
  });

  it('fails with "status" outside the default 200-399', async () => {
    const r = await withHttp(reply(503), (port) => runProbe(httpSpec(port), '127.0.0.1', never));
    assertFailed(r, 'status', /^HTTP 503, expected 200-399$/);
    assert.ok(r.rttMs !== null, 'an answer has an rtt');
  });

  it('honours custom expect ranges', async () => {
    const expect = [
      [200, 200],
      [204, 204],
    ] as const;
    let status = 204;
    await withHttp(
      (_req, res) => res.writeHead(status).end(),
      async (port) => {
        assert.equal((await runProbe(httpSpec(port, { expect }), '127.0.0.1', never)).ok, true);
        status = 201;
        assertFailed(await runProbe(httpSpec(port, { expect }), '127.0.0.1', never), 'status', /^HTTP 201, expected 200, 204$/);
      },
    );
  });

  it('matches the body against bodyMatch', async () => {
    await withHttp(reply(200, '{"status":"green"}'), async (port) => {
      const ok = await runProbe(httpSpec(port, { bodyMatch: '"status":\\s*"green"' }), '127.0.0.1', never);
      assert.equal(ok.ok, true, ok.detail);
      const bad = await runProbe(httpSpec(port, { bodyMatch: 'red' }), '127.0.0.1', never);
      assertFailed(bad, 'body', /does not match \/red\//);
    });
  });

  it('reads at most 64 KiB of the body', async () => {
    const body = 'x'.repeat(70 * 1024) + 'MARKER';
    const r = await withHttp(reply(200, body), (port) => runProbe(httpSpec(port, { bodyMatch: 'MARKER' }), '127.0.0.1', never));
    assertFailed(r, 'body', /first 64 KiB/);
  });

  it('stops reading once the body matches, even if the body never ends', async () => {
    const handler: http.RequestListener = (_req, res) => {
      res.writeHead(200);
      res.write('healthy so far'); // and never end
    };
    const { r, ms } = await withHttp(handler, (port) => timed(httpSpec(port, { bodyMatch: 'healthy', timeoutMs: 2000 }), '127.0.0.1'));
    assert.equal(r.ok, true, r.detail);
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  it('fails with "slow" when the answer is within the timeout but slower than slowMs', async () => {
    const handler: http.RequestListener = (_req, res) => void setTimeout(() => res.end('late'), 150);
    const r = await withHttp(handler, (port) => runProbe(httpSpec(port, { slowMs: 50, timeoutMs: 1000 }), '127.0.0.1', never));
    assertFailed(r, 'slow', /slower than 50 ms/);
    assert.ok(r.rttMs !== null && r.rttMs >= 140, `rtt ${r.rttMs}`);
  });

  it('times out waiting for headers from a server that never answers', async () => {
    const { r, ms } = await withHttp(
      () => {},
      (port) => timed(httpSpec(port, { timeoutMs: 200 }), '127.0.0.1'),
    );
    assertFailed(r, 'timeout', /200 ms \(waiting for headers\)/);
    assert.equal(r.rttMs, null);
    assert.ok(ms >= 190 && ms < 600, `settled after ${ms} ms`);
  });

  it('times out waiting for a body that never completes', async () => {
    const handler: http.RequestListener = (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
    };
    const { r, ms } = await withHttp(handler, (port) => timed(httpSpec(port, { timeoutMs: 200, bodyMatch: 'done' }), '127.0.0.1'));
    assertFailed(r, 'timeout', /waiting for body/);
    assert.ok(ms < 600, `settled after ${ms} ms`);
  });

  it('fails with "refused" on a closed port', async () => {
    const server = net.createServer();
    const port = await listen(server);
    await closeServer(server);
    const r = await runProbe(httpSpec(port), '127.0.0.1', never);
    assertFailed(r, 'refused', /ECONNREFUSED/);
    assert.equal(r.rttMs, null);
    await assertNoSockets();
  });

  it('fails with "reset" when the server drops the connection', async () => {
    const r = await withHttp(
      (req) => req.socket.destroy(),
      (port) => runProbe(httpSpec(port), '127.0.0.1', never),
    );
    assertFailed(r, 'reset');
  });

  it('fails with "reset" when the connection drops mid-body', async () => {
    const handler: http.RequestListener = (req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial', () => setTimeout(() => req.socket.destroy(), 20));
    };
    const r = await withHttp(handler, (port) => runProbe(httpSpec(port, { bodyMatch: 'done' }), '127.0.0.1', never));
    assertFailed(r, 'reset');
  });

  it('sends the method, path, Host, User-Agent, Connection: close and custom headers', async () => {
    const seen: http.IncomingMessage[] = [];
    const handler: http.RequestListener = (req, res) => {
      seen.push(req);
      res.end();
    };
    let port = 0;
    await withHttp(
      handler,
      async (p) => {
        port = p;
        await runProbe(httpSpec(port, { method: 'HEAD', path: '/health?deep=1', headers: { 'X-Probe': 'yes' } }), '127.0.0.2', never);
        await runProbe(httpSpec(port, { host: 'www.example.test', headers: { 'user-agent': 'custom' } }), '127.0.0.2', never);
      },
      '127.0.0.2',
    );
    const [first, second] = seen;
    assert.equal(first?.method, 'HEAD');
    assert.equal(first?.url, '/health?deep=1');
    assert.equal(first?.headers.host, `127.0.0.2:${port}`);
    assert.equal(first?.headers['user-agent'], 'meridian-health/0.1');
    assert.equal(first?.headers.connection, 'close');
    assert.equal(first?.headers['x-probe'], 'yes');
    assert.equal(second?.headers.host, `www.example.test:${port}`);
    assert.equal(second?.headers['user-agent'], 'custom');
  });

  it('probes an IPv6 address, bracketing it in the Host header', async (t) => {
    if (!(await ipv6Available())) return t.skip('::1 is not available');
    let host: string | undefined;
    const handler: http.RequestListener = (req, res) => {
      host = req.headers.host;
      res.end();
    };
    const r = await withHttp(handler, (port) => runProbe(httpSpec(port), '::1', never), '::1');
    assert.equal(r.ok, true, r.detail);
    assert.match(host ?? '', /^\[::1\]:\d+$/);
  });

  it('formats Host headers', () => {
    assert.equal(hostHeader('::1', 80, false), '[::1]');
    assert.equal(hostHeader('::1', 8080, false), '[::1]:8080');
    assert.equal(hostHeader('www.example.test', 443, true), 'www.example.test');
    assert.equal(hostHeader('www.example.test', 80, true), 'www.example.test:80');
  });
});

describe('aborting', () => {
  it('returns "aborted" at once for an already aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    const r = await runProbe(tcpSpec(1), '127.0.0.1', controller.signal);
    assertFailed(r, 'error', /^aborted$/);
    await assertNoSockets();
  });

  it('settles promptly when the signal aborts mid-probe', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const { r, ms } = await withHttp(
      () => {},
      (port) => timed(httpSpec(port, { timeoutMs: 5000 }), '127.0.0.1', controller.signal),
    );
    assertFailed(r, 'error', /^aborted$/);
    assert.ok(ms < 1000, `settled after ${ms} ms`);
  });
});

describe('tcp probe', () => {
  it('is ok when the connection is accepted, and closes it', async () => {
    let closed!: Promise<void>;
    const server = net.createServer((socket) => {
      closed = new Promise((resolve) => socket.on('close', () => resolve()));
    });
    const r = await withServer(server, (port) => runProbe(tcpSpec(port), '127.0.0.2', never), '127.0.0.2');
    assert.equal(r.ok, true, r.detail);
    assert.ok(r.rttMs !== null && r.rttMs >= 0);
    assert.equal(r.capacity, null);
    await closed;
  });

  it('fails with "refused" on a closed port', async () => {
    const server = net.createServer();
    const port = await listen(server);
    await closeServer(server);
    assertFailed(await runProbe(tcpSpec(port), '127.0.0.1', never), 'refused');
    await assertNoSockets();
  });
});
