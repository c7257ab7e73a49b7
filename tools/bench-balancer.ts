/**
 * Regional balancer benchmark (issue #6): wrk against `meridian balance`, haproxy configured
 * the same way, and a bare Node pass-through (tools/bare-proxy.ts: the ceiling of Node's HTTP
 * path), each in front of the same three backends. Every proxy is pinned to CPU 0; wrk and the
 * backends (nginx, one worker each, a tiny fixed response) to CPU 1. Prints requests/s, p50 and
 * p99 for each and the ratios.
 *   node dist/tools/bench-balancer.js [--seconds 10] [--connections 50] [--algorithm least-response-time] [--workers 1]
 * Needs wrk, haproxy and nginx (Debian packages wrk, haproxy, nginx-light).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NODE_FLAGS } from '../src/cli/node-flags.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    algorithm: { type: 'string', default: 'least-response-time' },
    workers: { type: 'string', default: '1' },
    only: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const workers = Number(values.workers);
const hasTaskset = spawnSync('taskset', ['--version']).status === 0;
const cpus = os.cpus().length;
/** With --workers N the proxies get CPUs 0..N-1; the load generator and backends the last one. */
const proxyCpus = Array.from({ length: Math.min(workers, Math.max(1, cpus - 1)) }, (_, i) => i).join(',');
const loadCpu = String(cpus - 1);
const pinned = (cpuList: string, cmd: string, args: string[]): [string, string[]] => (hasTaskset ? ['taskset', ['-c', cpuList, cmd, ...args]] : [cmd, args]);

for (const tool of ['wrk', 'haproxy', 'nginx']) {
  const found = spawnSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`]).status === 0;
  if (!found) {
    console.error(`${tool} is not installed: apt-get install wrk haproxy nginx-light`);
    process.exit(2);
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-l7-bench-'));
const children: ChildProcess[] = [];
// SIGTERM, not SIGKILL: nginx's master stops its worker only when it is asked nicely.
const cleanup = (): void => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

function start(cpuList: string, cmd: string, args: string[]): ChildProcess {
  const [c, a] = pinned(cpuList, cmd, args);
  const child = spawn(c, a, { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  return child;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitForHttp(port: number, pathName = '/'): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}${pathName}`);
      await r.arrayBuffer();
      if (r.status < 500) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answered on port ${port}`);
}

interface Figures {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

function runWrk(port: number): Figures {
  const [cmd, args] = pinned(loadCpu, 'wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/`]);
  const out = spawnSync(cmd, args, { encoding: 'utf8' }).stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = toMs(/99%\s+(\S+)/.exec(out)?.[1] ?? '');
  if (Number.isNaN(p99)) console.error(`could not read p99 from wrk's output:\n${out}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((n, x) => n + Number(x), 0) : 0);
  return { rps, p50Ms: p50, p99Ms: p99, errors };
}

async function main(): Promise<void> {
  // Backends: nginx, one worker, three ports answering a fixed 13-byte body.
  const backendPorts = [await freePort(), await freePort(), await freePort()];
  const nginxConf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    nginxConf,
    `worker_processes 1;\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/nginx-error.log warn;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  keepalive_requests 1000000;\n  client_body_temp_path ${dir};\n  proxy_temp_path ${dir};\n  fastcgi_temp_path ${dir};\n  uwsgi_temp_path ${dir};\n  scgi_temp_path ${dir};\n` +
      backendPorts.map((p, i) => `  server { listen 127.0.0.1:${p}; location / { return 200 "hello from ${i}\\n"; } }\n`).join('') +
      '}\n',
  );
  start(loadCpu, 'nginx', ['-c', nginxConf, '-e', `${dir}/nginx-error.log`]);
  for (const p of backendPorts) await waitForHttp(p);

  const results: Array<{ name: string; figures: Figures }> = [];
  const measure = async (name: string, port: number, launch: () => ChildProcess, ready = '/'): Promise<void> => {
    if (values.only !== undefined && !values.only.split(',').some((o) => name.startsWith(o))) return;
    const child = launch();
    await waitForHttp(port, ready);
    runWrk(port); // warm-up: JIT, connection pools
    const figures = runWrk(port);
    results.push({ name, figures });
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };

  // meridian balance: health checks on, the chosen algorithm.
  const mPort = await freePort();
  const mConf = path.join(dir, 'balancer.yaml');
  fs.writeFileSync(
    mConf,
    JSON.stringify({
      listen: `127.0.0.1:${mPort}`,
      admin: { listen: `127.0.0.1:${await freePort()}` },
      pools: {
        default: {
          algorithm: values.algorithm,
          healthCheck: { path: '/', intervalMs: 1000 },
          backends: backendPorts.map((p, i) => ({ id: `b${i}`, address: `127.0.0.1:${p}` })),
        },
      },
    }),
  );
  const workerArgs = workers > 1 ? ['--workers', String(workers)] : [];
  await measure(`meridian balance (${values.algorithm}${workers > 1 ? `, ${workers} workers` : ''})`, mPort, () =>
    start(proxyCpus, process.execPath, [...NODE_FLAGS, path.join(root, 'dist/src/cli/main.js'), 'balance', '--config', mConf, '--log-level', 'warn', ...workerArgs]),
  );

  // haproxy: the same three backends, leastconn, health checks, keep-alive to backends.
  const hPort = await freePort();
  const hConf = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    hConf,
    `global\n  nbthread ${workers}\n  maxconn 4000\ndefaults\n  mode http\n  timeout connect 3s\n  timeout client 30s\n  timeout server 30s\n  http-reuse always\n  option forwardfor\nfrontend fe\n  bind 127.0.0.1:${hPort}\n  default_backend be\nbackend be\n  balance leastconn\n  option httpchk GET /\n` +
      backendPorts.map((p, i) => `  server b${i} 127.0.0.1:${p} check inter 1s\n`).join(''),
  );
  await measure(`haproxy ${haproxyVersion()} (leastconn${workers > 1 ? `, ${workers} threads` : ''})`, hPort, () => start(proxyCpus, 'haproxy', ['-f', hConf, '-db']));

  // The bare pass-through: node:http + one undici pool to one backend.
  const bPort = await freePort();
  await measure('bare Node pass-through (node:http + undici)', bPort, () =>
    start(proxyCpus.split(',')[0]!, process.execPath, [...NODE_FLAGS, path.join(root, 'dist/tools/bare-proxy.js'), String(bPort), `127.0.0.1:${backendPorts[0]}`]),
  );

  console.log(`\nwrk -t1 -c${connections} -d${seconds}s; proxies on CPU ${proxyCpus}, wrk and nginx backends on CPU ${loadCpu}${hasTaskset ? '' : ' (taskset missing: not pinned)'}\n`);
  console.log(`${'proxy'.padEnd(52)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)}`);
  for (const { name, figures: f } of results) {
    console.log(`${name.padEnd(52)} ${f.rps.toFixed(0).padStart(9)} ${f.p50Ms.toFixed(2).padStart(8)} ${f.p99Ms.toFixed(2).padStart(8)} ${String(f.errors).padStart(7)}`);
  }
  const find = (prefix: string) => results.find((r) => r.name.startsWith(prefix))?.figures;
  const m = find('meridian');
  const h = find('haproxy');
  const bare = find('bare');
  if (m !== undefined) {
    console.log('');
    if (bare !== undefined) console.log(`meridian / bare Node pass-through: ${(m.rps / bare.rps).toFixed(2)}x requests/s (goal >= 0.9)`);
    if (h !== undefined) {
      console.log(`meridian / haproxy:                ${(m.rps / h.rps).toFixed(2)}x requests/s (goal >= 0.25)`);
      console.log(`meridian p99 / haproxy p99:        ${(m.p99Ms / h.p99Ms).toFixed(2)}x (goal <= 2)`);
    }
  }
}

function haproxyVersion(): string {
  const out = spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).stdout ?? '';
  return /version (\S+)/.exec(out)?.[1]?.split('-')[0] ?? '';
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
