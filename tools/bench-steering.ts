/**
 * Steering benchmark: dnsperf against `meridian serve` for static names, steered names
 * without ECS, and steered names with ECS; prints queries/s, latency and the ratios.
 * meridian is pinned to CPU 0 and dnsperf to CPU 1 when `taskset` exists.
 *   node dist/tools/bench-steering.js [--seconds 10] [--clients 8]
 * Needs dnsperf (Debian package dnsperf). The example zones and GeoIP database are used.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, clients: { type: 'string', default: '8' }, port: { type: 'string', default: '5399' } } });
const port = Number(values.port);
const hasTaskset = spawnSync('taskset', ['--version']).status === 0;
const pinned = (cpu: number, cmd: string, args: string[]): [string, string[]] => (hasTaskset ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);

if (spawnSync('dnsperf', ['-h']).error) {
  console.error('dnsperf is not installed: apt-get install dnsperf');
  process.exit(2);
}

/** ECS option 8 with family 1, source /24, scope 0 and the first three octets of `net`. */
function ecsOption(net: string): string {
  const [a, b, c] = net.split('.').map(Number);
  return '8:' + Buffer.from([0, 1, 24, 0, a!, b!, c!]).toString('hex');
}

const mixes: Array<{ name: string; queries: string[]; ecs?: string }> = [
  {
    name: 'static (A, AAAA, MX, NXDOMAIN, NODATA)',
    queries: ['mail.example.com A', 'ns1.example.com AAAA', 'example.com MX', 'nope.example.com A', 'mail.example.com TXT', 'www.eu.example.com A'],
  },
  { name: 'steered, no ECS', queries: ['www.example.com A', 'api.example.com A', 'near.example.com A', 'pool.example.com A', 'www.example.com AAAA'] },
  { name: 'steered, ECS 81.2.69.0/24', queries: ['www.example.com A', 'api.example.com A', 'near.example.com A', 'pool.example.com A', 'www.example.com AAAA'], ecs: ecsOption('81.2.69.0') },
];

function startServer(): Promise<ChildProcess> {
  const [cmd, args] = pinned(0, process.execPath, [path.join(root, 'dist/src/cli/main.js'), 'serve', '--listen', `127.0.0.1:${port}`, '--admin', 'off', '--log-level', 'warn']);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error('server did not start')), 15000);
    const poll = setInterval(() => {
      const r = spawnSync('dig', ['+short', '+tries=1', '+time=1', '-p', String(port), '@127.0.0.1', 'example.com', 'SOA']);
      if (r.status === 0 && r.stdout.toString().includes('ns1')) {
        clearInterval(poll);
        clearTimeout(deadline);
        resolve(child);
      }
    }, 200);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

function runDnsperf(queries: string[], ecs?: string): { qps: number; avgMs: number; lost: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-perf-'));
  const file = path.join(dir, 'queries.txt');
  fs.writeFileSync(file, queries.join('\n') + '\n');
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', values.seconds!, '-c', values.clients!, '-q', '200'];
  if (ecs) args.push('-E', ecs);
  const [cmd, full] = pinned(1, 'dnsperf', args);
  const out = spawnSync(cmd, full, { encoding: 'utf8' }).stdout;
  fs.rmSync(dir, { recursive: true, force: true });
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  return { qps: num(/Queries per second:\s+([\d.]+)/), avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000, lost: num(/Queries lost:\s+(\d+)/) };
}

const server = await startServer();
try {
  const results: Array<{ name: string; qps: number; avgMs: number; lost: number }> = [];
  for (const mix of mixes) {
    runDnsperf(mix.queries, mix.ecs); // warm-up: fills the answer cache and JIT
    const r = runDnsperf(mix.queries, mix.ecs);
    results.push({ name: mix.name, ...r });
    console.log(`${mix.name.padEnd(40)} ${r.qps.toFixed(0).padStart(8)} q/s   avg ${r.avgMs.toFixed(3)} ms   lost ${r.lost}`);
  }
  const base = results[0]!.qps;
  for (const r of results.slice(1)) console.log(`${r.name} / static: ${(r.qps / base).toFixed(2)}`);
} finally {
  server.kill('SIGTERM');
}
