/**
 * Shared by the performance tools: the query mixes, starting `meridian serve` pinned to
 * CPUs, and one dnsperf run. Pinning uses `taskset` when it exists, so the server and the
 * load generator do not steal each other's core.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/cli/node-flags.js';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const hasTaskset = spawnSync('taskset', ['--version']).status === 0;

/** `cmd args` run on the given CPU list ("0", "0,1"), or unpinned without taskset. */
export function pinned(cpus: string, cmd: string, args: string[]): [string, string[]] {
  return hasTaskset ? ['taskset', ['-c', cpus, cmd, ...args]] : [cmd, args];
}

export function requireDnsperf(): void {
  if (spawnSync('dnsperf', ['-h']).error) {
    console.error('dnsperf is not installed: apt-get install dnsperf');
    process.exit(2);
  }
}

/** ECS option 8 with family 1, source /24, scope 0 and the first three octets of `net`, as dnsperf -E takes it. */
export function ecsOption(net: string): string {
  const [a, b, c] = net.split('.').map(Number);
  return '8:' + Buffer.from([0, 1, 24, 0, a!, b!, c!]).toString('hex');
}

export interface Mix {
  readonly id: string;
  readonly name: string;
  readonly queries: readonly string[];
  /** dnsperf -E value: an EDNS option sent with every query. */
  readonly ecs?: string;
  /** A file of ready-made query packets in dnsperf's -B framing, sent instead of `queries`. */
  readonly packets?: string;
}

const STEERED = ['www.example.com A', 'api.example.com A', 'near.example.com A', 'pool.example.com A', 'www.example.com AAAA'];

export const MIXES: readonly Mix[] = [
  {
    id: 'static',
    name: 'static (A, AAAA, MX, NXDOMAIN, NODATA)',
    queries: ['mail.example.com A', 'ns1.example.com AAAA', 'example.com MX', 'nope.example.com A', 'mail.example.com TXT', 'www.eu.example.com A'],
  },
  { id: 'steered', name: 'steered, no ECS', queries: STEERED },
  { id: 'steered-ecs', name: 'steered, ECS 81.2.69.0/24', queries: STEERED, ecs: ecsOption('81.2.69.0') },
];

export interface ServeOptions {
  readonly port: number;
  readonly cpus: string;
  /** Extra node options, e.g. ['--cpu-prof', '--cpu-prof-dir', dir]. */
  readonly nodeOptions?: readonly string[];
  /** Extra `meridian serve` arguments, e.g. ['--workers', '2']. */
  readonly serveArgs?: readonly string[];
  /** The node binary to run it with; this process's unless said (bench-workers --compare-node). */
  readonly node?: string;
}

/** Starts `meridian serve` on 127.0.0.1:port and resolves once it answers. */
export function startMeridian(o: ServeOptions): Promise<ChildProcess> {
  const cli = path.join(root, 'dist/src/cli/main.js');
  // The flags `meridian` itself starts node with, so the benchmark measures what users run.
  const args = [
    ...NODE_FLAGS,
    ...(o.nodeOptions ?? []),
    cli,
    'serve',
    '--zones',
    path.join(root, 'zones'),
    '--listen',
    `127.0.0.1:${o.port}`,
    '--admin',
    'off',
    '--log-level',
    'warn',
    ...(o.serveArgs ?? []),
  ];
  const [cmd, full] = pinned(o.cpus, o.node ?? process.execPath, args);
  // From the project folder, so the health state file lands where `npm start` keeps it.
  const child = spawn(cmd, full, { stdio: ['ignore', 'inherit', 'inherit'], cwd: root });
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error('server did not start')), 15000);
    const poll = setInterval(() => {
      const r = spawnSync('dig', ['+short', '+tries=1', '+time=1', '-p', String(o.port), '@127.0.0.1', 'example.com', 'SOA']);
      if (r.status === 0 && r.stdout.toString().includes('ns1')) {
        clearInterval(poll);
        clearTimeout(deadline);
        resolve(child);
      }
    }, 200);
    child.on('exit', (code) => {
      clearInterval(poll);
      clearTimeout(deadline);
      reject(new Error(`server exited with ${code}`));
    });
  });
}

/** Starts the bare node:dgram reference server (bare-dgram-server.ts) on 127.0.0.1:port. */
export async function startBareDgram(port: number, cpus: string): Promise<ChildProcess> {
  const [cmd, full] = pinned(cpus, process.execPath, [path.join(root, 'dist/tools/perf/bare-dgram-server.js'), String(port)]);
  const child = spawn(cmd, full, { stdio: ['ignore', 'inherit', 'inherit'] });
  await new Promise((r) => setTimeout(r, 500));
  return child;
}

/**
 * CPU time (user and system, seconds) used so far by a process and its descendants (the workers
 * of `--workers N`; NSD's server process is a grandchild of the one started), from /proc; null
 * where /proc is missing. The server's CPU per query does not depend on how much CPU the load
 * generator or a neighbour takes.
 */
export function cpuTimes(pid: number): { user: number; system: number } | null {
  const stats = new Map<number, string[]>();
  try {
    for (const dir of fs.readdirSync('/proc')) {
      if (!/^[0-9]+$/.test(dir)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${dir}/stat`, 'utf8');
        stats.set(Number(dir), stat.slice(stat.lastIndexOf(')') + 2).split(' '));
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    return null;
  }
  if (!stats.has(pid)) return null;
  const total = { user: 0, system: 0 };
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    const fields = stats.get(p)!;
    total.user += Number(fields[11]) / 100; // utime, stime in clock ticks (USER_HZ = 100)
    total.system += Number(fields[12]) / 100;
    for (const [child, f] of stats) if (Number(f[1]) === p) todo.push(child);
  }
  return total;
}

/** User + system seconds of cpuTimes(). */
export function cpuSeconds(pid: number): number | null {
  const t = cpuTimes(pid);
  return t === null ? null : t.user + t.system;
}

/** Stops the server with SIGTERM and waits for it to exit. */
export function stopMeridian(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export interface DnsperfResult {
  readonly qps: number;
  /** Queries completed. */
  readonly completed: number;
  readonly avgMs: number;
  readonly lost: number;
}

export interface DnsperfOptions {
  readonly port: number;
  readonly cpus: string;
  readonly seconds: number;
  readonly clients: number;
  /** dnsperf threads (-T); more than one only helps when it has more than one CPU. */
  readonly threads?: number;
  /** Queries in flight at most (-q); 200 unless said. */
  readonly outstanding?: number;
}

export function runDnsperf(mix: Mix, o: DnsperfOptions): DnsperfResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-perf-'));
  const file = mix.packets ?? path.join(dir, 'queries.txt');
  if (mix.packets === undefined) fs.writeFileSync(file, mix.queries.join('\n') + '\n');
  const args = ['-s', '127.0.0.1', '-p', String(o.port), '-d', file, '-l', String(o.seconds), '-c', String(o.clients), '-q', String(o.outstanding ?? 200)];
  if (o.threads !== undefined) args.push('-T', String(o.threads));
  if (mix.ecs) args.push('-E', mix.ecs);
  if (mix.packets !== undefined) args.push('-B');
  const [cmd, full] = pinned(o.cpus, 'dnsperf', args);
  const out = spawnSync(cmd, full, { encoding: 'utf8' }).stdout;
  fs.rmSync(dir, { recursive: true, force: true });
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  return { qps: num(/Queries per second:\s+([\d.]+)/), completed: num(/Queries completed:\s+(\d+)/), avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000, lost: num(/Queries lost:\s+(\d+)/) };
}
