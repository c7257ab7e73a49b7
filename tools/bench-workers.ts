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
 * Needs root (to make the cgroups), /sys/fs/cgroup/cpu, and dnsperf (and knotd for --knot).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { MIXES, requireDnsperf, root, runDnsperf, startMeridian, stopMeridian } from './perf/dnsperf-run.js';
import { startKnot } from '../test/support/knot.js';

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

function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
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

/** `meridian serve` with these arguments and `dns` config. */
function meridian(serveArgs: string[], dns: string): Setup['start'] {
  const config = path.join(tmp, `meridian-${serveArgs.join('-') || 'one'}-${dns.replace(/\W+/g, '')}.yaml`);
  // Only dns: the rest as without a config file (the zones come from --zones).
  fs.writeFileSync(config, `dns: { ${dns} }\n`);
  return async () => {
    const server: ChildProcess = await startMeridian({ port, cpus: '0,1', serveArgs: ['--config', config, ...serveArgs] });
    return { pid: server.pid!, port, stop: () => stopMeridian(server) };
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

async function measure(setup: Setup): Promise<Result> {
  const server = await setup.start();
  const budgets: CpuBudget[] = [];
  try {
    const group = (i: number): string => `meridian-bench-${process.pid}-${i}`;
    if (setup.together === true) budgets.push(new CpuBudget(group(0), server.pid, share * setup.workers));
    else if (setup.workers === 1) budgets.push(new CpuBudget(group(0), server.pid));
    else {
      // With workers, the primary only feeds them and runs probes: it shares the first worker's budget.
      const dataPlane = childPids(server.pid);
      if (dataPlane.length !== setup.workers) throw new Error(`expected ${setup.workers} workers, found ${dataPlane.length}`);
      dataPlane.forEach((pid, i) => budgets.push(new CpuBudget(group(i), pid)));
      fs.writeFileSync(path.join(budgets[0]!.dir, 'cgroup.procs'), String(server.pid));
    }
    runDnsperf(mix!, { port: server.port, cpus: '0,1', seconds: 2, clients: Number(values.clients), threads: 2, outstanding: Number(values.outstanding) }); // warm-up
    const before = budgets.map((b) => b.stat());
    const qps: number[] = [];
    for (let r = 0; r < Number(values.rounds); r++)
      qps.push(runDnsperf(mix!, { port: server.port, cpus: '0,1', seconds: Number(values.seconds), clients: Number(values.clients), threads: 2, outstanding: Number(values.outstanding) }).qps);
    const throttled = budgets
      .map((b, i) => {
        const s = b.stat();
        return `${(((s.throttled - before[i]!.throttled) / (s.periods - before[i]!.periods)) * 100).toFixed(0)} %`;
      })
      .join(', ');
    return { qps, throttled };
  } finally {
    await server.stop();
    for (const b of budgets) b.remove();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `${mix.name}; each server process limited to ${share} of a CPU (CFS quota per ${PERIOD_US / 1000} ms); dnsperf unpinned, 2 threads, ${values.clients} sockets, ${values.outstanding} queries in flight; ${values.rounds} × ${values.seconds} s; ${os.loadavg()[0]!.toFixed(1)} load average at start`,
);
const setups: Setup[] = [{ name: 'one process', start: meridian([], ''), workers: 1 }];
for (const n of counts) {
  setups.push({ name: `${n} workers, reusePort`, start: meridian(['--workers', String(n)], 'reusePort: on'), workers: n });
  setups.push({ name: `${n} workers, shared`, start: meridian(['--workers', String(n)], 'reusePort: off'), workers: n });
  if (values.knot) setups.push({ name: `Knot, ${n} UDP workers`, start: knot(n), workers: n, together: true });
}
if (values.knot) setups.splice(1, 0, { name: 'Knot, 1 UDP worker', start: knot(1), workers: 1, together: true });
try {
  const results: Array<[Setup, Result]> = [];
  for (const setup of setups) results.push([setup, await measure(setup)]);
  const one = median(results[0]![1].qps);
  const knotOne = results.find(([s]) => s.name === 'Knot, 1 UDP worker')?.[1];
  for (const [setup, r] of results) {
    const m = median(r.qps);
    const knotSame = results.find(([s]) => s.together === true && s.workers === setup.workers)?.[1];
    const vsKnot = setup.together === true || knotSame === undefined ? '' : `, ${(m / median(knotSame.qps)).toFixed(2)} × Knot`;
    console.log(
      `  ${setup.name.padEnd(24)} ${Math.round(m).toLocaleString('en-US').padStart(9)} q/s  ${(m / (setup.together === true && knotOne ? median(knotOne.qps) : one)).toFixed(2)} ×${vsKnot}  (rounds: ${r.qps.map((q) => Math.round(q).toLocaleString('en-US')).join(', ')})  periods throttled: ${r.throttled}`,
    );
  }
  console.log(`  ${os.loadavg()[0]!.toFixed(1)} load average at the end; the × column is against one process (Knot's rows: against Knot with one UDP worker)`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
