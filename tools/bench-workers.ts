/**
 * Scaling of `serve --workers N` (issue #7) on a machine with too few cores to give the
 * workers cores of their own beside the load generator. Each server process gets the same
 * CPU budget through a CFS bandwidth limit (cgroup v1 `cpu` controller: `--share` of one CPU
 * per 10 ms), standing in for "a core each": one process without workers against N workers,
 * each in its own group. dnsperf runs unpinned with the CPU time left over. Prints queries/s,
 * the ratio, and each group's throttled periods, which show that the budget, not the load
 * generator, was the limit.
 *   node dist/tools/bench-workers.js [--workers 2] [--share 0.4] [--seconds 10] [--rounds 3] [--mix static]
 * Needs root (to make the cgroups), /sys/fs/cgroup/cpu, and dnsperf.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { MIXES, requireDnsperf, runDnsperf, startMeridian, stopMeridian } from './perf/dnsperf-run.js';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '2' },
    share: { type: 'string', default: '0.4' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    mix: { type: 'string', default: 'static' },
    port: { type: 'string', default: '5396' },
  },
});
const workers = Number(values.workers);
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
  constructor(name: string, pid: number) {
    this.dir = path.join(CGROUP_ROOT, name);
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'cpu.cfs_period_us'), String(PERIOD_US));
    fs.writeFileSync(path.join(this.dir, 'cpu.cfs_quota_us'), String(Math.round(share * PERIOD_US)));
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

interface Setup {
  readonly name: string;
  readonly serveArgs: readonly string[];
}

async function measure(setup: Setup): Promise<{ qps: number[]; throttled: string }> {
  const port = Number(values.port);
  const server: ChildProcess = await startMeridian({ port, cpus: '0,1', serveArgs: [...setup.serveArgs] });
  const budgets: CpuBudget[] = [];
  try {
    // With workers, the primary only holds the sockets and runs probes: it shares the first worker's budget.
    const dataPlane = setup.serveArgs.length === 0 ? [server.pid!] : childPids(server.pid!);
    if (dataPlane.length !== Math.max(1, workers) && setup.serveArgs.length > 0) throw new Error(`expected ${workers} workers, found ${dataPlane.length}`);
    dataPlane.forEach((pid, i) => budgets.push(new CpuBudget(`meridian-bench-${process.pid}-${i}`, pid)));
    if (setup.serveArgs.length > 0) fs.writeFileSync(path.join(budgets[0]!.dir, 'cgroup.procs'), String(server.pid));
    runDnsperf(mix!, { port, cpus: '0,1', seconds: 2, clients: 8, threads: 2 }); // warm-up
    const before = budgets.map((b) => b.stat());
    const qps: number[] = [];
    for (let r = 0; r < Number(values.rounds); r++) qps.push(runDnsperf(mix!, { port, cpus: '0,1', seconds: Number(values.seconds), clients: 8, threads: 2 }).qps);
    const throttled = budgets
      .map((b, i) => {
        const s = b.stat();
        return `${(((s.throttled - before[i]!.throttled) / (s.periods - before[i]!.periods)) * 100).toFixed(0)} %`;
      })
      .join(', ');
    return { qps, throttled };
  } finally {
    await stopMeridian(server);
    for (const b of budgets) b.remove();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${mix.name}; each server process limited to ${share} of a CPU (CFS quota per ${PERIOD_US / 1000} ms); dnsperf unpinned, 2 threads; ${values.rounds} × ${values.seconds} s`);
const one = await measure({ name: 'one process', serveArgs: [] });
const many = await measure({ name: `${workers} workers`, serveArgs: ['--workers', String(workers)] });
const row = (name: string, r: { qps: number[]; throttled: string }): void =>
  console.log(`  ${name.padEnd(14)} ${Math.round(median(r.qps)).toLocaleString('en-US').padStart(9)} q/s  (rounds: ${r.qps.map((q) => Math.round(q).toLocaleString('en-US')).join(', ')})  periods throttled: ${r.throttled}`);
row('one process', one);
row(`${workers} workers`, many);
console.log(`  scaling: ${(median(many.qps) / median(one.qps)).toFixed(2)} × with ${workers} × the CPU budget`);
