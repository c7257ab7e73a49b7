/**
 * The balancer against a hostile client (issue 15): upgrades that are not switched, slow
 * bodies and idle connections, malformed and smuggling requests (raw bytes over net.Socket
 * to a raw backend that records what reached it), forwarded headers and the sticky cookie.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { projectRoot } from '../support/test-server.js';
import { afterBody, pool, request, startBackend, startBackends, startBalancer, waitFor, type TestBackend, type TestBalancer } from './helpers.js';

interface RawReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** One client connection that writes raw bytes and reads HTTP/1.1 responses off it in order. */
class RawClient {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  closed = false;
  private wake: (() => void) | null = null;

  constructor(port: number, ca?: Buffer) {
    this.socket = ca === undefined ? net.connect(port, '127.0.0.1') : tls.connect({ port, host: '127.0.0.1', ca, servername: 'localhost' });
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static async open(port: number, ca?: Buffer): Promise<RawClient> {
    const c = new RawClient(port, ca);
    await new Promise<void>((resolve, reject) => c.socket.once(ca === undefined ? 'connect' : 'secureConnect', resolve).once('error', reject));
    return c;
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** The next whole response, or null when the connection closes first (or after timeoutMs). */
  async read(timeoutMs = 5000, head = false): Promise<RawReply | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = this.parse(head);
      if (parsed !== null) return parsed;
      if (this.closed || Date.now() > deadline) return null;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  /** Everything until the server closes the connection (or timeoutMs), as text. */
  async rest(timeoutMs = 3000): Promise<string> {
    await waitFor(() => this.closed, timeoutMs, 'the server to close').catch(() => undefined);
    return this.buf.toString('latin1');
  }

  private parse(head: boolean): RawReply | null {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const colon = l.indexOf(':');
      headers[l.slice(0, colon).trim().toLowerCase()] = l.slice(colon + 1).trim();
    }
    let at = end + 4;
    let body = Buffer.alloc(0);
    if (head || status === 101 || status === 204 || status === 304) {
      // no body
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const nl = this.buf.indexOf('\r\n', at);
        if (nl < 0) return null;
        const size = parseInt(this.buf.subarray(at, nl).toString(), 16);
        if (this.buf.length < nl + 2 + size + 2) return null;
        body = Buffer.concat([body, this.buf.subarray(nl + 2, nl + 2 + size)]);
        at = nl + 2 + size + 2;
        if (size === 0) break;
      }
    } else {
      const len = Number(headers['content-length'] ?? 0);
      if (this.buf.length < at + len) return null;
      body = this.buf.subarray(at, at + len);
      at += len;
    }
    this.buf = this.buf.subarray(at);
    return { status, headers, body: body.toString() };
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A backend that speaks just enough HTTP to answer and records every byte it received. */
async function startRawBackend(): Promise<{ address: string; received: () => string; requestLines: () => string[]; connections: number; close(): Promise<void> }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const state = { connections: 0 };
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let pending = '';
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      pending += d.toString('latin1');
      // One answer per request head seen; bodies are short and never contain a blank line here.
      while (pending.includes('\r\n\r\n')) {
        pending = pending.slice(pending.indexOf('\r\n\r\n') + 4);
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      }
    });
    state.connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const received = (): string => Buffer.concat(chunks).toString('latin1');
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    received,
    requestLines: () =>
      received()
        .split('\r\n')
        .filter((l) => /^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(l)),
    get connections() {
      return state.connections;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('Upgrade without 101 (issue 15 item 1)', () => {
  let backend: TestBackend;
  let lb: TestBalancer;
  before(async () => {
    backend = await startBackend('a'); // a plain HTTP server: it answers 200 to an Upgrade request
    backend.handler = (req, res) => {
      let size = 0;
      req.on('data', (c: Buffer) => (size += c.length));
      req.on('end', () => res.end(`${req.method} ${req.url} body=${size}`));
    };
    lb = await startBalancer({ rateLimit: { perClient: { ratePerSec: 0.01, burst: 3 } }, pools: { default: pool([backend]) } });
  });
  after(async () => {
    await lb.close();
    await backend.close();
  });

  it('answers the 200 and goes on parsing HTTP: later requests are rate-limited and rewritten', async () => {
    const c = await RawClient.open(lb.balancer.address.port);
    try {
      backend.lastHeaders.length = 0;
      c.write('GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      const first = await c.read();
      assert.equal(first?.status, 200);
      assert.equal(first?.body, 'GET /chat body=0');
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        c.write(`GET /next${i} HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n`);
        statuses.push((await c.read())?.status ?? 0);
      }
      // Burst 3: the handshake took one, two more pass, then 429 on the same connection.
      assert.deepEqual(statuses, [200, 200, 429, 429]);
      assert.equal(backend.lastHeaders.length, 3, 'the backend saw the handshake and two requests, no more');
      assert.equal(backend.lastHeaders.at(-1)!['x-forwarded-for'], '127.0.0.1', 'later requests are rewritten, not tunnelled');
      assert.equal(backend.lastHeaders.at(-1)!.via, '1.1 meridian');
    } finally {
      c.close();
    }
  });

  it('over TLS too, the connection goes back to HTTP after a declined upgrade', async () => {
    const dir = path.join(projectRoot, 'test/fixtures/tls');
    const lbTls = await startBalancer({ tls: { cert: path.join(dir, 'localhost.crt'), key: path.join(dir, 'localhost.key') }, pools: { default: pool([backend]) } });
    const c = await RawClient.open(lbTls.balancer.address.port, fs.readFileSync(path.join(dir, 'localhost.crt')));
    try {
      c.write('GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
      assert.equal((await c.read())?.body, 'GET /chat body=0');
      c.write('GET /then HTTP/1.1\r\nHost: x\r\n\r\n');
      const r = await c.read();
      assert.equal(r?.body, 'GET /then body=0');
      assert.equal(backend.lastHeaders.at(-1)!['x-forwarded-proto'], 'https', 'parsed and rewritten by the balancer, not tunnelled');
    } finally {
      c.close();
      await lbTls.close();
    }
  });

  it("forwards another protocol's upgrade (h2c) without its Upgrade header, body and pipelined request intact", async () => {
    const lb2 = await startBalancer({ pools: { default: pool([backend]) } });
    const c = await RawClient.open(lb2.balancer.address.port);
    try {
      backend.lastHeaders.length = 0;
      c.write(
        'POST /h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: 5\r\n\r\nhelloGET /after HTTP/1.1\r\nHost: x\r\n\r\n',
      );
      const first = await c.read();
      assert.equal(first?.status, 200);
      assert.equal(first?.body, 'POST /h2c body=5');
      assert.equal(backend.lastHeaders[0]!.upgrade, undefined, 'Upgrade is not passed on');
      const second = await c.read();
      assert.equal(second?.body, 'GET /after body=0');
    } finally {
      c.close();
      await lb2.close();
    }
  });
});

describe('slow and greedy clients (issue 15 item 2)', () => {
  it('a request body silent for client.bodyIdleMs gets 408 and frees its backend slot', async () => {
    const backend = await startBackend('a');
    backend.handler = afterBody('done');
    const lb = await startBalancer({
      client: { bodyIdleMs: 400 },
      pools: { default: { backends: [{ id: 'a', address: backend.address, maxRequests: 2 }], queue: { size: 0 } } },
    });
    const slow = await Promise.all([RawClient.open(lb.balancer.address.port), RawClient.open(lb.balancer.address.port)]);
    try {
      for (const c of slow) c.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx');
      const b = lb.balancer.runtime.pools.get('default')!.backends[0]!;
      await waitFor(() => b.inFlight === 2, 3000, 'both slow uploads to hold a slot');
      assert.equal((await request(`${lb.url}/`)).status, 503, 'while they hold the backend, others wait');
      await waitFor(async () => (await request(`${lb.url}/`)).status === 200, 4000, 'a legitimate request to get through');
      for (const c of slow) {
        const r = await c.read(3000);
        assert.equal(r?.status, 408);
        assert.equal(r?.headers['x-meridian-error'], 'L7_BODY_TIMEOUT');
      }
      assert.equal(b.consecutiveErrors, 0, "a slow client is not the backend's error");
      assert.equal(b.ejections, 0);
    } finally {
      for (const c of slow) c.close();
      await lb.close();
      await backend.close();
    }
  });

  it('bodies trickled under client.minBodyBytesPerSec get 408, though never idle, and free their slots', async () => {
    const backend = await startBackend('a');
    backend.handler = afterBody('done');
    const lb = await startBalancer({
      client: { minBodyBytesPerSec: 100, bodyRateGraceMs: 500 },
      pools: { default: { backends: [{ id: 'a', address: backend.address, maxRequests: 2 }], queue: { size: 0 } } },
    });
    const slow = await Promise.all([RawClient.open(lb.balancer.address.port), RawClient.open(lb.balancer.address.port)]);
    const trickle = setInterval(() => slow.forEach((c) => c.write('x')), 100); // 10 bytes/s each
    try {
      for (const c of slow) c.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
      const b = lb.balancer.runtime.pools.get('default')!.backends[0]!;
      await waitFor(() => b.inFlight === 2, 3000, 'both slow uploads to hold a slot');
      await waitFor(async () => (await request(`${lb.url}/`)).status === 200, 6000, 'a legitimate request to get through');
      for (const c of slow) {
        const r = await c.read(3000);
        assert.equal(r?.status, 408);
        assert.equal(r?.headers['x-meridian-error'], 'L7_BODY_TOO_SLOW');
      }
      assert.equal(b.errors, 0);
    } finally {
      clearInterval(trickle);
      for (const c of slow) c.close();
      await lb.close();
      await backend.close();
    }
  });

  it("a backend slow to read a body is not blamed on the client's rate", async () => {
    const backend = await startBackend('a');
    backend.handler = (req, res) => {
      let size = 0;
      setTimeout(() => {
        req.on('data', (c: Buffer) => (size += c.length));
        req.on('end', () => res.end(`got ${size}`));
      }, 2500); // reads nothing for 2.5 s
    };
    const lb = await startBalancer({ client: { minBodyBytesPerSec: 1000, bodyRateGraceMs: 500 }, pools: { default: pool([backend]) } });
    try {
      const body = Buffer.alloc(8 << 20, 1);
      const r = await request(`${lb.url}/upload`, { method: 'POST', body });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body, `got ${body.length}`);
    } finally {
      await lb.close();
      await backend.close();
    }
  });

  it('a request trickled slower than client.requestMs in all gets 408, though never idle', async () => {
    const backend = await startBackend('a');
    backend.handler = afterBody('done');
    const lb = await startBalancer({ timeouts: { clientHeadersMs: 500 }, client: { requestMs: 1000, bodyIdleMs: 60_000 }, pools: { default: pool([backend]) } });
    const c = await RawClient.open(lb.balancer.address.port);
    const trickle = setInterval(() => c.write('x'), 100);
    try {
      c.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
      const t0 = Date.now();
      const r = await c.read(6000);
      assert.equal(r?.status, 408);
      assert.equal(r?.headers['x-meridian-error'], 'L7_REQUEST_TIMEOUT');
      assert.ok(Date.now() - t0 < 5000, 'cut near client.requestMs');
    } finally {
      clearInterval(trickle);
      c.close();
      await lb.close();
      await backend.close();
    }
  });

  it('caps open connections per client address (client.maxConnectionsPerClient)', async () => {
    const [backend] = await startBackends(1);
    const lb = await startBalancer({ client: { maxConnectionsPerClient: 3 }, pools: { default: pool([backend!]) } });
    const held = await Promise.all([0, 1, 2].map(() => RawClient.open(lb.balancer.address.port)));
    try {
      const extra = await RawClient.open(lb.balancer.address.port);
      extra.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(await extra.read(3000), null, 'a fourth connection is closed unanswered');
      assert.equal(extra.closed, true);
      assert.equal(lb.balancer.metrics.connectionsRefused, 1);
      held[0]!.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal((await held[0]!.read())?.status, 200, 'connections under the cap serve');
      held[0]!.close();
      await waitFor(
        async () => {
          const again = await RawClient.open(lb.balancer.address.port);
          again.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
          const r = await again.read(1000);
          again.close();
          return r?.status === 200;
        },
        3000,
        'a closed connection to free its place',
      );
    } finally {
      for (const c of held) c.close();
      await lb.close();
      await backend!.close();
    }
  });

  it('answers 431 to a request header larger than client.maxHeaderBytes', async () => {
    const [backend] = await startBackends(1);
    const lb = await startBalancer({ client: { maxHeaderBytes: 2048 }, pools: { default: pool([backend!]) } });
    try {
      const big = await RawClient.open(lb.balancer.address.port);
      big.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4000)}\r\n\r\n`);
      const r = await big.read();
      big.close();
      assert.equal(r?.status, 431);
      assert.equal(r?.headers['x-meridian-error'], 'L7_HEADER_TOO_LARGE');
      assert.equal((await request(`${lb.url}/`, { headers: { 'x-small': 'a'.repeat(1000) } })).status, 200);
      assert.equal(backend!.hits, 1);
    } finally {
      await lb.close();
      await backend!.close();
    }
  });
});

describe('request smuggling and malformed requests (issue 15 item 3)', () => {
  let raw: Awaited<ReturnType<typeof startRawBackend>>;
  let lb: TestBalancer;
  before(async () => {
    raw = await startRawBackend();
    lb = await startBalancer({ pools: { default: { backends: [{ id: 'raw', address: raw.address }] } } });
  });
  after(async () => {
    await lb.close();
    await raw.close();
  });

  // Each is refused with 400 before a byte reaches the backend. `P` opens a POST to /.
  const P = 'POST / HTTP/1.1\r\nHost: x\r\n';
  const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
  const cases: Record<string, string> = {
    'CL.TE': `${P}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'TE.CL': `${P}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5c\r\n${SMUGGLED}\r\n0\r\n\r\n`,
    'TE.TE xchunked': `${P}Transfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'TE.TE leading space with CL': `${P}Transfer-Encoding:  chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'TE.TE tab with CL': `${P}Transfer-Encoding:\tchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'TE.TE space before colon': `${P}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'TE.TE chunked, identity': `${P}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'TE.TE duplicate headers': `${P}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'TE.TE duplicate chunked': `${P}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'TE.TE obs-fold': `${P}X-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'TE gzip, chunked': `${P}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
    'TE in HTTP/1.0': `POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    'CL duplicate, differing': `${P}Content-Length: 1\r\nContent-Length: 39\r\n\r\nx${SMUGGLED}`,
    'CL duplicate, equal': `${P}Content-Length: 1\r\nContent-Length: 1\r\n\r\nx`,
    'CL +5': `${P}Content-Length: +5\r\n\r\nhello`,
    'CL -1': `${P}Content-Length: -1\r\n\r\nx`,
    'CL 1,1': `${P}Content-Length: 1,1\r\n\r\nx`,
    'CL hex': `${P}Content-Length: 0x5\r\n\r\nhello`,
    'obs-fold': 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n',
    'bare LF': 'GET / HTTP/1.1\nHost: x\n\n',
    'bare LF in a header': 'GET / HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n',
    'NUL in a header': 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n',
    'CR in a header': 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n',
    'two Host headers': 'GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n',
    'Host with a space': 'GET / HTTP/1.1\r\nHost: x y\r\n\r\n',
    'Host with userinfo': 'GET / HTTP/1.1\r\nHost: user@x\r\n\r\n',
    'empty Host': 'GET / HTTP/1.1\r\nHost:\r\n\r\n',
    'no Host in HTTP/1.1': 'GET / HTTP/1.1\r\n\r\n',
    'absolute-form, other host': 'GET http://internal.example/admin HTTP/1.1\r\nHost: x\r\n\r\n',
    'absolute-form, userinfo': 'GET http://u@x/ HTTP/1.1\r\nHost: x\r\n\r\n',
    'absolute-form, other scheme': 'GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n',
  };
  for (const [name, text] of Object.entries(cases)) {
    it(`400 and nothing reaches the backend: ${name}`, async () => {
      const before = raw.received().length;
      const c = await RawClient.open(lb.balancer.address.port);
      c.write(text);
      const out = await c.rest();
      c.close();
      assert.match(out, /^HTTP\/1\.1 400 /, out.slice(0, 80));
      assert.match(out, /x-meridian-error: L7_BAD_REQUEST/i);
      assert.ok(!out.includes('HTTP/1.1 200'), 'no second answer on the connection');
      assert.equal(raw.received().slice(before), '', 'the backend received nothing');
    });
  }

  for (const [name, chunk] of Object.entries({ 'chunk size not hex': 'zz', 'chunk size overflow': 'FFFFFFFFFFFFFFFFF1', 'chunk size with a sign': '+5' })) {
    it(`400 and at most the one request's head reaches the backend: ${name}`, async () => {
      const before = raw.received().length;
      const c = await RawClient.open(lb.balancer.address.port);
      c.write(`${P}Transfer-Encoding: chunked\r\n\r\n${chunk}\r\nhello\r\n0\r\n\r\n${SMUGGLED}`);
      const out = await c.rest();
      c.close();
      assert.match(out, /^HTTP\/1\.1 400 /, out.slice(0, 80));
      const seen = raw.received().slice(before);
      assert.ok(!seen.includes('/smuggled'), 'the smuggled request never reaches the backend');
      assert.ok((seen.match(/ HTTP\/1\.1\r\n/g) ?? []).length <= 1);
    });
  }

  it('passes well-formed requests: chunked POST, absolute-form with the same host (as a path)', async () => {
    const before = raw.received().length;
    const c = await RawClient.open(lb.balancer.address.port);
    c.write(`${P}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    assert.equal((await c.read())?.status, 200);
    c.write('GET http://X/path?q=1 HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal((await c.read())?.status, 200);
    c.close();
    const seen = raw.received().slice(before);
    assert.match(seen, /^POST \/ HTTP\/1\.1\r\n/);
    assert.match(seen, /hello/);
    // The body before it may be framed chunked or by length (undici 8 sends a body it has
    // whole with Content-Length), so the next request starts after "hello" or its "0\r\n\r\n".
    assert.match(seen, /(\r\n|hello)GET \/path\?q=1 HTTP\/1\.1\r\n/, 'absolute-form goes on as origin-form');
  });
});

describe('outlier ejection counts only what the backend caused (issue 15 item 3)', () => {
  it('malformed requests and clients that vanish mid-body never eject a healthy backend', async () => {
    const backends = await startBackends(2);
    for (const b of backends) b.handler = afterBody(b.id);
    const od = { consecutiveErrors: 3, baseEjectionMs: 60_000, maxEjectedPercent: 50 };
    const lb = await startBalancer({ pools: { default: pool(backends, { outlierDetection: od }) } });
    try {
      for (let i = 0; i < 13; i++) {
        const c = await RawClient.open(lb.balancer.address.port);
        c.write('GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n');
        assert.equal((await c.read())?.status, 400);
        c.close();
      }
      for (let i = 0; i < 8; i++) {
        const c = await RawClient.open(lb.balancer.address.port);
        c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nsome');
        const p = lb.balancer.runtime.pools.get('default')!;
        await waitFor(() => p.inFlight === 1, 3000, 'the upload to reach a backend');
        c.close();
        await waitFor(() => p.inFlight === 0, 3000, 'the abandoned upload to end');
      }
      const p = lb.balancer.runtime.pools.get('default')!;
      for (const b of p.backends) {
        assert.equal(b.ejections, 0, `${b.key} never ejected`);
        assert.equal(b.errors, 0, `${b.key} has no errors to its name`);
      }
      assert.equal(lb.balancer.health().healthy, 2);
      // A backend that fails is still counted.
      backends[0]!.handler = (_req, res) => {
        res.statusCode = 503;
        res.end();
      };
      for (let i = 0; i < 6; i++) await request(`${lb.url}/`);
      assert.equal(p.find('a')!.ejections, 1, 'its own 5xx still eject it');
    } finally {
      await lb.close();
      await Promise.all(backends.map((b) => b.close()));
    }
  });
});

describe('forwarded headers and the sticky cookie (issue 15 item 6)', () => {
  it('trustedHops 0: X-Forwarded-For, X-Real-IP and Forwarded come from the connection, not the client', async () => {
    const [backend] = await startBackends(1);
    const lb = await startBalancer({ pools: { default: pool([backend!]) } });
    try {
      await request(`${lb.url}/`, { headers: { host: 'app.example', 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6', 'x-real-ip': '6.6.6.6' } });
      const h = backend!.lastHeaders.at(-1)!;
      assert.equal(h['x-forwarded-for'], '127.0.0.1');
      assert.equal(h['x-real-ip'], '127.0.0.1');
      assert.equal(h.forwarded, 'for=127.0.0.1;proto=http;host="app.example"');
    } finally {
      await lb.close();
      await backend!.close();
    }
  });

  it('trustedHops 1: keeps only the entry the trusted proxy wrote, and names it the client', async () => {
    const [backend] = await startBackends(1);
    const lb = await startBalancer({ trustedHops: 1, pools: { default: pool([backend!]) } });
    try {
      await request(`${lb.url}/`, { headers: { host: 'app.example', 'x-forwarded-for': '6.6.6.6, 2001:db8::7', 'x-real-ip': '6.6.6.6' } });
      const h = backend!.lastHeaders.at(-1)!;
      assert.equal(h['x-forwarded-for'], '2001:db8::7, 127.0.0.1', 'the spoofable left part is dropped');
      assert.equal(h['x-real-ip'], '2001:db8::7');
      assert.equal(h.forwarded, 'for="[2001:db8::7]", for=127.0.0.1;proto=http;host="app.example"');
      for (const [xff, client] of [
        ['6.6.6.6, 203.0.113.9:41234', '203.0.113.9'],
        ['[2001:db8::9]:443', '2001:db8::9'],
        ['6.6.6.6, unknown', '127.0.0.1'],
        ['', '127.0.0.1'],
      ]) {
        await request(`${lb.url}/`, { headers: { 'x-forwarded-for': xff! } });
        assert.equal(backend!.lastHeaders.at(-1)!['x-real-ip'], client, `X-Forwarded-For "${xff}"`);
      }
    } finally {
      await lb.close();
      await backend!.close();
    }
  });

  it('the sticky cookie is Secure (and SameSite=Lax) over TLS', async () => {
    const [backend] = await startBackends(1);
    const tls = path.join(projectRoot, 'test/fixtures/tls');
    const sticky = { cookie: 'lb', secret: 'a-secret-of-16-chars' };
    const lb = await startBalancer({ tls: { cert: path.join(tls, 'localhost.crt'), key: path.join(tls, 'localhost.key') }, pools: { default: pool([backend!], { sticky }) } });
    try {
      const ca = fs.readFileSync(path.join(tls, 'localhost.crt'));
      const cookie = await new Promise<string>((resolve, reject) => {
        https
          .get(`https://127.0.0.1:${lb.balancer.address.port}/`, { ca, agent: false }, (res) => {
            res.resume();
            resolve(String(res.headers['set-cookie']));
          })
          .on('error', reject);
      });
      assert.match(cookie, /^lb=a\.[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure$/);
      const plain = await startBalancer({ pools: { default: pool([backend!], { sticky }) } });
      try {
        assert.doesNotMatch(String((await request(`${plain.url}/`)).headers['set-cookie']), /Secure/, 'not over plain HTTP, where the browser would drop it');
      } finally {
        await plain.close();
      }
    } finally {
      await lb.close();
      await backend!.close();
    }
  });
});
