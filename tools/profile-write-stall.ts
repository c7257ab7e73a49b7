/**
 * How long admin writes hold the answering thread, measured inside the server process (issue
 * 14 item 3): the server runs in this process on a generated zone, and
 * perf_hooks.monitorEventLoopDelay records the event loop's delay while `--writes` single
 * PUTs and one batch of `--batch` operations go through the admin API over loopback. The
 * maximum delay is the longest main-thread task a query could have waited behind, which
 * dnsperf's figures (bench-stall.ts) on a shared machine cannot separate from other load.
 *   node --cpu-prof dist/tools/profile-write-stall.js [--records 1000000] [--writes 100] [--batch 10000]
 * With --cpu-prof, the profile shows which functions those tasks were.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load-config.js';
import { startServer } from '../src/main.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    writes: { type: 'string', default: '100' },
    batch: { type: 'string', default: '10000' },
  },
});
const NAMES = Math.ceil(Number(values.records) / 2);
const WRITES = Number(values.writes);
const BATCH = Number(values.batch);
const ORIGIN = 'stall.test';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-write-stall-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const zones = path.join(dir, 'zones');
fs.mkdirSync(zones);
const out: string[] = [`$ORIGIN ${ORIGIN}.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n`];
for (let i = 0; i < NAMES; i++) out.push(`h${i} IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}\nh${i} IN AAAA 2001:db8::${(i & 0xffff).toString(16)}:${(i >>> 16).toString(16)}\n`);
fs.writeFileSync(path.join(zones, `${ORIGIN}.zone`), out.join(''));
out.length = 0;

const base = loadConfig(null, { listen: ['127.0.0.1:0'], zonesDir: zones, logLevel: 'silent' }, {});
const config = {
  ...base,
  zones: { ...base.zones, watch: false },
  health: { ...base.health, stateFile: null },
  // The audit line is part of every write (written and fsync'd before the 2xx).
  admin: { ...base.admin, listen: '127.0.0.1:0', audit: { ...base.admin.audit, file: path.join(dir, 'audit.log') } },
};
const t0 = performance.now();
const server = await startServer(config, pino({ level: 'silent' }));
console.log(
  `loaded ${NAMES * 2 + 3} records in ${((performance.now() - t0) / 1000).toFixed(1)} s; load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
const admin = `http://127.0.0.1:${server.adminAddress!.port}/v1/zones/${ORIGIN}`;

async function call(method: string, url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

async function window(label: string, op: () => Promise<void>): Promise<void> {
  // Settle first: what came before (the load's garbage) is not this window's.
  await new Promise((r) => setTimeout(r, 1000));
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const start = performance.now();
  await op();
  const ms = performance.now() - start;
  h.disable();
  const f = (ns: number): string => (ns / 1e6).toFixed(2).padStart(8);
  console.log(`${label.padEnd(32)} ${ms.toFixed(0).padStart(7)} ms   loop delay p50 ${f(h.percentile(50))}  p99 ${f(h.percentile(99))}  p99.9 ${f(h.percentile(99.9))}  max ${f(h.max)} ms`);
}

await window('idle (2 s)', () => new Promise((r) => setTimeout(r, 2000)));
await window(`${WRITES} single-record PUTs`, async () => {
  for (let j = 0; j < WRITES; j++) {
    const k = (j * 104_729) % NAMES;
    await call('PUT', `${admin}/records/h${k}/A`, { ttl: 300, rdata: [`10.128.${(k >> 8) & 255}.${k & 255}`] });
  }
});
await window(`batch of ${BATCH} operations`, async () => {
  const operations = Array.from({ length: BATCH }, (_, j) => {
    const k = (j * 7_919 + 13) % NAMES;
    return { op: 'put', name: `h${k}`, type: 'A', ttl: 300, rdata: [`10.64.${(k >> 8) & 255}.${k & 255}`] };
  });
  await call('POST', `${admin}/records/batch`, { operations });
});
await window('GET records, one page of 1,000', () =>
  fetch(`${admin}/records?limit=1000`)
    .then((r) => r.arrayBuffer())
    .then(() => undefined),
);
console.log(
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
await server.close();
process.exit(0);
