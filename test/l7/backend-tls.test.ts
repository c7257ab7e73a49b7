/** TLS to backends over real sockets: verification, SNI, mTLS, health checks over TLS, retries and config errors. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { parseBalancerConfig } from '../../src/l7/config.js';
import { TestPki, type Issued } from './pki.js';
import { request, startBalancer, tally, waitFor, type TestBalancer } from './helpers.js';

interface TlsBackend {
  readonly id: string;
  readonly address: string;
  /** SNI of the last proxied request's connection (false: none). */
  lastServername: string | false | null | undefined;
  close(): Promise<void>;
}

/** An HTTPS backend answering its id; `clientCa` makes it require a client certificate signed by that CA. */
async function startTlsBackend(id: string, server: Issued, clientCa?: string): Promise<TlsBackend> {
  const b: TlsBackend = { id, address: '', lastServername: undefined, close: async () => undefined };
  const srv = https.createServer(
    { cert: fs.readFileSync(server.cert), key: fs.readFileSync(server.key), ...(clientCa !== undefined && { ca: fs.readFileSync(clientCa), requestCert: true, rejectUnauthorized: true }) },
    (req, res) => {
      if (req.url !== '/healthz') b.lastServername = (req.socket as TLSSocket).servername;
      res.end(id);
    },
  );
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  Object.assign(b, {
    address: `127.0.0.1:${(srv.address() as AddressInfo).port}`,
    close: async () => {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    },
  });
  return b;
}

const fast = { type: 'tcp', intervalMs: 200, timeoutMs: 1000, rise: 1, fall: 1 };
const backendOf = (lb: TestBalancer, i = 0) => lb.balancer.runtime.pools.get('default')!.backends[i]!;

describe('TLS to backends', () => {
  const pki = new TestPki();
  let ca: Issued;
  let otherCa: Issued;
  let clientCa: Issued;
  let server: Issued;
  let foreign: Issued;
  let client: Issued;
  before(() => {
    ca = pki.ca('ca');
    otherCa = pki.ca('other-ca');
    clientCa = pki.ca('client-ca');
    server = pki.issue(ca, 'backend', ['backend.test', '127.0.0.1']);
    foreign = pki.issue(otherCa, 'foreign', ['backend.test', '127.0.0.1']);
    client = pki.issue(clientCa, 'balancer-client', [], 'client');
  });
  after(() => pki.remove());

  it('verifies the backend with the configured CA, sends the configured SNI, and checks health with a TLS handshake', async () => {
    const b = await startTlsBackend('a', server);
    const lb = await startBalancer({ pools: { default: { tls: { ca: ca.cert, sni: 'backend.test' }, healthCheck: fast, backends: [{ id: 'a', address: b.address }] } } });
    try {
      assert.equal(backendOf(lb).passedChecks(), true, 'the TLS handshake check passed');
      const r = await request(`${lb.url}/`, { headers: { host: 'client.example' } });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'a');
      assert.equal(b.lastServername, 'backend.test', 'the configured SNI, not the client Host');
    } finally {
      await lb.close();
      await b.close();
    }
  });

  it('to an IP address without sni sends no SNI and checks the certificate against the IP', async () => {
    const b = await startTlsBackend('a', server);
    const lb = await startBalancer({ pools: { default: { tls: { ca: ca.cert }, healthCheck: { ...fast, type: 'http' }, backends: [{ id: 'a', address: b.address }] } } });
    try {
      assert.equal(backendOf(lb).passedChecks(), true, 'the HTTPS check passed with the configured CA');
      const r = await request(`${lb.url}/`, { headers: { host: 'client.example' } });
      assert.equal(r.status, 200);
      assert.equal(b.lastServername, false);
    } finally {
      await lb.close();
      await b.close();
    }
  });

  it('a backend whose certificate another CA signed gets 502 L7_BACKEND_TLS, is down by its checks (TCP and HTTP), and verify: false accepts it', async () => {
    const b = await startTlsBackend('a', foreign);
    const lbTcp = await startBalancer({ pools: { default: { tls: { ca: ca.cert }, healthCheck: fast, backends: [{ id: 'a', address: b.address }] } } }, 500);
    const lbHttp = await startBalancer({ pools: { default: { tls: { ca: ca.cert }, healthCheck: { ...fast, type: 'http' }, backends: [{ id: 'a', address: b.address }] } } }, 500);
    const lbNoVerify = await startBalancer({ pools: { default: { tls: { ca: ca.cert, verify: false }, healthCheck: fast, backends: [{ id: 'a', address: b.address }] } } });
    try {
      for (const lb of [lbTcp, lbHttp]) {
        assert.equal(backendOf(lb).passedChecks(), false, 'the check fails over TLS');
        assert.equal(backendOf(lb).health.lastResult?.reason, 'tls');
        // panic mode still sends to it: the failure is the TLS one
        const r = await request(`${lb.url}/`);
        assert.equal(r.status, 502);
        assert.equal(r.headers['x-meridian-error'], 'L7_BACKEND_TLS');
        assert.match(r.body, /TLS handshake failed/);
      }
      assert.equal(backendOf(lbNoVerify).passedChecks(), true);
      assert.equal((await request(`${lbNoVerify.url}/`)).status, 200);
    } finally {
      await Promise.all([lbTcp.close(), lbHttp.close(), lbNoVerify.close()]);
      await b.close();
    }
  });

  it('a TLS failure is a connect failure: retried on another backend, counted against the backend that failed', async () => {
    const bad = await startTlsBackend('bad', foreign);
    const good = await startTlsBackend('good', server);
    // panicThresholdPercent 100: both are picked although the bad one fails its checks
    const lb = await startBalancer({
      pools: {
        default: {
          tls: { ca: ca.cert },
          panicThresholdPercent: 100,
          outlierDetection: { consecutiveErrors: 0 },
          healthCheck: fast,
          backends: [
            { id: 'bad', address: bad.address },
            { id: 'good', address: good.address },
          ],
        },
      },
    });
    try {
      const counts = await tally(`${lb.url}/`, 10);
      assert.deepEqual([...counts.entries()], [['good', 10]], 'every request answered, the bad one retried on the good one');
      assert.ok(backendOf(lb, 0).errors >= 1 || backendOf(lb, 0).responses5xx >= 1, 'failures counted on the bad backend');
      assert.ok(lb.balancer.metrics.retries >= 1);
    } finally {
      await lb.close();
      await Promise.all([bad.close(), good.close()]);
    }
  });

  it('mTLS: a backend that requires a client certificate accepts ours and refuses the balancer without it', async () => {
    const b = await startTlsBackend('m', server, clientCa.cert);
    const withCert = await startBalancer({ pools: { default: { tls: { ca: ca.cert, cert: client.cert, key: client.key }, healthCheck: fast, backends: [{ id: 'm', address: b.address }] } } });
    const without = await startBalancer({ pools: { default: { tls: { ca: ca.cert }, healthCheck: fast, backends: [{ id: 'm', address: b.address }] } } }, 500);
    try {
      assert.equal(backendOf(withCert).passedChecks(), true);
      const ok = await request(`${withCert.url}/`);
      assert.equal(ok.status, 200);
      assert.equal(ok.body, 'm');
      const refused = await request(`${without.url}/`);
      assert.equal(refused.status, 502);
      await waitFor(() => backendOf(without).health.lastResult !== null, 5000, 'a first check');
      assert.equal(backendOf(without).passedChecks(), false, 'the handshake check sees the refusal');
    } finally {
      await Promise.all([withCert.close(), without.close()]);
      await b.close();
    }
  });

  it('a reload reads the backend TLS files again: a CA file fixed in place makes the backend verify', async () => {
    const b = await startTlsBackend('a', server);
    const caFile = path.join(fs.mkdtempSync(path.join(pki.dir, 'ca-')), 'ca.pem');
    fs.copyFileSync(otherCa.cert, caFile);
    const lb = await startBalancer({ pools: { default: { tls: { ca: caFile }, healthCheck: fast, backends: [{ id: 'a', address: b.address }] } } }, 500);
    try {
      assert.equal((await request(`${lb.url}/`)).status, 502);
      fs.copyFileSync(ca.cert, caFile);
      assert.deepEqual(await lb.balancer.reload(), { ok: true });
      assert.equal(backendOf(lb).passedChecks(), true, 'checked with the new CA before it serves');
      assert.equal((await request(`${lb.url}/`)).body, 'a');
      fs.writeFileSync(caFile, 'truncated');
      const bad = await lb.balancer.reload();
      assert.match(!bad.ok ? bad.errors.join('\n') : '', /pools\.default\.tls\.ca: .*ca\.pem is not a PEM CA bundle/);
      assert.equal((await request(`${lb.url}/`)).body, 'a', 'the running config keeps serving');
    } finally {
      await lb.close();
      await b.close();
    }
  });

  it('a backend-level tls overrides the pool default and tls: null is plain HTTP', () => {
    const dir = pki.dir;
    const c = parseBalancerConfig(
      JSON.stringify({
        pools: {
          p: {
            tls: { ca: 'ca.pem' },
            backends: [
              { id: 'a', address: '127.0.0.1:1' },
              { id: 'b', address: '127.0.0.1:2', tls: null },
              { id: 'c', address: '127.0.0.1:3', tls: { ca: 'other-ca.pem', sni: 'x.test' } },
            ],
          },
        },
      }),
      path.join(dir, 'lb.json'),
    );
    assert.equal(c.pools.p!.tls!.ca, ca.cert, 'paths resolved against the config file');
    assert.equal(c.pools.p!.backends[1]!.tls, null);
    assert.equal(c.pools.p!.backends[2]!.tls!.ca, otherCa.cert);
  });

  it('unreadable, unparsable or half-given files are refused at load naming the field and the file, never the key', () => {
    const dir = pki.dir;
    const load = (tls: unknown): string => {
      try {
        parseBalancerConfig(JSON.stringify({ pools: { p: { backends: [{ id: 'a', address: '127.0.0.1:1', tls }] } } }), path.join(dir, 'lb.json'));
      } catch (err) {
        return (err as Error).message;
      }
      return 'loaded';
    };
    assert.match(load({ ca: 'missing.pem' }), new RegExp(`lb\\.json:\\d+: pools\\.p\\.backends\\.0\\.tls\\.ca: cannot read ${path.join(dir, 'missing.pem').replace(/[.]/g, '\\.')}: ENOENT`));
    assert.match(load({ cert: client.cert }), /pools\.p\.backends\.0\.tls: cert and key go together \(mTLS\); key is missing/);
    const mismatch = load({ cert: client.cert, key: server.key });
    assert.match(mismatch, /pools\.p\.backends\.0\.tls: the PEM files \(cert .*balancer-client\.pem, key .*backend\.key\) do not load/);
    assert.doesNotMatch(mismatch, /PRIVATE KEY/);
    fs.writeFileSync(path.join(dir, 'garbage.pem'), 'not a pem');
    assert.match(load({ ca: 'garbage.pem' }), /tls\.ca: .*garbage\.pem is not a PEM CA bundle/);
    assert.match(load({ sni: 'bad name!' }), /sni/);
    assert.match(load({ verify: 'yes' }), /verify/);
  });
});
