/**
 * `/metrics` with `serve --workers 2` (issue #17 item 3): the primary answers no query itself,
 * so every query counter, the latency histogram and the cache counters must come from the
 * workers, summed. A stopped (SIGSTOP) worker must not hang the scrape: its last figures are
 * used. Probe failures are counted by target, probe type and reason.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildQuery, sendTcp, sendUdp } from '../support/dns-client.js';
import { freePort } from '../support/process.js';
import { POLICY_TEXT, startMeridian, workspace, type Meridian, type Workspace } from '../admin/helpers.js';
import { find, parseExposition, type Exposition } from './exposition.js';

const UDP_QUERIES = 120;
const TCP_CONNECTIONS = 4;
const TCP_QUERIES_EACH = 10;
const SENT = UDP_QUERIES + TCP_CONNECTIONS * TCP_QUERIES_EACH;
/** The first UDP queries carry a client cookie (RFC 7873, option 10: 8 octets, no server part). */
const WITH_COOKIE = 20;
const COOKIE_OPTION = { code: 10, data: Buffer.from('0123456789abcdef', 'hex') };

/** The worker pids the primary logged at start. */
function workerPids(m: Meridian): number[] {
  const serving = m
    .output()
    .split('\n')
    .find((l) => l.includes('meridian is serving'))!;
  return (JSON.parse(serving) as { workers: number[] }).workers;
}

const total = (e: Exposition, name: string, labels: Record<string, string> = {}): number => find(e, name, labels).reduce((n, s) => n + s.value, 0);

describe('serve --workers 2: /metrics sums the workers', () => {
  let ws: Workspace;
  let m: Meridian;
  let backend: http.Server;
  /** A worker the test stops with SIGSTOP: continued in after() whatever happens. */
  let stopped: number | undefined;
  before(async () => {
    // A probe answered 503 (http_status) and one to a closed port (refused), every second.
    backend = http.createServer((_req, res) => res.writeHead(503).end('down'));
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const closed = await freePort();
    const probes = [
      'probes:',
      `  status503: { type: http, port: ${(backend.address() as AddressInfo).port}, interval: 1, timeout: 900, jitter: 0 }`,
      `  closed: { type: tcp, port: ${closed}, interval: 1, timeout: 900, jitter: 0 }`,
      '',
    ].join('\n');
    // protection on, so its counters live in the workers too (RRL never limits at this rate)
    ws = workspace('health: { stateFile: null }\nzones: { watch: false }\ndns: { cookies: { enabled: true }, rrl: { enabled: true, responsesPerSecond: 1000000 } }\n');
    const policy = POLICY_TEXT.replace('primary:   { region: one, ipv4: [198.51.100.1] }', 'primary:   { region: one, ipv4: [198.51.100.1], probe: status503, probeAddress: 127.0.0.1 }').replace(
      'secondary: { region: two, ipv4: [198.51.100.2] }',
      'secondary: { region: two, ipv4: [198.51.100.2], probe: closed, probeAddress: 127.0.0.1 }',
    );
    fs.writeFileSync(ws.policyFile, probes + policy);
    m = await startMeridian(ws, { env: { MERIDIAN_WORKERS: '2' } });
  });
  after(async () => {
    if (stopped !== undefined) {
      try {
        process.kill(stopped, 'SIGCONT');
      } catch {
        // gone already
      }
    }
    await m?.stop();
    ws?.remove();
    await new Promise((r) => backend?.close(r));
  });

  const scrape = async (): Promise<Exposition> => {
    const res = await fetch(`http://127.0.0.1:${m.api}/metrics`);
    assert.equal(res.status, 200);
    return parseExposition(await res.text());
  };

  it('counts every query the workers answered, over UDP and TCP, once', async () => {
    assert.equal(workerPids(m).length, 2);
    for (let i = 0; i < UDP_QUERIES; i += 20) {
      const query = (id: number): Buffer => buildQuery('www.adm.test', 'A', id < WITH_COOKIE ? { id, edns: true, options: [COOKIE_OPTION] } : { id });
      await Promise.all(Array.from({ length: 20 }, (_, j) => sendUdp(m.dns, query(i + j))));
    }
    // cluster hands TCP connections to the workers round robin: both get some
    await Promise.all(
      Array.from({ length: TCP_CONNECTIONS }, (_, c) =>
        sendTcp(
          m.dns,
          Array.from({ length: TCP_QUERIES_EACH }, (_, i) => buildQuery('txt.adm.test', 'TXT', { id: c * 100 + i })),
        ),
      ),
    );
    const e = await scrape();
    assert.equal(total(e, 'meridian_dns_queries_total', { zone: 'adm.test.', type: 'A', rcode: 'NOERROR' }), UDP_QUERIES);
    assert.equal(total(e, 'meridian_dns_queries_total', { zone: 'adm.test.', type: 'TXT', rcode: 'NOERROR' }), TCP_CONNECTIONS * TCP_QUERIES_EACH);
    assert.equal(total(e, 'meridian_dns_query_duration_seconds_count'), SENT);
    assert.equal(total(e, 'meridian_dns_query_duration_seconds_bucket', { le: '+Inf' }), SENT);
    assert.equal(total(e, 'meridian_answer_cache_hits_total') + total(e, 'meridian_answer_cache_misses_total'), SENT);
    // each worker caches its own answers: at least one miss per name, at most one per worker and name
    const misses = total(e, 'meridian_answer_cache_misses_total');
    assert.ok(misses >= 2 && misses <= 4, `misses ${misses}`);
    assert.equal(total(e, 'meridian_dns_worker_metrics', { answer: 'fresh' }), 2);
    assert.equal(total(e, 'meridian_dns_cookies_total', { cookie: 'client_only' }), WITH_COOKIE);
    assert.equal(total(e, 'meridian_rrl_responses_total', { action: 'pass' }), UDP_QUERIES);
    // the primary's own figures are there once, not once per worker
    assert.equal(find(e, 'meridian_snapshot_version').length, 1);
    assert.equal(find(e, 'meridian_build_info').length, 1);
    assert.equal(find(e, 'process_start_time_seconds').length, 1, 'prom-client would omit it when aggregating');
    assert.equal(e.types.get('meridian_dns_queries_total'), 'counter');
    assert.equal(e.types.get('meridian_dns_query_duration_seconds'), 'histogram');
  });

  it('a stopped worker does not hang the scrape: its last figures are used', async () => {
    stopped = workerPids(m)[0]!;
    process.kill(stopped, 'SIGSTOP');
    try {
      const started = Date.now();
      const e = await scrape();
      // the scrape waits for the workers 2 s at most; generous bound for a loaded machine
      assert.ok(Date.now() - started < 9000, `scrape took ${Date.now() - started} ms`);
      assert.equal(total(e, 'meridian_dns_worker_metrics', { answer: 'fresh' }), 1);
      assert.equal(total(e, 'meridian_dns_worker_metrics', { answer: 'stale' }), 1);
      assert.equal(total(e, 'meridian_dns_query_duration_seconds_count'), SENT, 'counters must not go back while a worker is slow');
    } finally {
      process.kill(stopped, 'SIGCONT');
      stopped = undefined;
    }
  });

  it('counts probe failures by target, probe type and reason', async () => {
    let e = await scrape();
    for (let i = 0; i < 100; i++) {
      const seen =
        total(e, 'meridian_probe_failures_total', { target: 'adm.test/primary', probe: 'http', reason: 'http_status' }) >= 2 &&
        total(e, 'meridian_probe_failures_total', { target: 'adm.test/secondary', probe: 'tcp', reason: 'refused' }) >= 2;
      if (seen) break;
      await new Promise((r) => setTimeout(r, 100));
      e = await scrape();
    }
    const failures = find(e, 'meridian_probe_failures_total');
    assert.ok(total(e, 'meridian_probe_failures_total', { target: 'adm.test/primary', probe: 'http', reason: 'http_status' }) >= 2, JSON.stringify(failures));
    assert.ok(total(e, 'meridian_probe_failures_total', { target: 'adm.test/secondary', probe: 'tcp', reason: 'refused' }) >= 2, JSON.stringify(failures));
    // no other reason for these two, and every failure is a probe run
    assert.deepEqual(new Set(failures.map((s) => s.labels.reason)), new Set(['http_status', 'refused']));
    const primaryRuns = total(e, 'meridian_probes_total', { target: 'adm.test/primary', probe: 'http' });
    assert.ok(primaryRuns >= total(e, 'meridian_probe_failures_total', { target: 'adm.test/primary' }));
    // targets without a probe have no series
    assert.equal(find(e, 'meridian_probes_total', { target: 'adm.test/heavy' }).length, 0);
  });

  it('a killed worker drops out of the sum and its replacement joins it', async () => {
    const victim = workerPids(m)[1]!;
    process.kill(victim, 'SIGKILL');
    let e = await scrape();
    for (let i = 0; i < 150 && total(e, 'meridian_dns_worker_metrics', { answer: 'fresh' }) !== 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      e = await scrape();
    }
    assert.equal(total(e, 'meridian_dns_worker_metrics', { answer: 'fresh' }), 2, 'the replacement answers');
    assert.equal(total(e, 'meridian_dns_worker_metrics', { answer: 'missing' }), 0);
    // what the dead worker had counted is gone (a counter reset to Prometheus), the rest stays
    const count = total(e, 'meridian_dns_query_duration_seconds_count');
    assert.ok(count < SENT, `count ${count}`);
  });
});
