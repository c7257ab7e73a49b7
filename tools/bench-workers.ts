/**
 * Scaling of `serve --workers N` (issues #7, #17) on a machine with too few cores to give the
 * workers cores of their own beside the load generator. Each server process gets the same
 * CPU budget through a CFS bandwidth limit (cgroup v1 `cpu` controller: `--share` of one CPU
 * per 10 ms), standing in for "a core each": one process without workers against N workers,
 * each in its own group, with their own SO_REUSEPORT sockets (dns.reusePort on) and with
 * cluster's shared ones (off); and, with --knot, Knot with N UDP workers (its defaults) in
 * one group of N budgets. SO_REUSEPORT hashes each client address and port to one socket, so
 * dnsperf sends from --clients sockets (32 by default: few would split unevenly). dnsperf runs unpinned with the CPU time left over. Prints queries/s,
 * the ratios, and each group's throttled periods, which show that the budget, not the load
 * generator, was the limit.
 *   node dist/tools/bench-workers.js [--workers 2[,4]] [--share 0.4] [--seconds 10] [--rounds 3] [--mix static] [--clients 32] [--outstanding 200] [--knot]
 * `--compare-node BIN` measures instead the one-process fast path (issue #17) under this node and
 * under BIN (e.g. /usr/bin/node, an older Node) in one run, each held to the same budget: the
 * static mix, and steered names with ECS from 20,000 /24s, against Knot with one UDP worker on
 * the static mix; the servers all run at once and take turns round by round, so a neighbour's
 * load falls on each alike. Prints q/s, CPU time per query and the ratios static / Knot and
 * steered+ECS / static per node, in q/s and per CPU second. The native UDP layer (N-API, so
 * one build loads in both) is used when both nodes load it, else node:dgram for both, as the
 * output says.
 * Needs root (to make the cgroups), /sys/fs/cgroup/cpu, and dnsperf (and knotd for --knot and --compare-node).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { cpuSeconds, MIXES, requireDnsperf, root, runDnsperf, startMeridian, stopMeridian, type DnsperfResult, type Mix } from './perf/dnsperf-run.js';
import { knotVersion, startKnot } from '../test/support/knot.js';
import { writeEcsManyFile } from './perf/dns-bench-kit.js';
import { childrenOf } from '../test/support/workers.js';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '2' },
    share: { type: 'string', default: '0.4' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    mix: { type: 'string', default: 'static' },
    port: { type: 'string', default: '5396' },
    knot: { type: 'boolean', default: false },
    clients: { type: 'string', default: '32' },
    outstanding: { type: 'string', default: '200' },
    'compare-node': { type: 'string' },
  },
});
const counts = values.workers.split(',').map(Number);
const share = Number(values.share);
const PERIOD_US = 10_000;
const CGROUP_ROOT = '/sys/fs/cgroup/cpu';
requireDnsperf();
const mix = MIXES.find((m) => m.id === values.mix);
if (mix === undefined) {
  console.error(`unknown mix "${values.mix}": one of ${MIXES.map((m) => m.id).join(', ')}`);
  process.exit(2);
}
if (!fs.existsSync(path.join(CGROUP_ROOT, 'cpu.cfs_quota_us'))) {
  console.error(`${CGROUP_ROOT} (cgroup v1 cpu controller) is not mounted: cannot give each process a CPU budget`);
  process.exit(2);
}

/** A cgroup holding one process (all its threads) to `share` of a CPU. */
class CpuBudget {
  readonly dir: string;
  constructor(name: string, pid: number, cpus = share) {
    this.dir = path.join(CGROUP_ROOT, name);
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'cpu.cfs_period_us'), String(PERIOD_US));
    fs.writeFileSync(path.join(this.dir, 'cpu.cfs_quota_us'), String(Math.round(cpus * PERIOD_US)));
    fs.writeFileSync(path.join(this.dir, 'cgroup.procs'), String(pid));
  }

  /** Periods so far, and those in which the group used up its budget. */
  stat(): { periods: number; throttled: number } {
    const text = fs.readFileSync(path.join(this.dir, 'cpu.stat'), 'utf8');
    const num = (key: string): number => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { periods: num('nr_periods'), throttled: num('nr_throttled') };
  }

  remove(): void {
    // Whatever is left (an exited process leaves nothing) goes back to the root group first.
    for (const pid of fs.readFileSync(path.join(this.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      fs.writeFileSync(path.join(CGROUP_ROOT, 'cgroup.procs'), pid);
    }
    fs.rmdirSync(this.dir);
  }
}

/** A server under test: started, then its processes put in CPU groups (one per process unless `together`). */
interface Setup {
  readonly name: string;
  start(): Promise<{ pid: number; port: number; stop: () => Promise<void> }>;
  /** The processes that answer, each getting `share` of a CPU. */
  readonly workers: number;
  /** Knot: one process whose N threads share one group of N budgets. */
  readonly together?: boolean;
}

const port = Number(values.port);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-workers-'));

/** `meridian serve` with these arguments and `dns` config (and `extra` top-level config), on `at` under `node`. */
function meridian(serveArgs: string[], dns: string, o: { node?: string; at?: number; extra?: string } = {}): Setup['start'] {
  const at = o.at ?? port;
  const config = path.join(tmp, `meridian-${serveArgs.join('-') || 'one'}-${dns.replace(/\W+/g, '')}-${at}.yaml`);
  // Only dns: the rest as without a config file (the zones come from --zones).
  fs.writeFileSync(config, `dns: { ${dns} }\n${o.extra ?? ''}`);
  return async () => {
    const server: ChildProcess = await startMeridian({ port: at, cpus: '0,1', node: o.node, serveArgs: ['--config', config, ...serveArgs] });
    return { pid: server.pid!, port: at, stop: () => stopMeridian(server) };
  };
}

function knot(n: number): Setup['start'] {
  const zones = path.join(tmp, 'knot-zones');
  fs.mkdirSync(zones, { recursive: true });
  for (const f of fs.readdirSync(path.join(root, 'zones'))) if (f.endsWith('.zone')) fs.copyFileSync(path.join(root, 'zones', f), path.join(zones, f));
  return async () => {
    const k = await startKnot(zones, { udpWorkers: n, startTimeoutMs: 60_000 });
    return { pid: k.pid, port: k.port, stop: () => k.stop() };
  };
}

interface Result {
  readonly qps: number[];
  readonly throttled: string;
}

/** One dnsperf run of `seconds` (--seconds unless said) against 127.0.0.1:`at`. */
function load(m: Mix, at: number, seconds = Number(values.seconds)): DnsperfResult {
  return runDnsperf(m, { port: at, cpus: '0,1', seconds, clients: Number(values.clients), threads: 2, outstanding: Number(values.outstanding) });
}

/** The share of periods since `before` in which `b` used up its budget, e.g. "93 %". */
function throttledSince(b: CpuBudget, before: { periods: number; throttled: number }): string {
  const now = b.stat();
  return `${(((now.throttled - before.throttled) / (now.periods - before.periods)) * 100).toFixed(0)} %`;
}

async function measure(setup: Setup, benchMix: Mix): Promise<Result> {
  const server = await setup.start();
  const budgets: CpuBudget[] = [];
  try {
    const group = (i: number): string => `meridian-bench-${process.pid}-${i}`;
    if (setup.together === true) budgets.push(new CpuBudget(group(0), server.pid, share * setup.workers));
    else if (setup.workers === 1) budgets.push(new CpuBudget(group(0), server.pid));
    else {
      // With workers, the primary only feeds them and runs probes: it shares the first worker's budget.
      // the DNS workers, not the background processes every server forks (compaction, zone loads)
      const dataPlane = childrenOf(server.pid);
      if (dataPlane.length !== setup.workers) throw new Error(`expected ${setup.workers} workers, found ${dataPlane.length}`);
      dataPlane.forEach((pid, i) => budgets.push(new CpuBudget(group(i), pid)));
      fs.writeFileSync(path.join(budgets[0]!.dir, 'cgroup.procs'), String(server.pid));
    }
    load(benchMix, server.port, 2); // warm-up
    const before = budgets.map((b) => b.stat());
    const qps: number[] = [];
    for (let r = 0; r < Number(values.rounds); r++) qps.push(load(benchMix, server.port).qps);
    return { qps, throttled: budgets.map((b, i) => throttledSince(b, before[i]!)).join(', ') };
  } finally {
    await server.stop();
    for (const b of budgets) b.remove();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmtQps = (q: number): string => Math.round(q).toLocaleString('en-US');

/** `bin --version`, e.g. "v20.20.2". */
function nodeVersion(bin: string): string {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} --version: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout.trim();
}

/** Why node `bin` cannot load the native UDP addon, or '' when it can. */
function nativeProblem(bin: string): string {
  const file = process.env.MERIDIAN_NATIVE_UDP || path.join(root, 'native/udp/build/Release/meridian_udp.node');
  if (!fs.existsSync(file)) return `${file} is not built`;
  const r = spawnSync(bin, ['-e', `require(${JSON.stringify(file)})`], { encoding: 'utf8' });
  if (r.status === 0) return '';
  const error = r.stderr.split('\n').find((l) => l.includes('Error'));
  return `${bin} does not load it: ${error ?? `exit ${r.status}`}`;
}

/** --compare-node: the one-process fast path under this node and `other`, Knot beside them, all in one run. */
async function compareNodes(other: string): Promise<void> {
  const nodes = [process.execPath, other].map((bin) => ({ bin, version: nodeVersion(bin) }));
  const why = nodes.map((n) => nativeProblem(n.bin)).find((w) => w !== '');
  const udpSocket = why === undefined ? 'native' : 'dgram';
  const staticMix = MIXES.find((m) => m.id === 'static')!;
  const ecsMix: Mix = { id: 'steered-ecs-many', name: 'steered, ECS from 20,000 /24s', queries: [], packets: writeEcsManyFile(path.join(tmp, 'ecs-many.bin')).file };
  console.log(
    `One process, each limited to ${share} of a CPU (CFS quota per ${PERIOD_US / 1000} ms): meridian under ${nodes.map((n) => `${n.version} (${n.bin})`).join(' and ')}, ` +
      `UDP layer ${udpSocket}${why === undefined ? ' for both' : ` for both, as ${why}`}; ${knotVersion() ?? 'knotd'} with 1 UDP worker; ` +
      `static mix (${staticMix.name}) and ${ecsMix.name}; dnsperf unpinned, 2 threads, ${values.clients} sockets, ${values.outstanding} queries in flight; ` +
      `${values.rounds} rounds × ${values.seconds} s, the servers taking turns each round; ${os.loadavg()[0]!.toFixed(1)} load average at start`,
  );
  // A state file shared by two servers at once would be written by both: none is kept.
  const setups = [
    ...nodes.map((n, i) => ({
      name: `meridian, Node ${n.version}`,
      start: meridian([], `udpSocket: ${udpSocket}`, { node: n.bin, at: port + i, extra: 'health: { stateFile: null }\n' }),
      mixes: [staticMix, ecsMix],
    })),
    { name: 'Knot, 1 UDP worker', start: knot(1), mixes: [staticMix] },
  ];
  const running: Array<{ pid: number; port: number; stop: () => Promise<void> }> = [];
  const budgets: CpuBudget[] = [];
  // cells[server][mix]: each round's q/s, and over the rounds the server's CPU seconds, queries answered and budget periods.
  const empty = (): { qps: number[]; cpu: number; completed: number; lost: number; periods: number; throttled: number } => ({ qps: [], cpu: 0, completed: 0, lost: 0, periods: 0, throttled: 0 });
  let cells = setups.map((s) => s.mixes.map(empty));
  /** One dnsperf run of mix j against server i, its CPU time and budget periods counted to that cell alone. */
  const run = (i: number, j: number, seconds = Number(values.seconds)): void => {
    const [server, budget, cell] = [running[i]!, budgets[i]!, cells[i]![j]!];
    const [b0, c0] = [budget.stat(), cpuSeconds(server.pid) ?? NaN];
    const r = load(setups[i]!.mixes[j]!, server.port, seconds);
    const [b1, c1] = [budget.stat(), cpuSeconds(server.pid) ?? NaN];
    cell.qps.push(r.qps);
    cell.cpu += c1 - c0;
    cell.completed += r.completed;
    cell.lost += r.lost;
    cell.periods += b1.periods - b0.periods;
    cell.throttled += b1.throttled - b0.throttled;
  };
  try {
    for (const [i, setup] of setups.entries()) {
      const server = await setup.start();
      running.push(server);
      budgets.push(new CpuBudget(`meridian-bench-${process.pid}-${i}`, server.pid));
    }
    setups.forEach((s, i) => s.mixes.forEach((_, j) => run(i, j, 2))); // warm-up: the JIT, the caches
    cells = setups.map((s) => s.mixes.map(empty));
    for (let r = 0; r < Number(values.rounds); r++) setups.forEach((s, i) => s.mixes.forEach((_, j) => run(i, j)));
  } finally {
    for (const server of running) await server.stop();
    for (const b of budgets) b.remove();
  }
  // Per server and mix: the median round's q/s, and queries per CPU second over all rounds.
  const q = (i: number, j: number): number => median(cells[i]![j]!.qps);
  const perCpu = (i: number, j: number): number => cells[i]![j]!.completed / cells[i]![j]!.cpu;
  const knotAt = setups.length - 1;
  for (const [i, setup] of setups.entries()) {
    const parts = setup.mixes.map((_, j) => {
      const c = cells[i]![j]!;
      const detail = `${((c.cpu / c.completed) * 1e6).toFixed(1)} µs CPU/query, ${((c.throttled / c.periods) * 100).toFixed(0)} % of periods throttled, ${c.lost} lost`;
      return `${j === 0 ? 'static' : 'steered+ECS'} ${fmtQps(q(i, j))} q/s (${detail}; rounds ${c.qps.map(fmtQps).join(', ')})`;
    });
    console.log(`  ${setup.name}: ${parts.join('; ')}`);
  }
  const ratio = (x: number, y: number): string => `${(x / y).toFixed(2)} ×`;
  const head = ['Node', 'static q/s', 'steered+ECS q/s', 'Knot q/s', 'static / Knot (≥ 0.62)', 'steered+ECS / static (≥ 0.87)'];
  const rows = nodes.map((n, i) => [
    n.version,
    fmtQps(q(i, 0)),
    fmtQps(q(i, 1)),
    fmtQps(q(knotAt, 0)),
    `${ratio(q(i, 0), q(knotAt, 0))} (per CPU s ${ratio(perCpu(i, 0), perCpu(knotAt, 0))})`,
    `${ratio(q(i, 1), q(i, 0))} (per CPU s ${ratio(perCpu(i, 1), perCpu(i, 0))})`,
  ]);
  for (const row of [head, ...rows]) console.log(`  | ${row.join(' | ')} |`);
  const faster = (x: (i: number, j: number) => number): string => {
    const [s0, s1, e0, e1] = [x(0, 0), x(1, 0), x(0, 1), x(1, 1)];
    return s0 >= s1 && e0 >= e1 ? nodes[0]!.version : s1 >= s0 && e1 >= e0 ? nodes[1]!.version : 'neither on both mixes';
  };
  console.log(
    `  ${nodes[0]!.version} / ${nodes[1]!.version}: static ${ratio(q(0, 0), q(1, 0))}, steered+ECS ${ratio(q(0, 1), q(1, 1))} in q/s (faster: ${faster(q)}); ` +
      `per CPU second ${ratio(perCpu(0, 0), perCpu(1, 0))} and ${ratio(perCpu(0, 1), perCpu(1, 1))} (faster: ${faster(perCpu)}). ` +
      `Throttled periods near 100 % mean the budget, not dnsperf or a neighbour, was the limit; where they are not, read the per CPU second figures. ${os.loadavg()[0]!.toFixed(1)} load average at the end`,
  );
}

/** The scaling table: one process, N workers both ways and (--knot) Knot with 1 and N UDP workers, one after another. */
async function scaling(benchMix: Mix): Promise<void> {
  console.log(
    `${benchMix.name}; each server process limited to ${share} of a CPU (CFS quota per ${PERIOD_US / 1000} ms); dnsperf unpinned, 2 threads, ${values.clients} sockets, ${values.outstanding} queries in flight; ${values.rounds} × ${values.seconds} s; ${os.loadavg()[0]!.toFixed(1)} load average at start`,
  );
  const setups: Setup[] = [{ name: 'one process', start: meridian([], ''), workers: 1 }];
  for (const n of counts) {
    setups.push({ name: `${n} workers, reusePort`, start: meridian(['--workers', String(n)], 'reusePort: on'), workers: n });
    setups.push({ name: `${n} workers, shared`, start: meridian(['--workers', String(n)], 'reusePort: off'), workers: n });
    if (values.knot) setups.push({ name: `Knot, ${n} UDP workers`, start: knot(n), workers: n, together: true });
  }
  if (values.knot) setups.splice(1, 0, { name: 'Knot, 1 UDP worker', start: knot(1), workers: 1, together: true });
  const results: Array<[Setup, Result]> = [];
  for (const setup of setups) results.push([setup, await measure(setup, benchMix)]);
  const one = median(results[0]![1].qps);
  const knotOne = results.find(([s]) => s.name === 'Knot, 1 UDP worker')?.[1];
  for (const [setup, r] of results) {
    const m = median(r.qps);
    const knotSame = results.find(([s]) => s.together === true && s.workers === setup.workers)?.[1];
    const vsKnot = setup.together === true || knotSame === undefined ? '' : `, ${(m / median(knotSame.qps)).toFixed(2)} × Knot`;
    console.log(
      `  ${setup.name.padEnd(24)} ${fmtQps(m).padStart(9)} q/s  ${(m / (setup.together === true && knotOne ? median(knotOne.qps) : one)).toFixed(2)} ×${vsKnot}  (rounds: ${r.qps.map(fmtQps).join(', ')})  periods throttled: ${r.throttled}`,
    );
  }
  console.log(`  ${os.loadavg()[0]!.toFixed(1)} load average at the end; the × column is against one process (Knot's rows: against Knot with one UDP worker)`);
}

try {
  if (values['compare-node'] !== undefined) await compareNodes(values['compare-node']);
  else await scaling(mix);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
