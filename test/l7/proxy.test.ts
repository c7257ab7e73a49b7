/** The proxy over real sockets: distribution, headers, routing, errors, bodies, rate limits, WebSocket. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { projectRoot } from '../support/test-server.js';
import { json, pool, request, startBackend, startBackends, startBalancer, tally, type TestBackend, type TestBalancer } from './helpers.js';

describe('proxying', () => {
  let backends: TestBackend[];
  let lb: TestBalancer;
  before(async () => {
    backends = await startBackends(3);
    lb = await startBalancer({
      trustedHops: 1,
      routes: [
        { host: 'api.example.com', pathPrefix: '/v2', pool: 'v2' },
        { host: '*.static.example.com', pool: 'static' },
      ],
      pools: {
        default: pool(backends, { algorithm: 'round-robin' }),
        v2: pool([backends[2]!]),
        static: pool([backends[0]!]),
      },
    });
  });
  after(async () => {
    await lb.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('spreads requests round robin over every backend', async () => {
    const counts = await tally(`${lb.url}/`, 30);
    assert.deepEqual([...counts.entries()].sort(), [
      ['a', 10],
      ['b', 10],
      ['c', 10],
    ]);
  });

  it('routes by host and path prefix, first match wins, else the default pool', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await request(`${lb.url}/v2/users`, { headers: { host: 'API.example.com:8080' } })).body, 'c');
    for (let i = 0; i < 3; i++) assert.equal((await request(`${lb.url}/x`, { headers: { host: 'img.static.example.com' } })).body, 'a');
    const other = await tally(`${lb.url}/v1`, 3, { host: 'api.example.com' });
    assert.equal(other.size, 3, 'a path outside /v2 goes to the default pool');
  });

  it('sets X-Forwarded-For (appending), -Proto, -Host and Via, and drops hop-by-hop headers', async () => {
    const b = backends[0]!;
    b.lastHeaders.length = 0;
    await request(`${lb.url}/`, {
      headers: { host: 'img.static.example.com', 'x-forwarded-for': '198.51.100.7', via: '1.0 edge', connection: 'keep-alive, x-secret', 'x-secret': 'hop', te: 'trailers', 'keep-alive': 'timeout=5' },
    });
    const h = b.lastHeaders.at(-1)!;
    assert.equal(h['x-forwarded-for'], '198.51.100.7, 127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'img.static.example.com');
    assert.equal(h.host, 'img.static.example.com', 'the Host header is kept');
    assert.equal(h.via, '1.0 edge, 1.1 meridian');
    assert.equal(h['x-secret'], undefined, 'a header named in Connection is hop-by-hop');
    assert.equal(h.te, undefined);
    assert.equal(h['keep-alive'], undefined);
  });

  it("adds Via to responses and drops the backend's hop-by-hop response headers", async () => {
    backends[0]!.handler = (_req, res) => {
      res.setHeader('connection', 'x-internal');
      res.setHeader('x-internal', 'secret');
      res.setHeader('x-app', 'kept');
      res.end('a');
    };
    const r = await request(`${lb.url}/`, { headers: { host: 'x.static.example.com' } });
    backends[0]!.handler = (_req, res) => res.end('a');
    assert.equal(r.headers.via, '1.1 meridian');
    assert.equal(r.headers['x-app'], 'kept');
    assert.equal(r.headers['x-internal'], undefined);
  });

  it('streams a large request body and a large response body intact (32 MiB each way)', async () => {
    const b = backends[1]!;
    b.handler = (req, res) => {
      const hash = createHash('sha256');
      let size = 0;
      req.on('data', (c: Buffer) => {
        hash.update(c);
        size += c.length;
      });
      req.on('end', () => {
        res.setHeader('x-sha256', hash.digest('hex'));
        res.setHeader('x-size', String(size));
        // Stream back 32 MiB of a repeating pattern in 64 KiB chunks.
        const chunk = Buffer.alloc(65536, 7);
        let left = 512;
        const pump = (): void => {
          while (left > 0) {
            left--;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      });
    };
    const lbs = await startBalancer({ pools: { default: pool([b]) } });
    try {
      const upload = randomBytes(32 * 1024 * 1024);
      const result = await new Promise<{ headers: http.IncomingHttpHeaders; size: number; sha: string }>((resolve, reject) => {
        const req = http.request(`${lbs.url}/upload`, { method: 'POST', agent: false, headers: { 'content-type': 'application/octet-stream' } }, (res) => {
          const hash = createHash('sha256');
          let size = 0;
          res.on('data', (c: Buffer) => {
            hash.update(c);
            size += c.length;
          });
          res.on('end', () => resolve({ headers: res.headers, size, sha: hash.digest('hex') }));
        });
        req.on('error', reject);
        // Chunked upload: the proxy must stream it, not wait for a length.
        for (let off = 0; off < upload.length; off += 1 << 20) req.write(upload.subarray(off, off + (1 << 20)));
        req.end();
      });
      assert.equal(result.headers['x-size'], String(upload.length));
      assert.equal(result.headers['x-sha256'], createHash('sha256').update(upload).digest('hex'));
      assert.equal(result.size, 32 * 1024 * 1024);
      assert.equal(
        result.sha,
        createHash('sha256')
          .update(Buffer.alloc(32 * 1024 * 1024, 7))
          .digest('hex'),
      );
    } finally {
      b.handler = (_req, res) => res.end(b.id);
      await lbs.close();
    }
  });

  it('answers 404 with a clear body when no route matches', async () => {
    const lbs = await startBalancer({ routes: [{ host: 'only.example.com', pool: 'p' }], pools: { p: pool([backends[0]!]) } });
    try {
      const r = await request(`${lbs.url}/x`, { headers: { host: 'other.example.com' } });
      assert.equal(r.status, 404);
      assert.equal(r.headers['x-meridian-error'], 'L7_NO_ROUTE');
      assert.match(r.body, /no route for host "other.example.com"/);
    } finally {
      await lbs.close();
    }
  });
});

describe('upstream failures', () => {
  it('502 when the backend refuses, 504 when it sends no header in time', async () => {
    const slow = await startBackend('slow');
    slow.handler = () => undefined; // never answers
    const dead = await startBackend('dead');
    await dead.close();
    const lb = await startBalancer({
      timeouts: { headersMs: 300 },
      routes: [{ pathPrefix: '/slow', pool: 'slow' }],
      pools: { default: pool([dead], { retries: { attempts: 0 }, outlierDetection: { consecutiveErrors: 0 } }), slow: pool([slow]) },
    });
    try {
      const refused = await request(`${lb.url}/`);
      assert.equal(refused.status, 502);
      assert.equal(refused.headers['x-meridian-error'], 'L7_CONNECT_FAILED');
      assert.match(refused.body, /^502 Bad Gateway: backend default\/dead: cannot connect \(ECONNREFUSED\)/);
      const started = Date.now();
      const timedOut = await request(`${lb.url}/slow`);
      assert.equal(timedOut.status, 504);
      assert.equal(timedOut.headers['x-meridian-error'], 'L7_HEADERS_TIMEOUT');
      assert.ok(Date.now() - started < 3000);
    } finally {
      await lb.close();
      await slow.close();
    }
  });

  it('cuts a backend that goes silent mid-body after idleMs, and a client that sends its header too slowly', async () => {
    const b = await startBackend('x');
    b.handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial'); // then nothing
    };
    const lb = await startBalancer({ timeouts: { idleMs: 300, clientHeadersMs: 300 }, pools: { default: pool([b]) } });
    try {
      const started = Date.now();
      await assert.rejects(request(`${lb.url}/`), /aborted|ECONNRESET|socket hang up/);
      assert.ok(Date.now() - started < 3000, 'cut after the idle timeout, not left hanging');
      const socket = net.connect(lb.balancer.address.port, '127.0.0.1');
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n'); // never finishes the header
      const closedAfter = await new Promise<number>((resolve) => {
        const t0 = Date.now();
        socket.on('data', () => undefined);
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(Date.now() - t0));
      });
      assert.ok(closedAfter < 2500, `a slow client header is cut (after ${closedAfter} ms)`);
    } finally {
      await lb.close();
      await b.close();
    }
  });

  it('cuts the client connection when the backend dies mid-body, so a truncated body never looks complete', async () => {
    const b = await startBackend('x');
    b.handler = (req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 50);
    };
    const lb = await startBalancer({ pools: { default: pool([b]) } });
    try {
      await assert.rejects(request(`${lb.url}/`), /aborted|ECONNRESET|socket hang up/);
    } finally {
      await lb.close();
      await b.close();
    }
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After past the per-client burst, per client address', async () => {
    const [b] = await startBackends(1);
    const lb = await startBalancer({ trustedHops: 1, rateLimit: { perClient: { ratePerSec: 1, burst: 3 } }, pools: { default: pool([b!]) } });
    try {
      const statuses: number[] = [];
      let limited;
      for (let i = 0; i < 5; i++) {
        const r = await request(`${lb.url}/`, { headers: { 'x-forwarded-for': '203.0.113.1' } });
        statuses.push(r.status);
        if (r.status === 429) limited = r;
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      assert.ok(limited !== undefined);
      assert.equal(limited.headers['retry-after'], '1');
      assert.equal(limited.headers['x-meridian-error'], 'L7_RATE_LIMITED');
      assert.equal((await request(`${lb.url}/`, { headers: { 'x-forwarded-for': '203.0.113.2' } })).status, 200, 'another client has its own bucket');
    } finally {
      await lb.close();
      await b!.close();
    }
  });

  it('a global limit applies over all clients', async () => {
    const [b] = await startBackends(1);
    const lb = await startBalancer({ trustedHops: 1, rateLimit: { global: { ratePerSec: 0.5, burst: 4 } }, pools: { default: pool([b!]) } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await request(`${lb.url}/`, { headers: { 'x-forwarded-for': `203.0.113.${i}` } })).status);
      assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
    } finally {
      await lb.close();
      await b!.close();
    }
  });
});

describe('WebSocket', () => {
  it('passes an upgrade through and echoes messages both ways', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => {
      ws.send(`hello ${req.headers['x-forwarded-for']}`);
      ws.on('message', (m) => ws.send(`echo ${m.toString()}`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const lb = await startBalancer({ pools: { default: { backends: [{ id: 'ws', address: `127.0.0.1:${port}` }] } } });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${lb.balancer.address.port}/chat`);
      const messages: string[] = [];
      await new Promise<void>((resolve, reject) => {
        ws.on('message', (m) => {
          messages.push(m.toString());
          if (messages.length === 1) ws.send('ping');
          if (messages.length === 2) resolve();
        });
        ws.on('error', reject);
      });
      assert.deepEqual(messages, ['hello 127.0.0.1', 'echo ping']);
      assert.equal(lb.balancer.runtime.pools.get('default')!.backends[0]!.inFlight, 1, 'an open tunnel counts as in flight');
      ws.close();
      await new Promise((r) => ws.once('close', r));
      const b = lb.balancer.runtime.pools.get('default')!.backends[0]!;
      for (let i = 0; i < 40 && b.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(b.inFlight, 0);
    } finally {
      await lb.close();
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('TLS termination', () => {
  it('serves HTTPS with the configured certificate and tells the backend the proto was https', async () => {
    const [b] = await startBackends(1);
    const tls = path.join(projectRoot, 'test/fixtures/tls');
    const lb = await startBalancer({ tls: { cert: path.join(tls, 'localhost.crt'), key: path.join(tls, 'localhost.key') }, pools: { default: pool([b!]) } });
    try {
      const ca = fs.readFileSync(path.join(tls, 'localhost.crt'));
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get(`https://127.0.0.1:${lb.balancer.address.port}/`, { ca, agent: false }, (res) => {
            let text = '';
            res.on('data', (c) => (text += c));
            res.on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      assert.equal(body, 'a');
      assert.equal(b!.lastHeaders.at(-1)!['x-forwarded-proto'], 'https');
    } finally {
      await lb.close();
      await b!.close();
    }
  });
});

describe('consistent hashing through the proxy', () => {
  it('hashes on a header name an object inherits (constructor) only when the client sent it', async () => {
    const backends = await startBackends(2);
    const lb = await startBalancer({ pools: { default: pool(backends, { algorithm: 'consistent-hash', hashKey: { source: 'header', name: 'Constructor' } }) } });
    try {
      const first = await request(`${lb.url}/`);
      assert.equal(first.status, 200, 'absent, the key is the client address');
      assert.equal((await request(`${lb.url}/`)).body, first.body);
      assert.equal((await request(`${lb.url}/`, { headers: { constructor: 'u1' } })).status, 200);
    } finally {
      await lb.close();
      await Promise.all(backends.map((b) => b.close()));
    }
  });

  it('keeps a header key on one backend, and only the keys of a drained backend move', async () => {
    const backends = await startBackends(4);
    const lb = await startBalancer({ pools: { default: pool(backends, { algorithm: 'consistent-hash', hashKey: { source: 'header', name: 'X-User' } }) } });
    try {
      const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
      const home = new Map<string, string>();
      for (const u of users) home.set(u, (await request(`${lb.url}/`, { headers: { 'x-user': u } })).body);
      for (const u of users.slice(0, 20)) assert.equal((await request(`${lb.url}/`, { headers: { 'x-user': u } })).body, home.get(u));
      assert.equal(new Set(home.values()).size, 4, 'keys spread over every backend');
      await json(`${lb.adminUrl}/drain`, { method: 'POST', body: { backend: 'default/c' } });
      let moved = 0;
      for (const u of users) {
        const now = (await request(`${lb.url}/`, { headers: { 'x-user': u } })).body;
        if (home.get(u) === 'c') assert.notEqual(now, 'c');
        else assert.equal(now, home.get(u), `${u} stays on its backend`);
        if (now !== home.get(u)) moved++;
      }
      const share = moved / users.length;
      assert.ok(share > 0.1 && share < 0.4, `about 1/4 of keys move: ${share}`);
    } finally {
      await lb.close();
      await Promise.all(backends.map((b) => b.close()));
    }
  });
});
