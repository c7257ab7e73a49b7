/**
 * Stall benchmark (issue 14, item 3): how long the control plane holds the data plane.
 * Serves a generated zone of `--records` records (A and AAAA per name), loads the server
 * with dnsperf at half its saturation rate, and measures per-query latency in windows:
 * idle, during `--writes` single-record admin PUTs, during a SIGHUP full reload, during
 * one batch of `--batch` operations. Knot gets the same zone, the same load, `knotc
 * zone-reload` for the reload and `zone-begin / zone-set / zone-commit` transactions for
 * the writes (the 10,000-change one only with --knot-batch). Prints p50/p99/p99.9/max and lost queries per window against the goals,
 * and each window's p99.9 over the idle window's (the machine's floor at that load).
 *   node dist/tools/bench-stall.js [--records 1000000] [--writes 100] [--batch 10000] [--rate Q] [--skip-knot] [--skip-meridian] [--knot-batch] [--workers N] [--only write|reload|batch] [--compact-delay-ms MS] [--udp-socket native|dgram] [--node-flag F]...
 * The server runs on CPU 0 (every thread, the reload worker too), dnsperf and this process on
 * the last CPU. Needs dnsperf and knot (Debian packages dnsperf, knot).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NODE_FLAGS } from '../src/cli/node-flags.js';
import { freeLoopbackPort, knotcPath, knotVersion, startKnot, type RunningKnot } from '../test/support/knot.js';
import { pinned as pinnedOnly, requireDnsperf, root } from './perf/dnsperf-run.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    writes: { type: 'string', default: '100' },
    batch: { type: 'string', default: '10000' },
    rate: { type: 'string' },
    'idle-seconds': { type: 'string', default: '10' },
    'skip-knot': { type: 'boolean', default: false },
    'skip-meridian': { type: 'boolean', default: false },
    'knot-batch': { type: 'boolean', default: false },
    workers: { type: 'string', default: '1' },
    // zones.journal.compactDelayMs for meridian: the background rewrite of the 1M-record file may overlap later windows
    'compact-delay-ms': { type: 'string' },
    only: { type: 'string' },
    // dns.udpSocket for meridian: native (the recvmmsg layer) or dgram (node:dgram)
    'udp-socket': { type: 'string' },
    // more node/V8 flags for meridian, beside the ones every launcher passes (experiments)
    'node-flag': { type: 'string', multiple: true, default: [] },
  },
});
const RECORDS = Number(values.records);
const NAMES = Math.ceil(RECORDS / 2);
const WRITES = Number(values.writes);
const BATCH = Number(values.batch);
const IDLE_SECONDS = Number(values['idle-seconds']);
const WORKERS = Number(values.workers);
/** --only write|reload|batch: that window alone (and the idle one), for a quicker run. */
const only = (w: string): boolean => values.only === undefined || values.only === w;
const SERVER_CPUS = '0';
const LOAD_CPU = String(os.cpus().length - 1);
const ORIGIN = 'stall.test';
/** Goals of item 3, in ms of query latency at p99.9 (the idle window has none). */
/**
 * Pinned, and at a higher priority than the rest of the machine: on a shared machine other
 * work would otherwise show up as stalls of the server or of the load generator.
 */
function pinned(cpus: string, cmd: string, args: string[]): [string, string[]] {
  const [c, a] = pinnedOnly(cpus, cmd, args);
  return ['nice', ['-n', '-10', c, ...a]];
}
const GOALS: Record<string, number> = { write: 5, reload: 20, batch: 50 };
requireDnsperf();

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-bench-stall-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '-');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- zone and queries

/** `names` names h0..h(n-1), each with an A and an AAAA record, plus SOA, NS and the NS's A. */
function writeZone(file: string): void {
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, `$ORIGIN ${ORIGIN}.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n`);
  let chunk = '';
  for (let i = 0; i < NAMES; i++) {
    chunk += `h${i} IN A ${addressOf(i, 0)}\nh${i} IN AAAA 2001:db8::${(i & 0xffff).toString(16)}:${(i >>> 16).toString(16)}\n`;
    if (chunk.length > 1 << 20) {
      fs.writeSync(fd, chunk);
      chunk = '';
    }
  }
  fs.writeSync(fd, chunk);
  fs.closeSync(fd);
}

function addressOf(i: number, round: number): string {
  return `10.${((i >> 16) & 255) | ((round & 1) << 7)}.${(i >> 8) & 255}.${i & 255}`;
}

/** Spread over the whole zone: A and AAAA of existing names, and some NXDOMAIN. */
function writeQueries(file: string): void {
  const out: string[] = [];
  for (let i = 0; i < 100_000; i++) {
    const k = (i * 7919) % NAMES;
    out.push(i % 10 === 9 ? `nx${k}.${ORIGIN} A` : `h${k}.${ORIGIN} ${i % 2 === 0 ? 'A' : 'AAAA'}`);
  }
  fs.writeFileSync(file, out.join('\n') + '\n');
}

// ---------------------------------------------------------------- dnsperf

interface Window {
  readonly label: string;
  readonly goal: number | null;
  readonly count: number;
  readonly lost: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  /** How long the operation itself took, ms. */
  readonly opMs: number;
  /** The machine's 1-minute load average at the end of the window (a shared machine's noise). */
  readonly load: number;
}

/** Starts dnsperf at `rate` q/s for up to an hour; stop() interrupts it and reads every query's latency. */
function startLoad(port: number, queries: string, rate: number): { stop(): Promise<{ latencies: number[]; lost: number }> } {
  const out = path.join(dir, `dnsperf-${Date.now()}.out`);
  const fd = fs.openSync(out, 'w');
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', '3600', '-c', '8', '-q', '500', '-t', '5', '-Q', String(Math.round(rate)), '-v'];
  const [cmd, full] = pinned(LOAD_CPU, 'dnsperf', args);
  // Into a file, not a pipe: a pipe would wake this process on every query line.
  const child = spawn(cmd, full, { stdio: ['ignore', fd, 'inherit'] });
  fs.closeSync(fd);
  return {
    async stop() {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGINT'); // dnsperf stops sending, waits for the answers in flight, and reports
      await exited;
      const text = fs.readFileSync(out, 'utf8');
      fs.rmSync(out, { force: true });
      const latencies = [...text.matchAll(/^> \S+ .* ([\d.]+)$/gm)].map((m) => Number(m[1]) * 1000);
      return { latencies, lost: Number(/Queries lost:\s+(\d+)/.exec(text)?.[1] ?? NaN) };
    },
  };
}

function saturation(port: number, queries: string): number {
  const [cmd, full] = pinned(LOAD_CPU, 'dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', '5', '-c', '8', '-q', '200']);
  const out = spawnSync(cmd, full, { encoding: 'utf8' }).stdout;
  return Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
}

/**
 * Five seconds of the load before the first window, not measured: the saturation run leaves
 * garbage (meridian's heap, its caches refilled at full speed) whose collection would
 * otherwise land in the idle window.
 */
async function settle(port: number, queries: string, rate: number): Promise<void> {
  const load = startLoad(port, queries, rate);
  await sleep(5000);
  await load.stop();
}

/** Runs `op` under load, with a second of load before it and one after, so the window holds the whole stall. */
async function measure(label: string, goal: number | null, port: number, queries: string, rate: number, op: () => Promise<void>): Promise<Window> {
  // The end of the previous load (dnsperf closing its sockets) is not this window's.
  await sleep(1000);
  const load = startLoad(port, queries, rate);
  let opMs: number;
  try {
    await sleep(1000);
    const t0 = performance.now();
    await op();
    opMs = performance.now() - t0;
    await sleep(1000);
  } catch (err) {
    await load.stop();
    throw err;
  }
  const { latencies, lost } = await load.stop();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? NaN;
  return { label, goal, count: latencies.length + lost, lost, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: latencies[latencies.length - 1] ?? NaN, opMs, load: os.loadavg()[0]! };
}

// ---------------------------------------------------------------- meridian

interface Meridian {
  readonly port: number;
  readonly admin: string;
  readonly child: ChildProcess;
  /** Resolves at the next "zones reloaded" log line, and with --workers once every worker has re-read the zones too. */
  nextReload(): Promise<void>;
}

async function startMeridianServer(zones: string): Promise<Meridian> {
  const port = await freeLoopbackPort();
  const adminPort = await freeLoopbackPort();
  // No watching: the admin writes reload by themselves, and SIGHUP is the reload we measure.
  const config = path.join(dir, 'meridian.yaml');
  const journal = values['compact-delay-ms'] === undefined ? '' : `  journal: { compactDelayMs: ${Number(values['compact-delay-ms'])} }\n`;
  const udp = values['udp-socket'] === undefined ? '' : `dns:\n  udpSocket: ${values['udp-socket']}\n`;
  fs.writeFileSync(config, `${udp}zones:\n  directory: ${JSON.stringify(zones)}\n  watch: false\n${journal}`);
  const cli = path.join(root, 'dist/src/cli/main.js');
  const extra = WORKERS > 1 ? ['--workers', String(WORKERS)] : [];
  const [cmd, args] = pinned(SERVER_CPUS, process.execPath, [
    ...NODE_FLAGS,
    ...values['node-flag'],
    cli,
    'serve',
    '--config',
    config,
    '--listen',
    `127.0.0.1:${port}`,
    '--admin',
    `127.0.0.1:${adminPort}`,
    '--log-level',
    'info',
    ...extra,
  ]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: dir });
  let waiters: Array<() => void> = [];
  /** Workers yet to re-read the zones after the primary's reload. */
  let pendingRereads = 0;
  let started: () => void;
  const ready = new Promise<void>((r) => (started = r));
  let buffered = '';
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.includes('"zones reloaded"')) pendingRereads = WORKERS > 1 ? WORKERS : 0;
      if (line.includes('"zones re-read"')) pendingRereads--;
      if ((line.includes('"zones reloaded"') || line.includes('"zones re-read"')) && pendingRereads <= 0) {
        const w = waiters;
        waiters = [];
        for (const f of w) f();
      }
      if (line.includes('"meridian is serving"')) started();
      if (/"level":(50|60)/.test(line)) console.error(`meridian: ${line}`);
    }
  });
  const exit = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`meridian exited with ${code}`))));
  exit.catch(() => {});
  await Promise.race([ready, exit]);
  return { port, admin: `http://127.0.0.1:${adminPort}`, child, nextReload: () => new Promise((r) => waiters.push(r)) };
}

async function admin(m: Meridian, method: string, url: string, body: unknown): Promise<void> {
  const res = await fetch(`${m.admin}/v1${url}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

async function benchMeridian(zones: string, queries: string): Promise<{ rate: number; saturation: number; windows: Window[] }> {
  const t0 = performance.now();
  const m = await startMeridianServer(zones);
  console.log(`meridian: loaded ${fmt(RECORDS)} records in ${fmt((performance.now() - t0) / 1000, 1)} s`);
  try {
    const sat = saturation(m.port, queries);
    const rate = values.rate ? Number(values.rate) : sat / 2;
    console.log(`meridian: saturation ${fmt(sat)} q/s, load ${fmt(rate)} q/s`);
    const windows: Window[] = [];
    await settle(m.port, queries, rate);
    windows.push(await measure('idle', null, m.port, queries, rate, () => sleep(IDLE_SECONDS * 1000)));
    if (only('write'))
      windows.push(
        await measure(`${WRITES} single-record PUTs`, GOALS['write']!, m.port, queries, rate, async () => {
          for (let j = 0; j < WRITES; j++) {
            const k = (j * 104_729) % NAMES;
            await admin(m, 'PUT', `/zones/${ORIGIN}/records/h${k}/A`, { ttl: 300, rdata: [addressOf(k, 1)] });
          }
        }),
      );
    if (only('reload'))
      windows.push(
        await measure('SIGHUP full reload', GOALS['reload']!, m.port, queries, rate, async () => {
          // A new name, so the reload cannot find the files unchanged and skip the rebuild.
          fs.appendFileSync(path.join(zones, `${ORIGIN}.zone`), `reloaded${Date.now()} IN A 192.0.2.1\n`);
          const done = m.nextReload();
          m.child.kill('SIGHUP');
          await done;
        }),
      );
    if (only('batch'))
      windows.push(
        await measure(`batch of ${fmt(BATCH)} operations`, GOALS['batch']!, m.port, queries, rate, async () => {
          const operations = Array.from({ length: BATCH }, (_, j) => {
            const k = (j * 7_919 + 13) % NAMES;
            return { op: 'put', name: `h${k}`, type: 'A', ttl: 300, rdata: [addressOf(k, 0)] };
          });
          await admin(m, 'POST', `/zones/${ORIGIN}/records/batch`, { operations });
        }),
      );
    return { rate, saturation: sat, windows };
  } finally {
    await stopChild(m.child);
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------- Knot

function knotc(knot: RunningKnot, args: string[], input?: string): void {
  const r = spawnSync(knotcPath()!, ['-s', path.join(knot.dir, 'run', 'knot.sock'), ...args], { encoding: 'utf8', input, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`knotc ${args.slice(0, 2).join(' ')}: ${r.stdout}${r.stderr}`);
}

/**
 * One transaction changing the A record of each of `names`. One knotc per command: knotd's
 * control socket here refuses connections ("OS lacked necessary resources") after about a
 * hundred commands piped to one knotc, so a 10,000-change transaction is not measured by
 * default (`--knot-batch` tries it, slowly).
 */
function knotTransaction(knot: RunningKnot, names: readonly number[], round: number): void {
  knotc(knot, ['zone-begin', ORIGIN]);
  for (const k of names) {
    knotc(knot, ['zone-unset', ORIGIN, `h${k}`, 'A']);
    knotc(knot, ['zone-set', ORIGIN, `h${k}`, '300', 'A', addressOf(k, round)]);
  }
  knotc(knot, ['zone-commit', ORIGIN]);
}

async function benchKnot(zones: string, queries: string): Promise<{ rate: number; saturation: number; windows: Window[] }> {
  const t0 = performance.now();
  const knot = await startKnot(zones, { startTimeoutMs: 600_000 });
  spawnSync('taskset', ['-a', '-p', '-c', SERVER_CPUS, String(knot.pid)], { stdio: 'ignore' });
  // Every thread at the priority meridian gets (renice takes thread ids).
  spawnSync('renice', ['-n', '-10', '-p', ...fs.readdirSync(`/proc/${knot.pid}/task`)], { stdio: 'ignore' });
  console.log(`Knot: loaded ${fmt(RECORDS)} records in ${fmt((performance.now() - t0) / 1000, 1)} s`);
  try {
    const sat = saturation(knot.port, queries);
    const rate = values.rate ? Number(values.rate) : sat / 2;
    console.log(`Knot: saturation ${fmt(sat)} q/s, load ${fmt(rate)} q/s`);
    const windows: Window[] = [];
    await settle(knot.port, queries, rate);
    windows.push(await measure('idle', null, knot.port, queries, rate, () => sleep(IDLE_SECONDS * 1000)));
    const write = !only('write')
      ? null
      : await measure(`${WRITES} single-record transactions`, GOALS['write']!, knot.port, queries, rate, async () => {
          for (let j = 0; j < WRITES; j++) knotTransaction(knot, [(j * 104_729) % NAMES], 1);
        }).catch((err: unknown) => {
          // knotd's control socket times out now and then under load; the reload figure matters more.
          console.log(`Knot: the single-record transactions failed: ${(err as Error).message.split('\n')[0]}`);
          return { label: `${WRITES} single-record transactions`, goal: GOALS['write']!, count: 0, lost: 0, p50: NaN, p99: NaN, p999: NaN, max: NaN, opMs: NaN, load: os.loadavg()[0]! };
        });
    if (write) windows.push(write);
    if (only('reload')) windows.push(await measure('knotc -b zone-reload', GOALS['reload']!, knot.port, queries, rate, async () => knotc(knot, ['-b', 'zone-reload', ORIGIN])));
    if (values['knot-batch'] && only('batch')) {
      windows.push(
        await measure(`transaction of ${fmt(BATCH)} changes`, GOALS['batch']!, knot.port, queries, rate, async () => {
          knotTransaction(
            knot,
            Array.from({ length: BATCH }, (_, j) => (j * 7_919 + 13) % NAMES),
            0,
          );
        }),
      );
    }
    return { rate, saturation: sat, windows };
  } finally {
    await knot.stop();
  }
}

// ---------------------------------------------------------------- report

function table(title: string, rate: number, saturation: number, windows: readonly Window[]): void {
  // The issue's goals are at half of saturation (the default rate); --rate may ask for another share.
  console.log(`\n${title} at ${fmt(rate)} q/s (${fmt((100 * rate) / saturation)} % of its saturation, ${fmt(saturation)} q/s); latency in ms`);
  console.log(
    `  ${'window'.padEnd(34)} ${'queries'.padStart(9)} ${'lost'.padStart(6)} ${'p50'.padStart(7)} ${'p99'.padStart(7)} ${'p99.9'.padStart(8)} ${'over idle'.padStart(9)} ${'max'.padStart(8)} ${'goal'.padStart(6)} ${'op ms'.padStart(8)} ${'load'.padStart(5)}  verdict`,
  );
  // The idle window's p99.9 is the machine's floor at this load: on a noisy machine a window's
  // figure less the floor tells what the operation added (the issue's "delays no answer by").
  const idle = windows.find((w) => w.goal === null);
  for (const w of windows) {
    const verdict = w.goal === null ? '' : w.p999 <= w.goal && w.lost === 0 ? 'meets the goal' : 'MISSES the goal';
    const over = idle === undefined || w === idle ? '' : `${w.p999 >= idle.p999 ? '+' : ''}${fmt(w.p999 - idle.p999, 2)}`;
    console.log(
      `  ${w.label.padEnd(34)} ${fmt(w.count).padStart(9)} ${fmt(w.lost).padStart(6)} ${fmt(w.p50, 2).padStart(7)} ${fmt(w.p99, 2).padStart(7)} ${fmt(w.p999, 2).padStart(8)} ${over.padStart(9)} ${fmt(w.max, 1).padStart(8)} ${(w.goal === null ? '' : `≤${w.goal}`).padStart(6)} ${fmt(w.opMs).padStart(8)} ${fmt(w.load, 1).padStart(5)}  ${verdict}`,
    );
  }
}

async function main(): Promise<void> {
  spawnSync('taskset', ['-p', '-c', LOAD_CPU, String(process.pid)], { stdio: 'ignore' });
  const zones = path.join(dir, 'zones');
  fs.mkdirSync(zones);
  const zoneFile = path.join(zones, `${ORIGIN}.zone`);
  writeZone(zoneFile);
  const queries = path.join(dir, 'queries.txt');
  writeQueries(queries);
  console.log(`zone ${ORIGIN}: ${fmt(RECORDS)} records (${fmt(fs.statSync(zoneFile).size / 1e6, 1)} MB); server on CPU ${SERVER_CPUS}, dnsperf on CPU ${LOAD_CPU}`);
  const knotZones = path.join(dir, 'knot-zones');
  fs.mkdirSync(knotZones);
  fs.copyFileSync(zoneFile, path.join(knotZones, `${ORIGIN}.zone`));

  const meridian = values['skip-meridian'] ? null : await benchMeridian(zones, queries);
  if (meridian) table(`meridian${WORKERS > 1 ? ` --workers ${WORKERS}` : ''}`, meridian.rate, meridian.saturation, meridian.windows);
  const knot = values['skip-knot'] ? null : await benchKnot(knotZones, queries);
  if (knot) table(knotVersion() ?? 'Knot', knot.rate, knot.saturation, knot.windows);
  if (meridian && knot) {
    console.log('\np99.9 during the operation, meridian beside Knot (ms)');
    meridian.windows.forEach((w, i) => {
      const k = knot.windows[i];
      console.log(`  ${w.label.padEnd(34)} meridian ${fmt(w.p999, 2).padStart(8)}   Knot ${k ? `${fmt(k.p999, 2).padStart(8)} (${k.label})` : 'not measured (--knot-batch)'}`);
    });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
