/**
 * Measures failover detection and recovery over several runs, the way issue #4 asks:
 * two real HTTP "regions" on 127.0.0.2 and 127.0.0.3, meridian with a failover policy,
 * and real UDP queries every 20 ms. Each run kills the primary, times until DNS answers
 * the secondary (detection), restarts it, and times until DNS answers it again (recovery).
 *   node dist/tools/measure-failover.js [--runs 5] [--interval 1] [--timeout 300] [--fall 2] [--rise 2] [--jitter 0]
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { failoverBound } from '../src/health/failover-bound.js';
import { buildQuery, decode, sendUdp } from '../test/support/dns-client.js';
import { startFailoverServer, writeFailoverZone } from '../test/support/failover-zone.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    interval: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '300' },
    fall: { type: 'string', default: '2' },
    rise: { type: 'string', default: '2' },
    jitter: { type: 'string', default: '0' },
  },
});
const runs = Number(values.runs);
const interval = Number(values.interval);
const timeout = Number(values.timeout);
const fall = Number(values.fall);
const rise = Number(values.rise);
const jitter = Number(values.jitter);

function region(host: string, port: number): Promise<http.Server> {
  const s = http.createServer((_q, r) => r.writeHead(200, { connection: 'close' }).end('ok'));
  return new Promise((resolve) => s.listen(port, host, () => resolve(s)));
}
const stop = (s: http.Server): Promise<void> => {
  s.closeAllConnections();
  return new Promise((r) => s.close(() => r()));
};

let primary = await region('127.0.0.2', 0);
const port = (primary.address() as { port: number }).port;
const secondary = await region('127.0.0.3', port);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-failover-'));
writeFailoverZone(dir, 'hc.test', { port, intervalSec: interval, timeoutMs: timeout, fall, rise, jitterMs: jitter });
const server = await startFailoverServer(dir);
const dnsPort = server.addresses[0]!.port;

async function until(expected: string): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const got = String(decode(await sendUdp(dnsPort, buildQuery('www.hc.test', 'A'))).answers[0]?.data);
    if (got === expected) return performance.now() - t0;
    if (performance.now() - t0 > 60_000) throw new Error(`no ${expected} after 60 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const detection: number[] = [];
const recovery: number[] = [];
try {
  await until('192.0.2.1');
  for (let i = 0; i < runs; i++) {
    // Start each run at a random phase of the probe interval.
    await new Promise((r) => setTimeout(r, Math.random() * interval * 1000));
    await stop(primary);
    detection.push(await until('192.0.2.2'));
    primary = await region('127.0.0.2', port);
    recovery.push(await until('192.0.2.1'));
    console.log(`run ${i + 1}: detection ${detection.at(-1)!.toFixed(0)} ms, recovery ${recovery.at(-1)!.toFixed(0)} ms`);
  }
} finally {
  await server.close();
  await stop(primary);
  await stop(secondary);
  fs.rmSync(dir, { recursive: true, force: true });
}

const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]!.toFixed(0)} ms, median ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms, max ${s.at(-1)!.toFixed(0)} ms`;
};
// the bound without the TTL term: this measures until the server's answer changes, not a resolver's cache
const bound = failoverBound({ fall, rise, intervalSec: interval, jitterMs: Math.min(jitter, interval * 500), timeoutMs: timeout }, 0, null);
console.log(`probe: interval ${interval} s, timeout ${timeout} ms, fall ${fall}, rise ${rise}, jitter ${jitter} ms`);
console.log(
  `bounds: detection fall × (interval + jitter) + timeout = ${(bound.detectSec * 1000).toFixed(0)} ms, recovery rise × (interval + jitter) + timeout = ${(bound.recoverDetectSec * 1000).toFixed(0)} ms`,
);
console.log(`detection (${runs} runs): ${stats(detection)}`);
console.log(`recovery  (${runs} runs): ${stats(recovery)}`);
