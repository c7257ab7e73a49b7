/**
 * HTTP/2 to clients (issue 15): h2 by ALPN on the TLS listener and h2c with prior knowledge,
 * with every check an HTTP/1.1 request gets (one test per check, over HTTP/2), and the
 * HTTP/2 attacks: rapid reset, CONTINUATION and SETTINGS floods, huge HPACK headers, slow reads.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot } from '../support/test-server.js';
import { FLAG, FRAME, frame, h2request, hpack, RawH2, requestBlock } from './h2-helpers.js';
import { afterBody, pool, request, startBackend, startBackends, startBalancer, waitFor, type TestBackend, type TestBalancer } from './helpers.js';

const tlsDir = path.join(projectRoot, 'test/fixtures/tls');
const ca = fs.readFileSync(path.join(tlsDir, 'localhost.crt'));
const tls = { cert: path.join(tlsDir, 'localhost.crt'), key: path.join(tlsDir, 'localhost.key') };

function h2c(lb: TestBalancer): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${lb.balancer.h2cAddress!.port}`);
  s.on('error', () => undefined);
  return s;
}

function h2tls(lb: TestBalancer): http2.ClientHttp2Session {
  const s = http2.connect(`https://127.0.0.1:${lb.balancer.address.port}`, { ca, servername: 'localhost' });
  s.on('error', () => undefined);
  return s;
}

const H2C = { http2: { cleartextListen: '127.0.0.1:0' } };

describe('l7 HTTP/2 to clients', () => {
  let backends: TestBackend[];
  before(async () => {
    backends = await startBackends(2);
  });
  after(async () => {
    for (const b of backends) await b.close();
  });

  it('speaks h2 by ALPN on the TLS listener, HTTP/1.1 still on the same port, forwarded headers as for HTTP/1.1', async () => {
    const [a] = backends;
    const lb = await startBalancer({ tls, pools: { default: pool([a!]) } });
    const s = h2tls(lb);
    try {
      const r = await h2request(s, { ':path': '/x?y=1', 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6' });
      assert.equal(s.alpnProtocol, 'h2');
      assert.equal(r.status, 200);
      assert.equal(r.body, 'a');
      assert.match(String(r.headers.via), /meridian/);
      const seen = a!.lastHeaders.at(-1)!;
      assert.equal(seen['x-forwarded-for'], '127.0.0.1', 'the client-sent X-Forwarded-For is replaced, as over HTTP/1.1');
      assert.equal(seen['x-forwarded-proto'], 'https');
      assert.equal(seen.host, `localhost:${lb.balancer.address.port}`, ':authority reaches the backend as Host');
      assert.equal(seen.forwarded, `for=127.0.0.1;proto=https;host="localhost:${lb.balancer.address.port}"`);
      for (const name of Object.keys(seen)) assert.ok(!name.startsWith(':'), `no pseudo-header ${name} reaches an HTTP/1.1 backend`);
      // an HTTP/1.1 client on the same port
      const h1 = await new Promise<number>((resolve, reject) => {
        https.get(`https://127.0.0.1:${lb.balancer.address.port}/`, { ca, servername: 'localhost', agent: false }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject);
      });
      assert.equal(h1, 200);
    } finally {
      s.close();
      await lb.close();
    }
  });

  it('takes h2c with prior knowledge on http2.cleartextListen and writes an access log line for it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-h2-'));
    const log = path.join(dir, 'access.log');
    const lb = await startBalancer({ ...H2C, accessLog: { path: log, flushMs: 10 }, pools: { default: pool([backends[0]!]) } });
    const s = h2c(lb);
    try {
      const r = await h2request(s, { ':path': '/logged', 'user-agent': 'h2-test' });
      assert.equal(r.status, 200);
      await waitFor(() => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('/logged'), 5000, 'the access log line');
      const line = JSON.parse(fs.readFileSync(log, 'utf8').trim().split('\n').at(-1)!);
      assert.equal(line.protocol, 'HTTP/2.0');
      assert.equal(line.status, 200);
      assert.equal(line.backend, 'default/a');
      assert.equal(line.userAgent, 'h2-test');
      // the plain listener keeps HTTP/1.1
      assert.equal((await request(`${lb.url}/`)).status, 200);
    } finally {
      s.close();
      await lb.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('no request over h2 skips a check an HTTP/1.1 request gets', () => {
    let lb: TestBalancer;
    let s: http2.ClientHttp2Session;
    let b: TestBackend;
    before(async () => {
      b = await startBackend('c');
      b.handler = afterBody('c');
      lb = await startBalancer({
        ...H2C,
        client: { maxHeaderBytes: 4096, bodyIdleMs: 300, minBodyBytesPerSec: 0 },
        routes: [
          { match: { methods: ['DELETE'] }, pool: 'other' },
          { pathPrefix: '/', pool: 'default' },
        ],
        pools: { default: pool([b]), other: pool([backends[1]!]) },
      });
      s = h2c(lb);
    });
    after(async () => {
      s.close();
      await lb.close();
      await b.close();
    });

    /** Answered with `status` (or, where nghttp2 refuses it first, the stream reset); the backend never sees it. */
    const refused = async (headers: http2.OutgoingHttpHeaders, status: number, what: RegExp, mayReset = false): Promise<void> => {
      const before = b.hits;
      const r = await h2request(s, headers);
      if (mayReset && r.status === 0) assert.notEqual(r.rstCode, 0);
      else {
        assert.equal(r.status, status, r.body);
        assert.match(r.body, what);
      }
      assert.equal(b.hits, before, 'the backend never saw it');
    };

    it(':authority and Host that differ: 400', () => refused({ ':authority': 'a.example', host: 'b.example' }, 400, /differs from the Host/));
    it('an invalid Host: refused', () => refused({ host: 'a b' }, 400, /invalid Host/, true));
    it('an invalid Host that nghttp2 lets through: 400', () => refused({ host: 'a{b' }, 400, /invalid Host/, true));
    it('a path with an encoded slash: 400', () => refused({ ':path': '/a%2Fb' }, 400, /encoded slash/));
    it('a header list over client.maxHeaderBytes: 431', () => refused({ 'x-big': 'x'.repeat(5000) }, 431, /maxHeaderBytes/, true));
    it('routing by method reads the h2 :method', async () => {
      const r = await h2request(s, { ':method': 'DELETE' });
      assert.equal(r.body, 'b');
    });
    it('a stalled request body: 408 after client.bodyIdleMs', async () => {
      const stream = s.request({ ':method': 'POST', ':path': '/', 'content-length': '10' });
      stream.write('abc');
      const status = await new Promise<number>((resolve) => stream.on('response', (h) => resolve(Number(h[':status']))));
      stream.on('error', () => undefined);
      stream.close();
      assert.equal(status, 408);
    });
    it('draining: 503 (no connection-specific header in the answer)', async () => {
      lb.balancer.setDraining(null, true);
      try {
        const r = await h2request(s, {});
        assert.equal(r.status, 503);
        assert.equal(r.headers['x-meridian-error'], 'L7_DRAINING');
      } finally {
        lb.balancer.setDraining(null, false);
      }
    });

    // What node's client refuses to send, written as raw frames: nghttp2 resets the stream, the backend never sees it.
    const rawRefused = async (block: Buffer, what: string): Promise<void> => {
      const raw = new RawH2(lb.balancer.h2cAddress!.port);
      const before = b.hits;
      try {
        raw.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, block));
        await waitFor(() => raw.reset(1) !== null || raw.goaway() !== null || raw.answered(1) || raw.closed, 5000, what);
        if (raw.answered(1)) {
          const h = raw.frames.find((f) => f.type === FRAME.HEADERS)!;
          // a literal ":status: 400" would be 0x08 + ...; any answer must not be a 2xx
          assert.notEqual(h.payload[0], 0x88, `${what}: answered 200`);
        }
        assert.equal(b.hits, before, `${what}: the backend never saw it`);
      } finally {
        raw.close();
      }
    };
    it('a connection-specific header (Connection, Transfer-Encoding, Upgrade, TE other than trailers) is refused', async () => {
      await rawRefused(requestBlock([['connection', 'keep-alive']]), 'connection');
      await rawRefused(requestBlock([['transfer-encoding', 'chunked']]), 'transfer-encoding');
      await rawRefused(requestBlock([['upgrade', 'websocket']]), 'upgrade');
      await rawRefused(requestBlock([['te', 'gzip']]), 'te');
    });
    it('two Host headers: refused', () =>
      rawRefused(
        requestBlock([
          ['host', 'localhost'],
          ['host', 'localhost'],
        ]),
        'two Host headers',
      ));
    it('huge HPACK headers: a small block that decodes past client.maxHeaderBytes (one indexed field repeated) is refused', async () => {
      // 0x40: literal with incremental indexing; 0xbe: the dynamic table's first entry (index 62), 1 byte each.
      const big = Buffer.concat([Buffer.from([0x40, 5]), Buffer.from('x-big'), Buffer.from([0x7f, 0x81, 0x0f]), Buffer.alloc(2000, 'y')]);
      const block = Buffer.concat([requestBlock(), big, Buffer.alloc(20, 0xbe)]);
      assert.ok(block.length < 4096, 'the block itself is under the limit');
      await rawRefused(block, 'amplified header list');
    });
    it('malformed pseudo-headers are refused: unknown, missing :path, after a regular header, upper-case names', async () => {
      await rawRefused(requestBlock([[':foo', 'x']]), 'unknown pseudo-header');
      await rawRefused(
        hpack([
          [':method', 'GET'],
          [':scheme', 'http'],
          [':authority', 'localhost'],
        ]),
        'no :path',
      );
      await rawRefused(
        hpack([
          [':method', 'GET'],
          ['x-a', '1'],
          [':scheme', 'http'],
          [':path', '/'],
          [':authority', 'localhost'],
        ]),
        'pseudo after regular',
      );
      await rawRefused(requestBlock([['X-Upper', '1']]), 'upper-case name');
      await rawRefused(requestBlock([], 'no-slash'), 'a :path that is not a path');
    });
  });

  it('per-client limits hold over h2: rate limit, connections per client, maxConcurrentStreams advertised', async () => {
    const lb = await startBalancer({
      ...H2C,
      rateLimit: { perClient: { ratePerSec: 0.01, burst: 2 } },
      client: { maxConnectionsPerClient: 1 },
      http2: { cleartextListen: '127.0.0.1:0', maxConcurrentStreams: 7 },
      pools: { default: pool([backends[0]!]) },
    });
    const s = h2c(lb);
    try {
      const codes = [];
      for (let i = 0; i < 4; i++) codes.push((await h2request(s, {})).status);
      assert.deepEqual(codes, [200, 200, 429, 429], 'one bucket per client, as over HTTP/1.1');
      assert.equal(s.remoteSettings.maxConcurrentStreams, 7);
      const second = net.connect(lb.balancer.h2cAddress!.port, '127.0.0.1');
      second.on('error', () => undefined);
      await new Promise((resolve) => second.once('close', resolve));
      assert.equal(lb.balancer.metrics.connectionsRefused, 1, 'a second connection from the same address is closed');
    } finally {
      s.close();
      await lb.close();
    }
  });

  it('client.maxConnectionsPerClient also caps the requests one address has in flight over h2 (as one request per HTTP/1.1 connection): more streams are refused', async () => {
    const held: http.ServerResponse[] = [];
    const hold = await startBackend('hold');
    hold.handler = (_req, res) => void held.push(res);
    const lb = await startBalancer({ client: { maxConnectionsPerClient: 3 }, http2: { cleartextListen: '127.0.0.1:0' }, pools: { default: pool([hold]) } });
    const sessions = [h2c(lb), h2c(lb)];
    try {
      // Five streams over two connections: within maxConcurrentStreams (100) of each, past the address's three.
      const replies = [0, 1, 0, 1, 0].map((i) => h2request(sessions[i]!, {}));
      await waitFor(() => held.length >= 3, 5000, 'three requests at the backend');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(held.length, 3, 'no more than three reached the backend');
      hold.handler = (_req, res) => res.end('hold');
      for (const res of held.splice(0)) res.end('hold');
      const done = await Promise.all(replies);
      assert.deepEqual(done.map((r) => r.status || r.rstCode).sort(), [200, 200, 200, http2.constants.NGHTTP2_REFUSED_STREAM, http2.constants.NGHTTP2_REFUSED_STREAM].sort());
      assert.equal((await h2request(sessions[1]!, {})).status, 200, 'finished streams free their places');
      assert.match((await request(`${lb.adminUrl}/metrics`)).body, /meridian_l7_client_refused_total\{reason="h2-client-streams"\} 2/);
    } finally {
      for (const res of held) res.end();
      for (const s of sessions) s.close();
      await lb.close();
      await hold.close();
    }
  });

  it('a connection with no stream open for http2.idleMs is closed (GOAWAY), as HTTP/1.1 keep-alive ends: also one that never sent the preface', async () => {
    const lb = await startBalancer({ http2: { cleartextListen: '127.0.0.1:0', idleMs: 300 }, pools: { default: pool([backends[0]!]) } });
    const silent = net.connect({ port: lb.balancer.h2cAddress!.port, host: '127.0.0.1', allowHalfOpen: true }); // never closes its side
    silent.on('error', () => undefined);
    silent.resume(); // reads what the balancer sends (its SETTINGS and GOAWAY), so its end is seen
    const s = h2c(lb);
    try {
      assert.equal((await h2request(s, {})).status, 200);
      const goaway = new Promise<number>((resolve) => s.once('goaway', (code: number) => resolve(code)));
      await waitFor(() => s.closed || s.destroyed, 10_000, 'the idle session to be closed');
      assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
      await waitFor(() => silent.readableEnded, 10_000, 'a connection that sent nothing to be ended');
      const server = (lb.balancer as unknown as { h2: { cleartext: net.Server } }).h2.cleartext;
      const open = (): Promise<number> => new Promise((resolve) => server.getConnections((_err, n) => resolve(n)));
      await waitFor(async () => (await open()) === 0, 10_000, 'its socket to be closed though the peer keeps its side open');
    } finally {
      silent.destroy();
      s.destroy();
      await lb.close();
    }
  });

  it('http2.maxStreamsPerConnection: past that many requests the connection gets GOAWAY (the requests made are answered)', async () => {
    const lb = await startBalancer({ http2: { cleartextListen: '127.0.0.1:0', maxStreamsPerConnection: 2 }, pools: { default: pool([backends[0]!]) } });
    const s = h2c(lb);
    const goaway = new Promise<void>((resolve) => s.once('goaway', () => resolve()));
    try {
      assert.equal((await h2request(s, {})).status, 200);
      assert.equal((await h2request(s, {})).status, 200);
      await goaway;
    } finally {
      s.destroy();
      await lb.close();
    }
  });

  it('the sticky cookie works over h2 as over HTTP/1.1 (Secure under TLS)', async () => {
    const sticky = { secret: 'h2-test-secret-0123456789' };
    const lb = await startBalancer({ tls, pools: { default: { backends: backends.map((x) => ({ id: x.id, address: x.address })), sticky } } });
    const s = h2tls(lb);
    try {
      const r = await h2request(s, {});
      assert.equal(r.status, 200);
      const cookie = String(r.headers['set-cookie']);
      assert.match(cookie, /MERIDIAN_BACKEND=.*Secure/);
      for (let i = 0; i < 4; i++) {
        const again = await h2request(s, { cookie: cookie.split(';')[0]! });
        assert.equal(again.body, r.body, 'the same backend each time');
        assert.equal(again.headers['set-cookie'], undefined, 'the sticky backend served: no new cookie');
      }
    } finally {
      s.close();
      await lb.close();
    }
  });

  it('retries over h2 follow retries.on: a backend gone since its check is retried elsewhere (connect-failure)', async () => {
    const gone = await startBackend('gone');
    const lb = await startBalancer({
      ...H2C,
      pools: {
        default: {
          algorithm: 'round-robin',
          backends: [
            { id: 'gone', address: gone.address },
            { id: 'a', address: backends[0]!.address },
          ],
          outlierDetection: { consecutiveErrors: 0 },
        },
      },
    });
    await gone.close();
    const s = h2c(lb);
    try {
      for (let i = 0; i < 4; i++) {
        const r = await h2request(s, { ':method': 'POST' }, 'body');
        assert.equal(r.status, 200, r.body);
        assert.equal(r.body, 'a');
      }
      assert.ok(lb.balancer.metrics.retries >= 1);
    } finally {
      s.close();
      await lb.close();
    }
  });

  describe('HTTP/2 attacks', () => {
    let lb: TestBalancer;
    let slow: TestBackend;
    before(async () => {
      slow = await startBackend('slow');
      slow.handler = (_req, res) => setTimeout(() => res.end('late'), 200);
      lb = await startBalancer({ ...H2C, http2: { cleartextListen: '127.0.0.1:0', maxResetsPerSec: 20, idleMs: 300 }, pools: { default: pool([slow]) } });
    });
    after(async () => {
      await lb.close();
      await slow.close();
    });

    it('rapid reset (CVE-2023-44487): a connection cancelling streams faster than maxResetsPerSec gets GOAWAY ENHANCE_YOUR_CALM', async () => {
      const raw = new RawH2(lb.balancer.h2cAddress!.port);
      try {
        const frames: Buffer[] = [];
        for (let id = 1; id < 400; id += 2) {
          frames.push(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, requestBlock()));
          frames.push(frame(FRAME.RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])));
        }
        raw.send(...frames);
        await waitFor(() => raw.closed, 5000, 'the connection to be closed');
        assert.equal(raw.goaway(), 0x0b, 'GOAWAY ENHANCE_YOUR_CALM');
        assert.equal(lb.balancer.metrics.h2RapidResets, 1);
        assert.ok(slow.hits < 100, `only a bounded number of requests reached the backend (${slow.hits})`);
        await waitFor(() => lb.balancer.runtime.pools.get('default')!.backends[0]!.inFlight === 0, 5000, 'the cancelled requests to end');
      } finally {
        raw.close();
      }
    });

    it('CONTINUATION flood: a header block that never ends is cut, the balancer keeps serving', async () => {
      const raw = new RawH2(lb.balancer.h2cAddress!.port);
      try {
        raw.send(frame(FRAME.HEADERS, 0, 1, requestBlock()));
        const junk = frame(FRAME.CONTINUATION, 0, 1, hpack([['x-flood', 'y'.repeat(1000)]]));
        for (let i = 0; i < 200 && !raw.closed; i++) {
          raw.send(junk);
          await new Promise((r) => setImmediate(r));
        }
        await waitFor(() => raw.closed || raw.goaway() !== null, 5000, 'the flood to be cut');
        const s = h2c(lb);
        assert.equal((await h2request(s, {})).status, 200);
        s.close();
      } finally {
        raw.close();
      }
    });

    it('SETTINGS flood from a client that never reads: the connection is closed', async () => {
      const raw = new RawH2(lb.balancer.h2cAddress!.port);
      try {
        raw.socket.pause(); // never read the ACKs
        const settings = frame(FRAME.SETTINGS, 0, 0, Buffer.from([0, 4, 0, 0, 0xff, 0xff]));
        const burst = Buffer.concat(Array.from({ length: 1000 }, () => settings));
        for (let i = 0; i < 50 && !raw.closed; i++) {
          raw.send(burst);
          await new Promise((r) => setTimeout(r, 5));
        }
        await waitFor(() => raw.closed, 10_000, 'the connection to be closed');
      } finally {
        raw.close();
      }
    });

    it('slow read: a client that never reads its response has the stream cancelled after http2.idleMs, the backend slot freed', async () => {
      slow.handler = (_req, res) => res.end(Buffer.alloc(1_000_000, 'x'));
      const s = http2.connect(`http://127.0.0.1:${lb.balancer.h2cAddress!.port}`, { settings: { initialWindowSize: 1 } });
      s.on('error', () => undefined);
      try {
        const stream = s.request({ ':path': '/big' });
        stream.on('error', () => undefined);
        stream.pause();
        const closed = new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode ?? -1)));
        const code = await closed;
        assert.equal(code, http2.constants.NGHTTP2_CANCEL);
        await waitFor(() => lb.balancer.runtime.pools.get('default')!.backends[0]!.inFlight === 0, 5000, 'the backend request to end');
      } finally {
        s.destroy();
        slow.handler = (_req, res) => setTimeout(() => res.end('late'), 200);
      }
    });
  });
});
