/**
 * gRPC end to end through the balancer (issue 15): a real @grpc/grpc-js client and servers,
 * the call carried over HTTP/2 both ways, trailers kept, and the balancer's own failures
 * answered as gRPC statuses (trailers-only, HTTP 200).
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { projectRoot } from '../support/test-server.js';
import { h2request } from './h2-helpers.js';
import { request, startBalancer, waitFor, type TestBalancer } from './helpers.js';
import { TestPki } from './pki.js';
import fs from 'node:fs';

const def = protoLoader.loadSync(path.join(projectRoot, 'test/fixtures/grpc/echo.proto'), { keepCase: true });
const proto = grpc.loadPackageDefinition(def) as unknown as { meridian: { test: { Echo: grpc.ServiceClientConstructor & { service: grpc.ServiceDefinition } } } };
const Echo = proto.meridian.test.Echo;

interface Msg {
  text: string;
  n: number;
}

interface GrpcBackend {
  readonly id: string;
  readonly address: string;
  calls: number;
  /** Time between two messages of Count. */
  countGapMs: number;
  /** Replaces Say's behaviour. */
  say: grpc.handleUnaryCall<Msg, Msg>;
  close(): Promise<void>;
}

async function startGrpcBackend(id: string, credentials = grpc.ServerCredentials.createInsecure()): Promise<GrpcBackend> {
  const server = new grpc.Server();
  const backend: GrpcBackend = {
    id,
    address: '',
    calls: 0,
    countGapMs: 0,
    say: (call, cb) => cb(null, { text: `${id}:${call.request.text}`, n: call.request.n }),
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())).then(() => server.forceShutdown()),
  };
  server.addService(Echo.service, {
    Say: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      backend.calls++;
      backend.say(call, cb);
    },
    Count: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      backend.calls++;
      call.sendMetadata(new grpc.Metadata()); // the response header at once, before any message
      const stream = async (): Promise<void> => {
        for (let i = 1; i <= call.request.n; i++) {
          if (backend.countGapMs > 0) await new Promise((r) => setTimeout(r, backend.countGapMs));
          if (call.cancelled) return;
          call.write({ text: `${id}:${i}`, n: i });
        }
        call.end();
      };
      // grpc-js does not wait for a handler: a failure ends this call instead of escaping as an unhandled rejection.
      stream().catch((err: unknown) => call.destroy(err instanceof Error ? err : new Error(String(err))));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))));
  Object.assign(backend, { address: `127.0.0.1:${port}` });
  return backend;
}

function client(lb: TestBalancer): grpc.Client & Record<string, any> {
  return new Echo(`127.0.0.1:${lb.balancer.h2cAddress!.port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, any>;
}

function say(c: grpc.Client & Record<string, any>, text: string, options: grpc.CallOptions = {}): Promise<{ ok: true; msg: Msg } | { ok: false; err: grpc.ServiceError }> {
  return new Promise((resolve) => c.Say({ text, n: 1 }, new grpc.Metadata(), options, (err: grpc.ServiceError | null, msg: Msg) => resolve(err ? { ok: false, err } : { ok: true, msg })));
}

const H2C = { http2: { cleartextListen: '127.0.0.1:0' } };

describe('l7 gRPC through the balancer', () => {
  let a: GrpcBackend;
  let b: GrpcBackend;
  let lb: TestBalancer;
  let c: grpc.Client & Record<string, any>;
  before(async () => {
    a = await startGrpcBackend('a');
    b = await startGrpcBackend('b');
    lb = await startBalancer({
      ...H2C,
      pools: {
        default: {
          backends: [
            { id: 'a', address: a.address },
            { id: 'b', address: b.address },
          ],
        },
      },
    });
    c = client(lb);
  });
  after(async () => {
    c.close();
    await lb.close();
    await a.close();
    await b.close();
  });

  it('a unary call goes through, and calls spread over both backends', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const r = await say(c, `hi${i}`);
      assert.ok(r.ok, r.ok ? '' : r.err.message);
      assert.equal(r.msg.text.slice(2), `hi${i}`);
      seen.add(r.msg.text.slice(0, 1));
    }
    assert.deepEqual([...seen].sort(), ['a', 'b']);
    assert.ok(a.calls >= 3 && b.calls >= 3, `a ${a.calls}, b ${b.calls}`);
  });

  it('a server-streaming call gets every message and the OK status', async () => {
    const got: Msg[] = [];
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = c.Count({ text: '', n: 5 }) as grpc.ClientReadableStream<Msg>;
      call.on('data', (m: Msg) => got.push(m));
      call.on('error', () => undefined);
      call.on('status', resolve);
    });
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(
      got.map((m) => m.n),
      [1, 2, 3, 4, 5],
    );
  });

  it('a streaming call outlives timeouts.headersMs within its deadline, and ends DEADLINE_EXCEEDED past it', async () => {
    const slow = await startBalancer({ ...H2C, timeouts: { headersMs: 200 }, pools: { default: { backends: [{ id: 'a', address: a.address }] } } });
    const sc = client(slow);
    a.countGapMs = 100;
    const count = (deadlineMs: number): Promise<{ got: number; status: grpc.StatusObject }> =>
      new Promise((resolve) => {
        let got = 0;
        const call = sc.Count({ text: '', n: 6 }, { deadline: Date.now() + deadlineMs }) as grpc.ClientReadableStream<Msg>;
        call.on('data', () => got++);
        call.on('error', () => undefined);
        call.on('status', (status: grpc.StatusObject) => resolve({ got, status }));
      });
    try {
      const within = await count(5000); // ~600 ms of messages, three times headersMs
      assert.equal(within.status.code, grpc.status.OK, within.status.details);
      assert.equal(within.got, 6);
      const past = await count(350);
      assert.equal(past.status.code, grpc.status.DEADLINE_EXCEEDED);
      assert.ok(past.got < 6);
    } finally {
      a.countGapMs = 0;
      sc.close();
      await slow.close();
    }
  });

  it("a backend's error status and message pass through as trailers, with its trailing metadata", async () => {
    const fail: grpc.handleUnaryCall<Msg, Msg> = (_call, cb) => {
      const md = new grpc.Metadata();
      md.set('x-why', 'because');
      cb({ code: grpc.status.NOT_FOUND, details: 'no such thing', metadata: md });
    };
    a.say = fail;
    b.say = fail;
    try {
      const r = await say(c, 'x');
      assert.ok(!r.ok);
      assert.equal(r.err.code, grpc.status.NOT_FOUND);
      assert.equal(r.err.details, 'no such thing');
      assert.deepEqual(r.err.metadata.get('x-why'), ['because']);
      assert.ok(
        lb.balancer.runtime.pools.get('default')!.backends.every((x) => x.ejectedUntil === 0),
        'a gRPC error status is not a backend failure',
      );
    } finally {
      a.say = b.say = (call, cb) => cb(null, { text: call.request.text, n: 1 });
    }
  });

  it('a backend that does not answer within grpc-timeout: the balancer answers DEADLINE_EXCEEDED itself', async () => {
    a.say = b.say = () => undefined; // never answers
    try {
      // a raw HTTP/2 call, so that the status seen is the balancer's and not the client's own deadline
      const s = http2.connect(`http://127.0.0.1:${lb.balancer.h2cAddress!.port}`);
      s.on('error', () => undefined);
      const frameOf = (m: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, 0, m.length]), m]);
      const r = await h2request(
        s,
        { ':method': 'POST', ':path': '/meridian.test.Echo/Say', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '200m' },
        frameOf(Buffer.from([0x0a, 1, 0x78])),
      );
      s.close();
      assert.equal(r.status, 200);
      assert.equal(r.headers['grpc-status'], '4');
      assert.equal(r.headers['x-meridian-error'], 'L7_DEADLINE_EXCEEDED');
      // and through grpc-js, with the client's deadline further out than the call's grpc-timeout it sends is not: grpc-js sends its own deadline
      const viaClient = await say(c, 'late', { deadline: Date.now() + 300 });
      assert.ok(!viaClient.ok);
      assert.equal(viaClient.err.code, grpc.status.DEADLINE_EXCEEDED);
    } finally {
      a.say = b.say = (call, cb) => cb(null, { text: call.request.text, n: 1 });
    }
  });
});

describe("l7 gRPC: the balancer's own failures are gRPC statuses", () => {
  it('a backend that cannot be reached or none usable: UNAVAILABLE; rate limited: RESOURCE_EXHAUSTED', async () => {
    const down = await startGrpcBackend('down');
    const address = down.address;
    await down.close();
    const lb = await startBalancer(
      {
        ...H2C,
        rateLimit: { perClient: { ratePerSec: 0.01, burst: 3 } },
        routes: [{ match: { headers: [{ name: 'content-type', prefix: 'application/grpc' }] }, pool: 'grpc' }],
        pools: { grpc: { backends: [{ id: 'down', address }] } },
      },
      500,
    );
    const c = client(lb);
    try {
      const r = await say(c, 'x');
      assert.ok(!r.ok);
      assert.equal(r.err.code, grpc.status.UNAVAILABLE, r.err.message);
      // panic mode (no backend healthy) still tries the one there is: it refuses the connection
      assert.deepEqual(r.err.metadata.get('x-meridian-error'), ['L7_CONNECT_FAILED']);
      const s = http2.connect(`http://127.0.0.1:${lb.balancer.h2cAddress!.port}`);
      s.on('error', () => undefined);
      const unrouted = await h2request(s, { ':method': 'POST', ':path': '/x', 'content-type': 'text/plain' }, 'x');
      assert.equal(unrouted.status, 404, 'not gRPC: a plain HTTP answer');
      lb.balancer.setDraining('grpc/down', true);
      const none = await say(c, 'z');
      assert.ok(!none.ok);
      assert.equal(none.err.code, grpc.status.UNAVAILABLE);
      assert.deepEqual(none.err.metadata.get('x-meridian-error'), ['L7_NO_BACKEND']);
      const limited = await say(c, 'y');
      assert.ok(!limited.ok);
      assert.equal(limited.err.code, grpc.status.RESOURCE_EXHAUSTED);
      s.close();
    } finally {
      c.close();
      await lb.close();
    }
  });
});

describe('l7 backends with protocol: h2c', () => {
  it('plain requests (HTTP/1.1 or h2 clients) reach them over HTTP/2 with trailers kept; REFUSED_STREAM is retried when retries.on says refused-stream', async () => {
    const servers: http2.Http2Server[] = [];
    const seen: string[] = [];
    let refuseNext = 0;
    const start = async (id: string): Promise<string> => {
      const srv = http2.createServer();
      srv.on('stream', (stream, headers) => {
        stream.on('error', () => undefined);
        if (id === 'r' && refuseNext > 0) {
          refuseNext--;
          stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
          return;
        }
        seen.push(`${id} ${headers[':method']} ${headers[':path']} host=${headers[':authority']} xff=${headers['x-forwarded-for']}`);
        stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc' }));
        stream.end(`hello from ${id}`);
      });
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
      servers.push(srv);
      return `127.0.0.1:${(srv.address() as AddressInfo).port}`;
    };
    const r = await start('r');
    const ok = await start('ok');
    const lb = await startBalancer({
      ...H2C,
      pools: {
        default: {
          algorithm: 'round-robin',
          backends: [
            { id: 'r', address: r, protocol: 'h2c' },
            { id: 'ok', address: ok, protocol: 'h2c' },
          ],
          retries: { attempts: 1, on: ['connect-failure', 'refused-stream'] },
        },
      },
    });
    const s = http2.connect(`http://127.0.0.1:${lb.balancer.h2cAddress!.port}`);
    s.on('error', () => undefined);
    try {
      const viaH1 = await request(`${lb.url}/one`, { headers: { host: 'shop.example' } });
      assert.equal(viaH1.status, 200);
      assert.match(viaH1.body, /^hello from /);
      const viaH2 = await h2request(s, { ':path': '/two' });
      assert.equal(viaH2.status, 200);
      assert.deepEqual(viaH2.trailers?.['x-checksum'], 'abc', 'trailers pass through to an h2 client');
      assert.ok(
        seen.some((x) => x.includes('GET /one host=shop.example xff=127.0.0.1')),
        seen.join('\n'),
      );
      refuseNext = 2;
      // the two next picks of r refuse: a request r never saw goes to ok instead
      for (let i = 0; i < 4; i++) {
        const p = await h2request(s, { ':method': 'DELETE', ':path': '/p' });
        assert.equal(p.status, 200, p.body);
      }
      assert.equal(refuseNext, 0, 'r refused two streams');
      assert.ok(lb.balancer.metrics.retries >= 1, 'a refused stream went to the other backend');
    } finally {
      s.close();
      await lb.close();
      for (const srv of servers) await new Promise((resolve) => srv.close(resolve));
    }
  });
});

describe('l7 gRPC: a stalled call', () => {
  it('a call whose client stops sending is cancelled after http2.idleMs, not held by the body rate or idle limits meant for HTTP bodies', async () => {
    const g = await startGrpcBackend('g');
    const lb = await startBalancer({
      http2: { cleartextListen: '127.0.0.1:0', idleMs: 400 },
      client: { minBodyBytesPerSec: 1_000_000, bodyRateGraceMs: 100, bodyIdleMs: 100 },
      pools: { default: { backends: [{ id: 'g', address: g.address }] } },
    });
    const s = http2.connect(`http://127.0.0.1:${lb.balancer.h2cAddress!.port}`);
    s.on('error', () => undefined);
    try {
      // a quiet but live call: the message comes after 250 ms, past bodyIdleMs and the rate grace, within http2.idleMs
      const stream = s.request({ ':method': 'POST', ':path': '/meridian.test.Echo/Say', 'content-type': 'application/grpc', te: 'trailers' });
      stream.on('error', () => undefined);
      let trailers: http2.IncomingHttpHeaders | null = null;
      stream.on('trailers', (t) => (trailers = t));
      stream.resume();
      setTimeout(() => stream.end(Buffer.from([0, 0, 0, 0, 3, 0x0a, 1, 0x78])), 250);
      await new Promise((resolve) => stream.on('close', resolve));
      assert.equal(trailers?.['grpc-status'], '0', 'the quiet call completed');
      // a stalled one: half a message, then nothing
      const stalled = s.request({ ':method': 'POST', ':path': '/meridian.test.Echo/Say', 'content-type': 'application/grpc', te: 'trailers' });
      stalled.on('error', () => undefined);
      stalled.write(Buffer.from([0, 0, 0, 0, 3]));
      const code = await new Promise<number>((resolve) => stalled.on('close', () => resolve(stalled.rstCode ?? -1)));
      assert.equal(code, http2.constants.NGHTTP2_CANCEL);
      await waitFor(() => lb.balancer.runtime.pools.get('default')!.backends[0]!.inFlight === 0, 5000, 'the backend call to end');
    } finally {
      s.close();
      await lb.close();
      await g.close();
    }
  });
});

describe('l7 gRPC health checks (healthCheck.type: grpc)', () => {
  it('a backend is healthy only while grpc.health.v1 says SERVING for the configured service', async () => {
    const healthDef = protoLoader.loadSync(path.join(projectRoot, 'test/fixtures/grpc/health.proto'), { keepCase: true, enums: String });
    const Health = (grpc.loadPackageDefinition(healthDef) as any).grpc.health.v1.Health as grpc.ServiceClientConstructor;
    let status = 'SERVING';
    const asked: string[] = [];
    const server = new grpc.Server();
    server.addService(Health.service, {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        asked.push(call.request.service);
        cb(null, { status });
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    const lb = await startBalancer({
      pools: { default: { backends: [{ id: 'h', address: `127.0.0.1:${port}` }], healthCheck: { type: 'grpc', service: 'meridian.test.Echo', intervalMs: 100, rise: 1, fall: 1 } } },
    });
    try {
      assert.equal(lb.balancer.health().healthy, 1, 'SERVING: healthy');
      assert.ok(asked.includes('meridian.test.Echo'), 'the configured service was asked about');
      status = 'NOT_SERVING';
      await waitFor(() => lb.balancer.health().healthy === 0, 5000, 'NOT_SERVING to make it unhealthy');
      status = 'SERVING';
      await waitFor(() => lb.balancer.health().healthy === 1, 5000, 'SERVING again');
      server.forceShutdown();
      await waitFor(() => lb.balancer.health().healthy === 0, 5000, 'a server gone to make it unhealthy');
    } finally {
      await lb.close();
      server.forceShutdown();
    }
  });
});

describe('l7 gRPC to a backend with tls', () => {
  it('calls reach it over HTTP/2 on TLS with the configured CA; a CA that does not verify it leaves no backend (UNAVAILABLE)', async () => {
    const pki = new TestPki();
    const ca = pki.ca('grpc-ca');
    const other = pki.ca('other-ca');
    const cert = pki.issue(ca, 'grpc-backend', ['127.0.0.1']);
    const creds = grpc.ServerCredentials.createSsl(fs.readFileSync(ca.cert), [{ cert_chain: fs.readFileSync(cert.cert), private_key: fs.readFileSync(cert.key) }], false);
    const backend = await startGrpcBackend('t', creds);
    const good = await startBalancer({ ...H2C, pools: { default: { backends: [{ id: 't', address: backend.address, tls: { ca: ca.cert } }] } } });
    const bad = await startBalancer({ ...H2C, pools: { default: { backends: [{ id: 't', address: backend.address, tls: { ca: other.cert } }] } } });
    const c1 = client(good);
    const c2 = client(bad);
    try {
      const r = await say(c1, 'over-tls');
      assert.ok(r.ok, r.ok ? '' : r.err.message);
      assert.equal(r.msg.text, 't:over-tls');
      const calls = backend.calls;
      const refused = await say(c2, 'nope');
      assert.ok(!refused.ok);
      assert.equal(refused.err.code, grpc.status.UNAVAILABLE);
      assert.equal(backend.calls, calls, 'a backend whose certificate does not verify gets no call');
    } finally {
      c1.close();
      c2.close();
      await good.close();
      await bad.close();
      await backend.close();
      pki.remove();
    }
  });

  it('the grpc health check goes over TLS too, with the same CA: it passes on SERVING, and a CA that does not verify the backend fails it', async () => {
    const pki = new TestPki();
    const ca = pki.ca('grpc-ca');
    const other = pki.ca('other-ca');
    const cert = pki.issue(ca, 'grpc-backend', ['127.0.0.1']);
    const healthDef = protoLoader.loadSync(path.join(projectRoot, 'test/fixtures/grpc/health.proto'), { keepCase: true, enums: String });
    const Health = (grpc.loadPackageDefinition(healthDef) as any).grpc.health.v1.Health as grpc.ServiceClientConstructor;
    let checks = 0;
    const server = new grpc.Server();
    server.addService(Health.service, {
      Check: (_call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        checks++;
        cb(null, { status: 'SERVING' });
      },
    });
    const creds = grpc.ServerCredentials.createSsl(fs.readFileSync(ca.cert), [{ cert_chain: fs.readFileSync(cert.cert), private_key: fs.readFileSync(cert.key) }], false);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));
    const check = { type: 'grpc', intervalMs: 100, timeoutMs: 1000, rise: 1, fall: 1 };
    const at = (caFile: string) => ({ pools: { default: { backends: [{ id: 'h', address: `127.0.0.1:${port}`, tls: { ca: caFile } }], healthCheck: check } } });
    const good = await startBalancer(at(ca.cert), 3000);
    const bad = await startBalancer(at(other.cert), 500);
    try {
      assert.equal(good.balancer.health().healthy, 1, 'SERVING over TLS: healthy');
      assert.ok(checks >= 1);
      assert.equal(bad.balancer.health().healthy, 0, 'a certificate the CA does not verify: down (its first check has run)');
    } finally {
      await good.close();
      await bad.close();
      server.forceShutdown();
      pki.remove();
    }
  });
});
