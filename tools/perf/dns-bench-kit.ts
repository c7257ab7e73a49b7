/**
 * Shared by bench-dns and bench-dnssec: a server under test, one dnsperf run (output to a
 * file, optionally per query for p99), the server's CPU per query, the three windows at half
 * of its saturation rate, the query file with ECS from 20,000 /24s, and the result tables.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cpuTimes, pinned } from './dnsperf-run.js';

export interface Server {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  readonly tcp: boolean;
  stop(): Promise<void>;
}

export interface Run {
  readonly qps: number;
  readonly avgMs: number;
  readonly lost: number;
  readonly sent: number;
  readonly p99Ms: number | null;
  /** The server's CPU time (user + system, itself and its children) per answered query, µs. */
  readonly cpuUs: number;
  /** The system (kernel) part of cpuUs. */
  readonly sysUs: number;
}

/** A query file: text (`name type` lines) or dnsperf's -B framing (length-prefixed packets). */
export interface QueryData {
  readonly file: string;
  readonly binary?: boolean;
}

export interface RunOptions {
  readonly tcp?: boolean;
  /** Queries per second to send at most (dnsperf -Q). */
  readonly rate?: number;
  /** Per-query output, for p99. */
  readonly verbose?: boolean;
  readonly secs?: number;
  /** dnsperf -D: DO=1 on every query of a text file (a -B file carries its own OPT). */
  readonly dnssecOk?: boolean;
}

export interface Dnsperf {
  (port: number, data: QueryData, opts?: RunOptions): Run;
  /** The server `pid`'s run, with its CPU time per query. */
  measured(pid: number, port: number, data: QueryData, opts?: RunOptions): Run;
}

/** dnsperf pinned to `loadCpu`, `clients` sockets, 200 outstanding, output into `dir`. */
export function dnsperfRunner(dir: string, loadCpu: string, seconds: number, clients: number): Dnsperf {
  const run = (port: number, data: QueryData, opts: RunOptions = {}): Run => {
    const args = ['-s', '127.0.0.1', '-p', String(port), '-d', data.file, '-l', String(opts.secs ?? seconds), '-c', String(clients), '-q', '200'];
    if (data.binary) args.push('-B');
    if (opts.tcp) args.push('-m', 'tcp');
    if (opts.dnssecOk) args.push('-D');
    if (opts.rate !== undefined) args.push('-Q', String(Math.round(opts.rate)));
    if (opts.verbose) args.push('-v');
    const [cmd, full] = pinned(loadCpu, 'dnsperf', args);
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
    return {
      qps: num(/Queries per second:\s+([\d.]+)/),
      avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
      lost: num(/Queries lost:\s+(\d+)/),
      sent: num(/Queries sent:\s+(\d+)/),
      p99Ms: p99,
      cpuUs: NaN,
      sysUs: NaN,
    };
  };
  // CPU per query does not depend on how much of the pinned core a neighbour (or a SIGSTOP of
  // the whole benchmark) took, so unlike queries/s it compares across a shared machine.
  const measured = (pid: number, port: number, data: QueryData, opts: RunOptions = {}): Run => {
    const before = cpuTimes(pid);
    const r = run(port, data, opts);
    const after = cpuTimes(pid);
    const perQuery = (s: number): number => (s * 1e6) / Math.max(1, r.sent - r.lost);
    if (before === null || after === null) return r;
    return { ...r, cpuUs: perQuery(after.user + after.system - before.user - before.system), sysUs: perQuery(after.system - before.system) };
  };
  return Object.assign(run, { measured });
}

/** Three 5 s windows at half of `saturation` q/s: one pause of the machine can move a single window's p99. */
export interface HalfLoad {
  readonly offered: number;
  readonly windows: readonly Run[];
  /** The window with the median p99. */
  readonly median: Run;
  readonly lost: number;
}

export function halfLoad(dnsperf: Dnsperf, port: number, data: QueryData, saturation: number, opts: RunOptions = {}): HalfLoad {
  const windows = [0, 1, 2].map(() => dnsperf(port, data, { ...opts, rate: saturation / 2, verbose: true, secs: Math.min(opts.secs ?? 5, 5) }));
  const byP99 = [...windows].sort((a, b) => (a.p99Ms ?? 0) - (b.p99Ms ?? 0));
  return { offered: saturation / 2, windows: byP99, median: byP99[1]!, lost: windows.reduce((n, w) => n + w.lost, 0) };
}

// ---------------------------------------------------------------- zone and query files

export const BENCH_ORIGIN = 'bench.test';
const ORIGIN = BENCH_ORIGIN;

/** A zone of `n` names: each has an A, every other one an AAAA; the apex has MX. */
export function benchZone(n: number): string {
  const lines = [`$ORIGIN ${ORIGIN}.`, '$TTL 300', '@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300', '@ IN NS ns1', '@ IN MX 10 mail', 'ns1 IN A 192.0.2.53', 'mail IN A 192.0.2.25'];
  for (let i = 0; i < n; i++) {
    lines.push(`h${i} IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    if (i % 2 === 0) lines.push(`h${i} IN AAAA 2001:db8::${i.toString(16)}`);
  }
  return lines.join('\n') + '\n';
}

/** The static mix: A, AAAA, MX, NXDOMAIN and NODATA in equal parts, over every name, shuffled. */
export function staticQueries(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = (i * 7919) % n; // spread over the zone without a random generator
    switch (i % 5) {
      case 0:
        out.push(`h${k}.${ORIGIN} A`);
        break;
      case 1:
        out.push(`h${k - (k % 2)}.${ORIGIN} AAAA`);
        break;
      case 2:
        out.push(`${ORIGIN} MX`);
        break;
      case 3:
        out.push(`nx${k}.${ORIGIN} A`);
        break;
      default:
        out.push(`h${k}.${ORIGIN} TXT`);
    }
  }
  return out;
}

// ---------------------------------------------------------------- queries with ECS

/** The steered names of the ECS mix (zones/example.com.policy.yaml). */
export const ECS_NAMES = ['www.example.com', 'api.example.com', 'near.example.com', 'pool.example.com'] as const;
export const ECS_NETWORKS = 20_000;

/** The i-th client /24 of the ECS mix: spread over public unicast space, skipping private and reserved first octets. */
export function ecsNetwork(i: number): [number, number, number] {
  let a = 1 + ((i * 37) % 222);
  if (a === 10 || a === 127 || a === 100 || a === 172 || a === 192 || a === 169) a += 1;
  return [a, (i * 131) % 256, (i * 17) % 256];
}

/** A query packet with an ECS option for `a.b.c.0/24` (DO=1 when `dnssecOk`), in dnsperf's -B framing (2-byte length, then the packet). */
export function ecsQueryFrame(name: string, type: number, [a, b, c]: readonly number[], dnssecOk = false): Buffer {
  const labels = name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  const qname = Buffer.concat([...labels, Buffer.from([0])]);
  const header = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
  const question = Buffer.concat([qname, Buffer.from([0, type, 0, 1])]);
  const ecs = Buffer.from([0, 8, 0, 7, 0, 1, 24, 0, a!, b!, c!]);
  // OPT: root owner, type 41, class = payload size 1232, TTL = extended RCODE, version, flags (DO is the top bit).
  const opt = Buffer.concat([Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, dnssecOk ? 0x80 : 0, 0, 0, ecs.length]), ecs]);
  const packet = Buffer.concat([header, question, opt]);
  const frame = Buffer.alloc(2 + packet.length);
  frame.writeUInt16BE(packet.length, 0);
  packet.copy(frame, 2);
  return frame;
}

/** Steered A queries from 20,000 different /24s (so the decision cache sees many keys), as a -B file. */
export function writeEcsManyFile(file: string, dnssecOk = false): QueryData {
  const frames: Buffer[] = [];
  for (let i = 0; i < ECS_NETWORKS; i++) frames.push(ecsQueryFrame(ECS_NAMES[i % ECS_NAMES.length]!, 1, ecsNetwork(i), dnssecOk));
  fs.writeFileSync(file, Buffer.concat(frames));
  return { file, binary: true };
}

// ---------------------------------------------------------------- processes

export function pinAll(pid: number, cpus: string): void {
  spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export function version(bin: string, args: string[], re: RegExp): string {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  return re.exec(`${r.stdout}${r.stderr}`)?.[1] ?? '';
}

export async function waitForSoa(port: number, zone: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const r = spawnSync('dig', ['+short', '+tries=1', '+time=1', '-p', String(port), '@127.0.0.1', zone, 'SOA'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() !== '') return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`nothing answered ${zone} SOA on port ${port}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

// ---------------------------------------------------------------- output

export const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '-');

export const ratio = (x: number, y: number | undefined): string => (y === undefined || !Number.isFinite(x / y) ? '-' : `${(x / y).toFixed(2)}x`);

export function table(title: string, rows: ReadonlyArray<readonly [string, Run, string]>): void {
  const w = Math.max(40, ...rows.map(([name]) => name.length));
  console.log(`\n${title}`);
  console.log(`  ${'server'.padEnd(w)} ${'queries/s'.padStart(10)} ${'CPU µs/q (sys)'.padStart(14)} ${'avg ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'lost'.padStart(7)}  note`);
  for (const [name, r, note] of rows) {
    console.log(
      `  ${name.padEnd(w)} ${fmt(r.qps).padStart(10)} ${(Number.isFinite(r.cpuUs) ? `${fmt(r.cpuUs, 1)} (${fmt(r.sysUs, 1)})` : '-').padStart(14)} ${fmt(r.avgMs, 3).padStart(8)} ${(r.p99Ms === null ? '-' : fmt(r.p99Ms, 3)).padStart(8)} ${fmt(r.lost).padStart(7)}  ${note}`,
    );
  }
}

/** The rows of a half-load table: the median window, with the three p99s and the loss in the note. */
export function halfRow(name: string, h: HalfLoad): readonly [string, Run, string] {
  return [name, h.median, `offered ${fmt(h.offered)} q/s; p99 of the three: ${h.windows.map((w) => fmt(w.p99Ms ?? NaN, 3)).join(', ')} ms; lost in all three: ${fmt(h.lost)}`];
}
