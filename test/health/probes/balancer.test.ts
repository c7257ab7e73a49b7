/** Balancer probe against a loopback server that serves one canned report per path. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { parseReport, reportCapacity } from '../../../src/health/probes/balancer.js';
import { runProbe } from '../../../src/health/probes/index.js';
import type { ProbeResult } from '../../../src/health/types.js';
import { assertNoSockets, balancerSpec, closeServer, listen, never } from './servers.js';

const reports: Record<string, string> = {
  '/half': JSON.stringify({ up: true, healthy: 2, total: 4 }),
  '/explicit': JSON.stringify({ up: true, healthy: 2, total: 4, capacity: 0.9 }),
  '/over': JSON.stringify({ up: true, healthy: 4, total: 4, capacity: 3 }),
  '/down': JSON.stringify({ up: false, healthy: 1, total: 4 }),
  '/draining': JSON.stringify({ up: true, healthy: 4, total: 4, draining: true }),
  '/empty': JSON.stringify({ up: true, healthy: 0, total: 0 }),
  '/garbage': '<html>oops</html>',
  '/missing': JSON.stringify({ up: true, healthy: 2 }),
  '/wrong-type': JSON.stringify({ up: 'yes', healthy: 2, total: 4 }),
};

let server: http.Server;
let port: number;
const paths: string[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    const body = reports[req.url ?? ''];
    if (body === undefined) res.writeHead(404).end('not found');
    else res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  port = await listen(server, '127.0.0.2');
});

after(async () => {
  await closeServer(server);
  await assertNoSockets();
});

const probe = (path: string): Promise<ProbeResult> => runProbe(balancerSpec(port, { path }), '127.0.0.2', never);

describe('balancer probe', () => {
  it('is ok with capacity healthy/total', async () => {
    const r = await probe('/half');
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.capacity, 0.5);
    assert.ok(r.rttMs !== null && r.rttMs >= 0);
    assert.match(r.detail, /healthy 2\/4/);
    assert.ok(paths.includes('/half'));
  });

  it('prefers an explicit capacity, clamped to 0..1', async () => {
    assert.equal((await probe('/explicit')).capacity, 0.9);
    assert.equal((await probe('/over')).capacity, 1);
  });

  it('fails with "balancer-down" when the balancer says it is down', async () => {
    const r = await probe('/down');
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'balancer-down');
    assert.match(r.detail, /healthy 1\/4/);
    assert.equal(r.capacity, 0);
  });

  it('fails with "balancer-down" when draining', async () => {
    const r = await probe('/draining');
    assert.equal(r.reason, 'balancer-down');
    assert.match(r.detail, /draining/);
  });

  it('fails with "balancer-down" when nothing is healthy', async () => {
    const r = await probe('/empty');
    assert.equal(r.reason, 'balancer-down');
    assert.match(r.detail, /healthy 0\/0/);
  });

  it('fails with "invalid-response" on bad JSON or missing fields', async () => {
    for (const path of ['/garbage', '/missing', '/wrong-type']) {
      const r = await probe(path);
      assert.equal(r.reason, 'invalid-response', `${path}: ${r.detail}`);
    }
    assert.match((await probe('/missing')).detail, /"total"/);
  });

  it('fails with "status" on a non-200 answer', async () => {
    const r = await probe('/nope');
    assert.equal(r.reason, 'status');
    assert.equal(r.detail, 'HTTP 404, expected 200');
  });
});

describe('balancer report parsing', () => {
  it('validates the optional fields', () => {
    assert.throws(() => parseReport('{"up":true,"healthy":1,"total":2,"capacity":"half"}'), /capacity/);
    assert.throws(() => parseReport('{"up":true,"healthy":1,"total":2,"draining":1}'), /draining/);
    assert.throws(() => parseReport('[1]'), /object/);
    assert.deepEqual(parseReport('{"up":true,"healthy":1,"total":2,"extra":1}'), { up: true, healthy: 1, total: 2 });
  });

  it('derives capacity', () => {
    assert.equal(reportCapacity({ up: true, healthy: 1, total: 4 }), 0.25);
    assert.equal(reportCapacity({ up: true, healthy: 0, total: 0 }), 0);
    assert.equal(reportCapacity({ up: true, healthy: 1, total: 4, capacity: -2 }), 0);
  });
});
