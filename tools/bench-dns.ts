/**
 * DNS benchmark (issues #7, #19): dnsperf against meridian on each UDP socket layer (the native
 * one, `dns.udpSocket: native`, and node:dgram) and, in the same run, Knot, NSD and gdnsd
 * serving the same zone, and a bare node:dgram server (the ceiling of node:dgram). Each
 * server is pinned to CPU 0 and dnsperf to CPU 1. Prints queries/s, the server's CPU time per
 * query (which a busy neighbour does not change), average latency, lost queries and the
 * ratios; then a run at 50% of each server's saturation rate with loss and p99. The steered
 * mix with ECS from 20,000 /24s runs against meridian on both layers and gdnsd's geoip plugin
 * set up with the same mapping (tools/perf/gdnsd-geoip.ts, on the project's GeoIP database),
 * after a check that gdnsd steers and how often it answers as meridian does. Last, the load
 * time and resident memory of a 1,000,000-record zone in meridian and Knot.
 *   node dist/tools/bench-dns.js [--seconds 10] [--names 3000] [--zone-records 1000000] [--skip-big | --big-only] [--workers N] [--steered-only]
 * --steered-only: only the steered mixes (meridian on both layers, gdnsd), no static mix, no big zone.
 * Needs dnsperf, knot and nsd (Debian packages dnsperf, knot, nsd); gdnsd when installed.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freeLoopbackPort, startKnot, type RunningKnot } from '../test/support/knot.js';
import { NODE_FLAGS } from '../src/cli/node-flags.js';
import { MIXES, pinned, requireDnsperf, root, startBareDgram, startMeridian, stopMeridian } from './perf/dnsperf-run.js';
import {
  BENCH_ORIGIN as ORIGIN,
  benchZone,
  dnsperfRunner,
  fmt,
  halfLoad,
  halfRow,
  pinAll,
  ratio,
  staticQueries,
  stopChild,
  table,
  version,
  waitForSoa,
  writeEcsManyFile,
  type HalfLoad,
  type Run,
  type Server,
} from './perf/dns-bench-kit.js';
import { writeGeoip2City } from './perf/geoip2-city.js';
import { gdnsdGeoFromPolicy } from './perf/gdnsd-geoip.js';
import { describeSteering, sampleSteering, steers } from './perf/steering-check.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    names: { type: 'string', default: '3000' },
    'zone-records': { type: 'string', default: '1000000' },
    'skip-big': { type: 'boolean', default: false },
    'big-only': { type: 'boolean', default: false },
    workers: { type: 'string', default: '1' },
    clients: { type: 'string', default: '8' },
    'steered-only': { type: 'boolean', default: false },
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
const dnsperf = dnsperfRunner(dir, LOAD_CPU, seconds, clients);

// ---------------------------------------------------------------- servers

async function startMeridianServer(zonesDir: string, udpSocket: 'native' | 'dgram'): Promise<Server> {
  const port = await freeLoopbackPort();
  const extra = workers > 1 ? ['--workers', String(workers)] : [];
  const config = path.join(dir, `meridian-${udpSocket}.yaml`);
  fs.writeFileSync(config, `dns:\n  udpSocket: ${udpSocket}\n`);
  const child = await startMeridian({ port, cpus: SERVER_CPUS, serveArgs: ['--zones', zonesDir, '--config', config, ...extra] });
  return { name: `meridian, ${udpSocket} UDP${workers > 1 ? ` (${workers} workers)` : ''}`, port, pid: child.pid!, tcp: true, stop: () => stopMeridian(child) };
}

/**
 * gdnsd (3.x) on the same zone, one UDP thread, and example.com's steered names through its
 * geoip plugin (tools/perf/gdnsd-geoip.ts) on `mmdb`; null when it is not installed.
 */
async function startGdnsdServer(zoneFile: string, mmdb: string): Promise<Server | null> {
  const gdnsd = ['/usr/sbin/gdnsd', '/usr/local/sbin/gdnsd'].find((p) => fs.existsSync(p));
  if (gdnsd === undefined) return null;
  const port = await freeLoopbackPort();
  const d = fs.mkdtempSync(path.join(dir, 'gdnsd-'));
  fs.mkdirSync(path.join(d, 'zones'));
  fs.copyFileSync(zoneFile, path.join(d, 'zones', ORIGIN));
  const geo = gdnsdGeoFromPolicy(path.join(root, 'zones', 'example.com.policy.yaml'), mmdb);
  fs.writeFileSync(path.join(d, 'zones', 'example.com'), geo.zone);
  fs.writeFileSync(
    path.join(d, 'config'),
    `options => {\n  listen => [ 127.0.0.1:${port} ]\n  udp_threads => 1\n  tcp_threads => 1\n  run_dir => ${d}/run\n  state_dir => ${d}/state\n}\n${geo.plugins}`,
  );
  const [cmd, args] = pinned(SERVER_CPUS, gdnsd, ['-c', d, 'start']);
  // Its log (info lines on stderr) into a file, shown only when it does not come up.
  const log = path.join(d, 'gdnsd.log');
  const fd = fs.openSync(log, 'w');
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', fd] });
  fs.closeSync(fd);
  try {
    await waitForSoa(port, 'example.com', 60_000);
  } catch (err) {
    process.stderr.write(fs.readFileSync(log, 'utf8'));
    await stopChild(child);
    throw err;
  }
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

// ---------------------------------------------------------------- the run

async function main(): Promise<void> {
  // This process too keeps off the server's CPU (its children are pinned as they start).
  pinAll(process.pid, LOAD_CPU);
  if (values['big-only']) return bigZone(Number(values['zone-records']));
  const steeredOnly = values['steered-only'];
  // One folder for meridian: the project's zones (for the steered names) and the bench zone.
  const zones = path.join(dir, 'zones');
  fs.cpSync(path.join(root, 'zones'), zones, { recursive: true });
  const zoneFile = path.join(zones, `${ORIGIN}.zone`);
  fs.writeFileSync(zoneFile, benchZone(names));
  const knotZones = path.join(dir, 'knot-zones');
  fs.mkdirSync(knotZones);
  fs.copyFileSync(zoneFile, path.join(knotZones, `${ORIGIN}.zone`));

  const staticData = { file: path.join(dir, 'static.txt') };
  fs.writeFileSync(staticData.file, staticQueries(Math.max(names, 5000)).join('\n') + '\n');
  const steeredData = { file: path.join(dir, 'steered.txt') };
  fs.writeFileSync(steeredData.file, MIXES.find((m) => m.id === 'steered')!.queries.join('\n') + '\n');
  const ecsData = writeEcsManyFile(path.join(dir, 'ecs-many.bin'));
  // gdnsd reads only MaxMind's layout: the project's database rewritten into it, same tree.
  const mmdb = path.join(dir, 'GeoIP2-City-layout.mmdb');
  writeGeoip2City(path.join(root, 'geoip', 'geo-whois-asn-country.mmdb'), mmdb);

  console.log(
    `dnsperf -c ${clients} -q 200, ${seconds} s per run; servers on CPU ${SERVER_CPUS}, dnsperf on CPU ${LOAD_CPU}; zone ${ORIGIN} with ${names} names; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  interface Result {
    readonly server: Server;
    udp?: Run;
    tcp?: Run;
    half?: HalfLoad;
    steered?: Run;
    ecs?: Run;
    ecsHalf?: HalfLoad;
    sample?: Awaited<ReturnType<typeof sampleSteering>>;
  }
  const results: Result[] = [];
  const measure = async (start: () => Promise<Server | null>, o: { static?: boolean; tcp?: boolean; half?: boolean; steered?: boolean }): Promise<void> => {
    const s = await start();
    if (s === null) return;
    const r: Result = { server: s };
    results.push(r);
    try {
      if (o.static !== false && !steeredOnly) {
        dnsperf(s.port, staticData, { secs: 2 }); // warm-up
        r.udp = dnsperf.measured(s.pid, s.port, staticData);
        if (o.tcp !== false && s.tcp) r.tcp = dnsperf.measured(s.pid, s.port, staticData, { tcp: true });
        if (o.half !== false) r.half = halfLoad(dnsperf, s.port, staticData, r.udp.qps);
      }
      if (o.steered) {
        r.sample = await sampleSteering(s.port);
        dnsperf(s.port, ecsData, { secs: 2 }); // warm-up: meridian's decision cache, as in service
        r.ecs = dnsperf.measured(s.pid, s.port, ecsData);
        r.ecsHalf = halfLoad(dnsperf, s.port, ecsData, r.ecs.qps);
        if (s.name.startsWith('meridian')) r.steered = dnsperf.measured(s.pid, s.port, steeredData);
      }
    } finally {
      await s.stop();
    }
  };

  for (const udpSocket of ['native', 'dgram'] as const) await measure(() => startMeridianServer(zones, udpSocket), { steered: true });
  if (!steeredOnly) {
    await measure(() => startKnotServer(knotZones), {});
    await measure(() => startNsdServer(path.join(knotZones, `${ORIGIN}.zone`)), {});
  }
  await measure(() => startGdnsdServer(path.join(knotZones, `${ORIGIN}.zone`), mmdb), { steered: true });
  if (!results.some((r) => r.server.name.startsWith('gdnsd'))) console.log('gdnsd is not installed (Debian package gdnsd): left out');
  if (!steeredOnly) await measure(startBare, { tcp: false, half: false });

  const by = (prefix: string): Result | undefined => results.find((r) => r.server.name.startsWith(prefix));
  const [native, dgram, k, n, g] = ['meridian, native', 'meridian, dgram', 'Knot', 'NSD', 'gdnsd'].map(by);
  const isMeridian = (r: Result): boolean => r === native || r === dgram;
  const versus = (r: Result, pick: (x: Result) => number | undefined): string =>
    `/NSD ${ratio(pick(r)!, n && pick(n))}, /gdnsd ${ratio(pick(r)!, g && pick(g))}, /Knot ${ratio(pick(r)!, k && pick(k))}` +
    (r === native ? `, native/dgram ${ratio(pick(r)!, dgram && pick(dgram))}` : '');

  if (!steeredOnly) {
    const withUdp = results.filter((r) => r.udp !== undefined);
    table(
      'Static mix over UDP (A, AAAA, MX, NXDOMAIN, NODATA)',
      withUdp.map((r) => [
        r.server.name,
        r.udp!,
        isMeridian(r) ? `q/s ${versus(r, (x) => x.udp?.qps)}; queries per CPU second ${versus(r, (x) => x.udp && 1 / x.udp.cpuUs)}` : r.server.name.startsWith('bare') ? 'node:dgram ceiling' : '',
      ]),
    );
    table(
      'Static mix over TCP',
      results.filter((r) => r.tcp !== undefined).map((r) => [r.server.name, r.tcp!, isMeridian(r) ? versus(r, (x) => x.tcp?.qps) : '']),
    );
    table(
      "At 50% of each server's saturation rate (static, UDP; the window with the median p99 of three)",
      results.filter((r) => r.half !== undefined).map((r) => halfRow(r.server.name, r.half!)),
    );
  }

  // Steered with ECS: gdnsd's figures count only once it is seen to steer.
  let gSteers = false;
  if (native?.sample && g?.sample) {
    gSteers = steers(g.sample);
    console.log(`\nSteering check (A for each steered name from every 10th of the 20,000 /24s, over UDP with ECS):`);
    for (const line of describeSteering('meridian', native.sample, 'gdnsd', g.sample)) console.log(line);
    if (!gSteers) console.log('  gdnsd does not steer here (one answer for every network, or no ECS scope): its steered figures are left out');
  }
  const steeredRows: Array<readonly [string, Run, string]> = [];
  const goal = (r: Result): string => (gSteers && g?.ecs ? `; q/s /gdnsd ${ratio(r.ecs!.qps, g.ecs.qps)}, per CPU second /gdnsd ${ratio(g.ecs.cpuUs, r.ecs!.cpuUs)} (goal ≥ 0.8)` : '');
  for (const r of [native, dgram]) {
    if (r?.ecs === undefined) continue;
    const layer = r === native ? 'native' : 'dgram';
    const of = (x: Run): string => (r.udp ? `${ratio(x.qps, r.udp.qps)} of static` : '');
    steeredRows.push([`meridian ${layer}: no ECS`, r.steered!, of(r.steered!)]);
    steeredRows.push([`meridian ${layer}: ECS from 20,000 /24s`, r.ecs, of(r.ecs) + goal(r)]);
  }
  if (gSteers && g?.ecs) steeredRows.push([`${g.server.name} geoip: ECS from 20,000 /24s`, g.ecs, '']);
  table("Steered names (www, api, near, pool A; see tools/perf/gdnsd-geoip.ts for gdnsd's mapping)", steeredRows);
  table(
    "Steered with ECS at 50% of each server's saturation rate (the window with the median p99 of three)",
    [native, dgram, gSteers ? g : undefined].filter((r): r is Result => r?.ecsHalf !== undefined).map((r) => halfRow(r.server.name, r.ecsHalf!)),
  );

  if (!values['skip-big'] && !steeredOnly) await bigZone(Number(values['zone-records']));
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
    const [cmd, args] = pinned('0', process.execPath, [
      ...NODE_FLAGS,
      path.join(root, 'dist/src/cli/main.js'),
      'serve',
      '--zones',
      d,
      '--listen',
      `127.0.0.1:${port}`,
      '--admin',
      'off',
      '--log-level',
      'warn',
    ]);
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
