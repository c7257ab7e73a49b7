/** HTTPS and HTTPS-balancer probes against a self-signed loopback server: verification, SNI, TLS timeouts. */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { runProbe } from '../../../src/health/probes/index.js';
import { assertNoSockets, balancerSpec, closeServer, httpSpec, listen, never, selfSignedCert, type TestCert } from './servers.js';

let cert: TestCert;
/** Server name sent by each client in the TLS handshake (false when none). */
const sniSeen: Array<string | false> = [];
let server: https.Server;
let port: number;

before(async () => {
  cert = selfSignedCert();
  server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    if (req.url === '/healthz') res.end(JSON.stringify({ up: true, healthy: 3, total: 4 }));
    else res.end(`host=${req.headers.host}`);
  });
  server.on('secureConnection', (socket: TLSSocket) => sniSeen.push(socket.servername ?? false));
  port = await listen(server);
});

after(async () => {
  await closeServer(server);
  await assertNoSockets();
});

const httpsSpec = (over: Parameters<typeof httpSpec>[1] = {}) => httpSpec(port, { type: 'https', ...over });

describe('https probe', () => {
  it('fails with "tls" on a self-signed cert when verifying', async () => {
    const r = await runProbe(httpsSpec({ verifyTls: true, host: 'localhost' }), '127.0.0.1', never);
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'tls', r.detail);
    assert.match(r.detail, /self[- ]signed/i);
  });

  it('is ok with verifyTls off, sending the Host header', async () => {
    const r = await runProbe(httpsSpec({ verifyTls: false, bodyMatch: `^host=127\\.0\\.0\\.1:${port}$` }), '127.0.0.1', never);
    assert.equal(r.ok, true, r.detail);
  });

  it('sends spec.sni, else spec.host, and no server name for an IP', async () => {
    const probe = (over: Parameters<typeof httpsSpec>[0]) => runProbe(httpsSpec({ verifyTls: false, ...over }), '127.0.0.1', never);
    sniSeen.length = 0;
    await probe({});
    await probe({ host: 'localhost' });
    await probe({ host: 'www.example.test', sni: 'sni.example.test' });
    await probe({ host: '127.0.0.1' });
    assert.deepEqual(sniSeen, [false, 'localhost', 'sni.example.test', false]);
  });

  it('fails with "tls" when the server does not speak TLS', async () => {
    const plain = http.createServer((_req, res) => res.end());
    const plainPort = await listen(plain);
    try {
      const r = await runProbe(httpSpec(plainPort, { type: 'https', verifyTls: false }), '127.0.0.1', never);
      assert.equal(r.reason, 'tls', r.detail);
    } finally {
      await closeServer(plain);
    }
  });

  it('times out in the handshake when the server never answers it', async () => {
    // Reads (and drops) the ClientHello so it sees the probe's FIN and can close.
    const silent = net.createServer((socket) => socket.resume());
    const silentPort = await listen(silent);
    try {
      const started = performance.now();
      const r = await runProbe(httpSpec(silentPort, { type: 'https', timeoutMs: 200 }), '127.0.0.1', never);
      assert.equal(r.reason, 'timeout', r.detail);
      assert.match(r.detail, /waiting for TLS/);
      assert.ok(performance.now() - started < 600);
    } finally {
      await closeServer(silent);
    }
  });
});

describe('https balancer probe', () => {
  it('is ok with verifyTls off and reports capacity', async () => {
    const r = await runProbe(balancerSpec(port, { https: true, verifyTls: false }), '127.0.0.1', never);
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.capacity, 0.75);
  });

  it('fails with "tls" on the self-signed cert when verifying', async () => {
    const r = await runProbe(balancerSpec(port, { https: true, verifyTls: true }), '127.0.0.1', never);
    assert.equal(r.reason, 'tls', r.detail);
  });
});
