/**
 * The access log over real sockets: the fields of a 200, a 502 from a dead backend, a 429 from
 * the rate limit and a client that leaves before its answer; sample 0 writes nothing; a sink
 * that cannot keep up drops lines and counts them instead of holding them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request, startBackend, startBalancer, waitFor, type TestBackend, type TestBalancer } from './helpers.js';

type Line = Record<string, unknown>;

const readLines = (file: string): Line[] =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Line)
    : [];

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('access log', () => {
  let dir: string;
  let file: string;
  let backend: TestBackend;
  let lb: TestBalancer;
  let held: http.ServerResponse | null = null;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-access-'));
    file = path.join(dir, 'access.log');
    backend = await startBackend('a');
    backend.handler = (req, res) => {
      if (req.url === '/cut') {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      if (req.url === '/hold') {
        held = res; // answered never: the client leaves first
        return;
      }
      res.end('hello');
    };
    lb = await startBalancer({
      trustedHops: 1,
      accessLog: { path: file, sample: 1, flushMs: 10 },
      rateLimit: { perClient: { ratePerSec: 0.001, burst: 2 } },
      routes: [
        { match: { pathPrefix: '/dead' }, pool: 'dead' },
        { match: { pathPrefix: '/v1' }, rewrite: { replacePrefix: '/v2' }, pool: 'default' },
      ],
      pools: {
        default: { backends: [{ id: 'a', address: backend.address }] },
        dead: { backends: [{ id: 'x', address: `127.0.0.1:${await deadPort()}` }], retries: { attempts: 0 } },
      },
    });
  });
  after(async () => {
    held?.destroy();
    await lb.close();
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The line for the request that came from `client` (X-Forwarded-For, trusted one hop). */
  const lineOf = async (client: string): Promise<Line> => {
    let found: Line | undefined;
    await waitFor(() => (found = readLines(file).find((l) => l.client === client)) !== undefined, 5000, `a log line for ${client}`);
    return found!;
  };

  it('logs a 200 with its backend, bytes and times', async () => {
    const r = await request(`${lb.url}/v1/items?x=1`, { headers: { 'x-forwarded-for': '198.51.100.1', host: 'shop.example', 'user-agent': 'test/1' } });
    assert.equal(r.status, 200);
    const l = await lineOf('198.51.100.1');
    assert.equal(l.method, 'GET');
    assert.equal(l.host, 'shop.example');
    assert.equal(l.path, '/v1/items?x=1');
    assert.equal(l.upstreamPath, '/v2/items?x=1');
    assert.equal(l.protocol, 'HTTP/1.1');
    assert.equal(l.status, 200);
    assert.equal(l.backend, 'default/a');
    assert.equal(l.retries, 0);
    assert.equal(l.termination, 'ok');
    assert.equal(l.error, null);
    assert.equal(l.peer, '127.0.0.1');
    assert.equal(l.userAgent, 'test/1');
    assert.ok(typeof l.upstreamMs === 'number' && l.upstreamMs >= 0);
    assert.ok(typeof l.totalMs === 'number' && l.totalMs >= l.upstreamMs);
    assert.ok((l.bytesIn as number) > 'GET /v1/items?x=1 HTTP/1.1\r\n'.length, `bytesIn ${l.bytesIn}`);
    assert.ok((l.bytesOut as number) > 'hello'.length + 'HTTP/1.1 200 OK\r\n'.length, `bytesOut ${l.bytesOut}`);
    assert.ok(!Number.isNaN(Date.parse(l.time as string)));
  });

  it('logs a 502 from a dead backend as connect-failed', async () => {
    const r = await request(`${lb.url}/dead`, { headers: { 'x-forwarded-for': '198.51.100.2' } });
    assert.equal(r.status, 502);
    const l = await lineOf('198.51.100.2');
    assert.equal(l.status, 502);
    assert.equal(l.backend, 'dead/x');
    assert.equal(l.upstreamMs, null, 'no response header came');
    assert.equal(l.termination, 'connect-failed');
    assert.equal(l.error, 'L7_CONNECT_FAILED');
  });

  it('logs a 429 as rate-limited, with no backend', async () => {
    const headers = { 'x-forwarded-for': '198.51.100.3' };
    await request(`${lb.url}/a`, { headers });
    await request(`${lb.url}/b`, { headers });
    const r = await request(`${lb.url}/limited`, { headers });
    assert.equal(r.status, 429);
    let l: Line | undefined;
    await waitFor(() => (l = readLines(file).find((x) => x.client === '198.51.100.3' && x.path === '/limited')) !== undefined, 5000, 'the 429 line');
    assert.equal(l!.status, 429);
    assert.equal(l!.backend, null);
    assert.equal(l!.termination, 'rate-limited');
    assert.equal(l!.error, 'L7_RATE_LIMITED');
  });

  it('logs a client that leaves before its answer as client-abort', async () => {
    const socket = net.connect(lb.balancer.address.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const hitsBefore = backend.hits;
    socket.write('GET /hold HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.4\r\n\r\n');
    await waitFor(() => backend.hits > hitsBefore, 5000, 'the backend to get the request');
    socket.destroy();
    const l = await lineOf('198.51.100.4');
    assert.equal(l.termination, 'client-abort');
    assert.equal(l.status, 0, 'no response was sent');
    assert.equal(l.backend, 'default/a');
    assert.equal(l.upstreamMs, null);
  });

  it('logs a backend that cuts its body as upstream-reset', async () => {
    const socket = net.connect(lb.balancer.address.port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.resume();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('GET /cut HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.5\r\n\r\n');
    await closed;
    const l = await lineOf('198.51.100.5');
    assert.equal(l.termination, 'upstream-reset');
    assert.equal(l.status, 200);
    assert.equal(l.backend, 'default/a');
  });

  it('with sample 0 writes nothing', async () => {
    const quiet = path.join(dir, 'quiet.log');
    const b = await startBalancer({ accessLog: { path: quiet, sample: 0, flushMs: 10 }, pools: { default: { backends: [{ id: 'a', address: backend.address }] } } });
    try {
      for (let i = 0; i < 5; i++) assert.equal((await request(`${b.url}/`)).status, 200);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(readLines(quiet).length, 0);
    } finally {
      await b.close();
    }
    assert.equal(fs.existsSync(quiet), false, 'the file is not even opened');
  });

  it('drops and counts lines the sink has no room for, and answers every request', async () => {
    const slow = path.join(dir, 'slow.log');
    const b = await startBalancer({ accessLog: { path: slow, maxPending: 2, flushMs: 10_000 }, pools: { default: { backends: [{ id: 'a', address: backend.address }] } } });
    try {
      for (let i = 0; i < 6; i++) assert.equal((await request(`${b.url}/`)).status, 200);
      const metrics = (await request(`${b.adminUrl}/metrics`)).body;
      assert.match(metrics, /meridian_l7_access_log_lines_total\{outcome="dropped"\} 4/);
    } finally {
      await b.close();
    }
    assert.equal(readLines(slow).length, 2, 'what was queued is written at close');
  });

  it('refuses a path it cannot open, naming the field', async () => {
    await assert.rejects(
      startBalancer({ accessLog: { path: path.join(dir, 'no', 'such', 'dir.log') }, pools: { default: { backends: [{ id: 'a', address: backend.address }] } } }),
      /accessLog\.path: cannot open/,
    );
  });
});
