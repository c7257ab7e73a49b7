/**
 * DNS benchmark (issues #7, #19): dnsperf against meridian on each UDP socket layer (the native
 * one, `dns.udpSocket: native`, and node:dgram) and, in the same run, Knot, NSD and gdnsd
 * serving the same zone, and a bare node:dgram server (the ceiling of node:dgram). Each
 * server is pinned to CPU 0 and dnsperf to CPU 1. Prints queries/s, average latency, lost
 * queries and the ratios; then a run at 50% of each server's saturation rate with loss and
 * p99; then the load time and resident memory of a 1,000,000-record zone in meridian and Knot.
 *   node dist/tools/bench-dns.js [--seconds 10] [--names 3000] [--zone-records 1000000] [--skip-big | --big-only] [--workers N]
 * Needs dnsperf, knot and nsd (Debian packages dnsperf, knot, nsd); gdnsd when installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freeLoopbackPort, startKnot, type RunningKnot } from '../test/support/knot.js';
import { NODE_FLAGS } from '../src/cli/node-flags.js';
import { cpuSeconds, MIXES, pinned, requireDnsperf, root, startBareDgram, startMeridian, stopMeridian } from './perf/dnsperf-run.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    names: { type: 'string', default: '3000' },
    'zone-records': { type: 'string', default: '1000000' },
    'skip-big': { type: 'boolean', default: false },
    'big-only': { type: 'boolean', default: false },
    workers: { type: 'string', default: '1' },
    clients: { type: 'string', default: '8' },
  },
});
const seconds = Number(values.seconds);
const names = Number(values.names);
const workers = Number(values.workers);
const clients = Number(values.clients);
const SERVER_CPUS = workers > 1 ? Array.from({ length: workers }, (_, i) => i).join(',') : '0';
const LOAD_CPU = String(os.cpus().length - 1);
requireDnsperf();

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-bench-dns-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

// ---------------------------------------------------------------- zone and query files

const ORIGIN = 'bench.test';

/** A zone of `n` names: each has an A, every other one an AAAA; the apex has MX. */
function benchZone(n: number): string {
  const lines = [`$ORIGIN ${ORIGIN}.`, '$TTL 300', '@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300', '@ IN NS ns1', '@ IN MX 10 mail', 'ns1 IN A 192.0.2.53', 'mail IN A 192.0.2.25'];
  for (let i = 0; i < n; i++) {
    lines.push(`h${i} IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    if (i % 2 === 0) lines.push(`h${i} IN AAAA 2001:db8::${i.toString(16)}`);
  }
  return lines.join('\n') + '\n';
}

/** The static mix: A, AAAA, MX, NXDOMAIN and NODATA in equal parts, over every name, shuffled. */
function staticQueries(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = (i * 7919) % n; // spread over the zone without a random generator
    switch (i % 5) {
      case 0: out.push(`h${k}.${ORIGIN} A`); break;
      case 1: out.push(`h${k - (k % 2)}.${ORIGIN} AAAA`); break;
      case 2: out.push(`${ORIGIN} MX`); break;
      case 3: out.push(`nx${k}.${ORIGIN} A`); break;
      default: out.push(`h${k}.${ORIGIN} TXT`);
    }
  }
  return out;
}

/** A query packet with an ECS option for `a.b.c.0/24`, in dnsperf's -B framing (2-byte length, then the packet). */
function ecsQueryFrame(name: string, type: number, a: number, b: number, c: number): Buffer {
  const labels = name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  const qname = Buffer.concat([...labels, Buffer.from([0])]);
  const header = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
  const question = Buffer.concat([qname, Buffer.from([0, type, 0, 1])]);
  const ecs = Buffer.from([0, 8, 0, 7, 0, 1, 24, 0, a, b, c]);
  const opt = Buffer.concat([Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, ecs.length]), ecs]);
  const packet = Buffer.concat([header, question, opt]);
  const frame = Buffer.alloc(2 + packet.length);
  frame.writeUInt16BE(packet.length, 0);
  packet.copy(frame, 2);
  return frame;
}

/** Steered queries from 20,000 different /24s of public unicast space (so the decision cache sees many keys). */
function ecsManyFile(file: string): void {
  const steered = ['www.example.com', 'api.example.com', 'near.example.com', 'pool.example.com'];
  const frames: Buffer[] = [];
  for (let i = 0; i < 20_000; i++) {
    let a = 1 + ((i * 37) % 222);
    if (a === 10 || a === 127 || a === 100 || a === 172 || a === 192 || a === 169) a += 1;
    frames.push(ecsQueryFrame(steered[i % steered.length]!, 1, a, (i * 131) % 256, (i * 17) % 256));
  }
  fs.writeFileSync(file, Buffer.concat(frames));
}

// ---------------------------------------------------------------- servers

interface Server {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  readonly tcp: boolean;
  stop(): Promise<void>;
}

function pinAll(pid: number, cpus: string): void {
  spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

async function startMeridianServer(zonesDir: string, udpSocket: 'native' | 'dgram'): Promise<Server> {
  const port = await freeLoopbackPort();
  const extra = workers > 1 ? ['--workers', String(workers)] : [];
  const config = path.join(dir, `meridian-${udpSocket}.yaml`);
  fs.writeFileSync(config, `dns:\n  udpSocket: ${udpSocket}\n`);
  const child = await startMeridian({ port, cpus: SERVER_CPUS, serveArgs: ['--zones', zonesDir, '--config', config, ...extra] });
  return { name: `meridian, ${udpSocket} UDP${workers > 1 ? ` (${workers} workers)` : ''}`, port, pid: child.pid!, tcp: true, stop: () => stopMeridian(child) };
}

/** gdnsd (3.x) on the same zone, one UDP thread; null when it is not installed. */
async function startGdnsdServer(zoneFile: string): Promise<Server | null> {
  const gdnsd = ['/usr/sbin/gdnsd', '/usr/local/sbin/gdnsd'].find((p) => fs.existsSync(p));
  if (gdnsd === undefined) return null;
  const port = await freeLoopbackPort();
  const d = fs.mkdtempSync(path.join(dir, 'gdnsd-'));
  fs.mkdirSync(path.join(d, 'zones'));
  fs.copyFileSync(zoneFile, path.join(d, 'zones', ORIGIN));
  fs.writeFileSync(path.join(d, 'config'), `options => {\n  listen => [ 127.0.0.1:${port} ]\n  udp_threads => 1\n  tcp_threads => 1\n  run_dir => ${d}/run\n  state_dir => ${d}/state\n}\n`);
  const [cmd, args] = pinned(SERVER_CPUS, gdnsd, ['-c', d, 'start']);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForSoa(port, ORIGIN, 30_000);
  return { name: `gdnsd ${version(gdnsd, ['-h'], /gdnsd version (\S+)/)}`, port, pid: child.pid!, tcp: true, stop: () => stopChild(child) };
}

async function startKnotServer(zonesDir: string, name = 'Knot'): Promise<Server> {
  const knot: RunningKnot = await startKnot(zonesDir, { startTimeoutMs: 120_000 });
  pinAll(knot.pid, SERVER_CPUS);
  return { name: `${name} ${version('/usr/sbin/knotd', ['-V'], /version (\S+)/)}`, port: knot.port, pid: knot.pid, tcp: true, stop: () => knot.stop() };
}

async function startNsdServer(zoneFile: string): Promise<Server | null> {
  const nsd = ['/usr/sbin/nsd', '/usr/local/sbin/nsd'].find((p) => fs.existsSync(p));
  if (nsd === undefined) return null;
  const port = await freeLoopbackPort();
  const d = fs.mkdtempSync(path.join(dir, 'nsd-'));
  const conf = path.join(d, 'nsd.conf');
  fs.writeFileSync(
    conf,
    `server:\n  ip-address: 127.0.0.1@${port}\n  server-count: 1\n  username: ""\n  chroot: ""\n  zonesdir: "${d}"\n  database: ""\n  zonelistfile: "${d}/zone.list"\n  xfrdfile: "${d}/xfrd.state"\n  xfrdir: "${d}"\n  pidfile: "${d}/nsd.pid"\n  logfile: "${d}/nsd.log"\n  verbosity: 0\n  rrl-ratelimit: 0\nremote-control:\n  control-enable: no\nzone:\n  name: ${ORIGIN}\n  zonefile: "${zoneFile}"\n`,
  );
  const [cmd, args] = pinned(SERVER_CPUS, nsd, ['-d', '-c', conf]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForSoa(port, ORIGIN, 30_000);
  return { name: `NSD ${version(nsd, ['-v'], /NSD version (\S+)/)}`, port, pid: child.pid!, tcp: true, stop: () => stopChild(child) };
}

async function startBare(): Promise<Server> {
  const port = await freeLoopbackPort();
  const child = await startBareDgram(port, '0');
  return { name: 'bare node:dgram (one fixed reply)', port, pid: child.pid!, tcp: false, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function version(bin: string, args: string[], re: RegExp): string {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  return re.exec(`${r.stdout}${r.stderr}`)?.[1] ?? '';
}

async function waitForSoa(port: number, zone: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const r = spawnSync('dig', ['+short', '+tries=1', '+time=1', '-p', String(port), '@127.0.0.1', zone, 'SOA'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() !== '') return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`nothing answered ${zone} SOA on port ${port}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Resident memory of a process and its children (the workers), in MB. */
function rssMb(pid: number): number {
  let kb = 0;
  const add = (p: number): void => {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
    kb += Number(m?.[1] ?? 0);
  };
  add(pid);
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) add(Number(d));
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

// ---------------------------------------------------------------- dnsperf

interface Run {
  readonly qps: number;
  readonly avgMs: number;
  readonly lost: number;
  readonly sent: number;
  readonly p99Ms: number | null;
}

function dnsperf(port: number, data: { file: string; binary?: boolean }, opts: { tcp?: boolean; rate?: number; verbose?: boolean; secs?: number } = {}): Run {
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', data.file, '-l', String(opts.secs ?? seconds), '-c', String(clients), '-q', '200'];
  if (data.binary) args.push('-B');
  if (opts.tcp) args.push('-m', 'tcp');
  if (opts.rate !== undefined) args.push('-Q', String(Math.round(opts.rate)));
  if (opts.verbose) args.push('-v');
  const [cmd, full] = pinned(LOAD_CPU, 'dnsperf', args);
  // Into a file, not a pipe: with -v dnsperf prints a line per query, and a pipe would wake
  // this process all through the run, perhaps on the server's CPU.
  const outFile = path.join(dir, 'dnsperf.out');
  const fd = fs.openSync(outFile, 'w');
  spawnSync(cmd, full, { stdio: ['ignore', fd, 'inherit'] });
  fs.closeSync(fd);
  const out = fs.readFileSync(outFile, 'utf8');
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  let p99: number | null = null;
  if (opts.verbose) {
    const lat = [...out.matchAll(/^> \S+ .* ([\d.]+)$/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
    if (lat.length > 0) p99 = lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))]! * 1000;
  }
  return { qps: num(/Queries per second:\s+([\d.]+)/), avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000, lost: num(/Queries lost:\s+(\d+)/), sent: num(/Queries sent:\s+(\d+)/), p99Ms: p99 };
}

const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '-');

function table(title: string, rows: Array<[string, Run, string]>): void {
  console.log(`\n${title}`);
  console.log(`  ${'server'.padEnd(40)} ${'queries/s'.padStart(10)} ${'avg ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'lost'.padStart(7)}  note`);
  for (const [name, r, note] of rows) {
    console.log(`  ${name.padEnd(40)} ${fmt(r.qps).padStart(10)} ${fmt(r.avgMs, 3).padStart(8)} ${(r.p99Ms === null ? '-' : fmt(r.p99Ms, 3)).padStart(8)} ${fmt(r.lost).padStart(7)}  ${note}`);
  }
}

// ---------------------------------------------------------------- the run

async function main(): Promise<void> {
  // This process too keeps off the server's CPU (its children are pinned as they start).
  pinAll(process.pid, LOAD_CPU);
  if (values['big-only']) return bigZone(Number(values['zone-records']));
  // One folder for meridian: the project's zones (for the steered names) and the bench zone.
  const zones = path.join(dir, 'zones');
  fs.cpSync(path.join(root, 'zones'), zones, { recursive: true });
  const zoneFile = path.join(zones, `${ORIGIN}.zone`);
  fs.writeFileSync(zoneFile, benchZone(names));
  const knotZones = path.join(dir, 'knot-zones');
  fs.mkdirSync(knotZones);
  fs.copyFileSync(zoneFile, path.join(knotZones, `${ORIGIN}.zone`));

  const staticFile = path.join(dir, 'static.txt');
  fs.writeFileSync(staticFile, staticQueries(Math.max(names, 5000)).join('\n') + '\n');
  const steeredFile = path.join(dir, 'steered.txt');
  fs.writeFileSync(steeredFile, MIXES.find((m) => m.id === 'steered')!.queries.join('\n') + '\n');
  const ecsFile = path.join(dir, 'ecs-many.bin');
  ecsManyFile(ecsFile);

  console.log(`dnsperf -c ${clients} -q 200, ${seconds} s per run; servers on CPU ${SERVER_CPUS}, dnsperf on CPU ${LOAD_CPU}; zone ${ORIGIN} with ${names} names`);

  // CPU per query (user + system of the server and its children): unlike queries/s it does not
  // depend on how much of the pinned core a neighbour took, so it compares on a shared machine.
  const results: Array<{ server: Server; udp: Run; udpCpuUs: number; tcp: Run | null; half: Run[] }> = [];
  const measure = async (start: () => Promise<Server | null>, withTcp = true, half = true): Promise<Server | null> => {
    const s = await start();
    if (s === null) return null;
    dnsperf(s.port, { file: staticFile }, { secs: 2 }); // warm-up
    const cpuBefore = cpuSeconds(s.pid) ?? NaN;
    const udp = dnsperf(s.port, { file: staticFile });
    const udpCpuUs = (((cpuSeconds(s.pid) ?? NaN) - cpuBefore) * 1e6) / Math.max(1, udp.sent - udp.lost);
    const tcp = withTcp && s.tcp ? dnsperf(s.port, { file: staticFile }, { tcp: true }) : null;
    // Three windows: one pause of the machine (not of the server) can move a single window's p99.
    const halfRun = half ? [0, 1, 2].map(() => dnsperf(s.port, { file: staticFile }, { rate: udp.qps / 2, verbose: true, secs: Math.min(seconds, 5) })) : [];
    results.push({ server: s, udp, udpCpuUs, tcp, half: halfRun });
    return s;
  };

  // Steered mixes, meridian only (gdnsd's geoip plugin is not set up here; the others have no steering).
  const steeredRows: Array<[string, Run, string]> = [];
  for (const udpSocket of ['native', 'dgram'] as const) {
    const meridian = await measure(() => startMeridianServer(zones, udpSocket));
    const staticQps = results.at(-1)!.udp.qps;
    const steered = dnsperf(meridian!.port, { file: steeredFile });
    const ecs = dnsperf(meridian!.port, { file: ecsFile, binary: true });
    steeredRows.push([`${udpSocket} UDP: no ECS`, steered, `${(steered.qps / staticQps).toFixed(2)}x of static`]);
    steeredRows.push([`${udpSocket} UDP: ECS from 20,000 /24s`, ecs, `${(ecs.qps / staticQps).toFixed(2)}x of static`]);
    await meridian!.stop();
  }
  const knot = await measure(() => startKnotServer(knotZones));
  await knot?.stop();
  const nsd = await measure(() => startNsdServer(path.join(knotZones, `${ORIGIN}.zone`)));
  await nsd?.stop();
  const gdnsd = await measure(() => startGdnsdServer(path.join(knotZones, `${ORIGIN}.zone`)));
  await gdnsd?.stop();
  if (gdnsd === null) console.log('gdnsd is not installed (Debian package gdnsd): left out');
  const bare = await measure(startBare, false, false);
  await bare?.stop();

  const by = (prefix: string): (typeof results)[number] | undefined => results.find((r) => r.server.name.startsWith(prefix));
  const [native, dgram, k, n, g, b] = ['meridian, native', 'meridian, dgram', 'Knot', 'NSD', 'gdnsd', 'bare'].map(by);
  const ratio = (x: number, y: number | undefined): string => (y === undefined ? '-' : `${(x / y).toFixed(2)}x`);
  const versus = (r: (typeof results)[number], pick: (x: (typeof results)[number]) => number | undefined): string =>
    `/NSD ${ratio(pick(r)!, n && pick(n))}, /gdnsd ${ratio(pick(r)!, g && pick(g))}, /Knot ${ratio(pick(r)!, k && pick(k))}` + (r === native ? `, native/dgram ${ratio(pick(r)!, dgram && pick(dgram))}` : '');
  table(
    'Static mix over UDP (A, AAAA, MX, NXDOMAIN, NODATA)',
    results.map((r) => [r.server.name, r.udp, `CPU ${fmt(r.udpCpuUs, 1)} µs/query` + (r === native || r === dgram ? `; q/s ${versus(r, (x) => x.udp.qps)}; queries per CPU second ${versus(r, (x) => 1 / x.udpCpuUs)}` : r === b ? '; node:dgram ceiling' : '')]),
  );
  table('Static mix over TCP', results.filter((r) => r.tcp !== null).map((r) => [r.server.name, r.tcp!, r === native || r === dgram ? versus(r, (x) => x.tcp?.qps) : '']));
  table('Steered names, meridian only', steeredRows);
  table(
    'At 50% of each server\'s saturation rate (static, UDP; the window with the median p99 of three)',
    results.filter((r) => r.half.length > 0).map((r) => {
      const byP99 = [...r.half].sort((a, b) => (a.p99Ms ?? 0) - (b.p99Ms ?? 0));
      const lost = r.half.reduce((n, h) => n + h.lost, 0);
      return [r.server.name, byP99[1]!, `offered ${fmt(r.udp.qps / 2)} q/s; p99 of the three: ${byP99.map((h) => fmt(h.p99Ms ?? NaN, 3)).join(', ')} ms; lost in all three: ${fmt(lost)}`];
    }),
  );

  if (!values['skip-big']) await bigZone(Number(values['zone-records']));
}

/** Load time and resident memory of a zone of `records` A records, meridian against Knot. */
async function bigZone(records: number): Promise<void> {
  const d = path.join(dir, 'big');
  fs.mkdirSync(d);
  const file = path.join(d, 'big.test.zone');
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, '$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n');
  let chunk = '';
  for (let i = 0; i < records; i++) {
    chunk += `r${i} IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}\n`;
    if (chunk.length > 1 << 20) {
      fs.writeSync(fd, chunk);
      chunk = '';
    }
  }
  fs.writeSync(fd, chunk);
  fs.closeSync(fd);
  console.log(`\nA zone of ${fmt(records)} A records (${fmt(fs.statSync(file).size / 1e6, 1)} MB of master file)`);
  const rows: string[] = [];
  {
    const port = await freeLoopbackPort();
    const started = Date.now();
    const [cmd, args] = pinned('0', process.execPath, [...NODE_FLAGS, path.join(root, 'dist/src/cli/main.js'), 'serve', '--zones', d, '--listen', `127.0.0.1:${port}`, '--admin', 'off', '--log-level', 'warn']);
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitForSoa(port, 'big.test', 180_000);
    const secs = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 2000)); // let the heap settle after the load
    rows.push(`  ${'meridian'.padEnd(12)} loads in ${fmt(secs, 1)} s, RSS ${fmt(rssMb(child.pid!))} MB`);
    await stopChild(child);
  }
  let knotRss: number;
  {
    const started = Date.now();
    const knot = await startKnot(d, { startTimeoutMs: 180_000 });
    const secs = (Date.now() - started) / 1000;
    knotRss = rssMb(knot.pid);
    rows.push(`  ${'Knot'.padEnd(12)} loads in ${fmt(secs, 1)} s, RSS ${fmt(knotRss)} MB`);
    await knot.stop();
  }
  for (const r of rows) console.log(r);
  const mRss = Number(/RSS ([\d,]+)/.exec(rows[0]!)![1]!.replace(/,/g, ''));
  console.log(`  meridian RSS / Knot RSS: ${(mRss / knotRss).toFixed(2)}x`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
