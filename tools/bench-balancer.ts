/**
 * Regional balancer benchmark (issue #6): wrk against `meridian balance`, haproxy configured
 * the same way, and a bare Node pass-through (tools/bare-proxy.ts: the ceiling of Node's HTTP
 * path), each in front of the same three backends. Every proxy is pinned to CPU 0; wrk and the
 * backends (nginx, one worker each, a tiny fixed response) to CPU 1. Prints requests/s, p50 and
 * p99 for each and the ratios.
 * Then over HTTP/2 (issue 15): h2load with prior knowledge (h2c) against meridian's
 * http2.cleartextListen and haproxy's `proto h2` bind, same backends (HTTP/1.1 behind); and
 * gRPC: a grpc-js load loop (tools/bench-balancer-grpc.ts) through meridian to two grpc-js
 * servers, against the same loop straight to one of them.
 *   node dist/tools/bench-balancer.js [--seconds 10] [--connections 50] [--algorithm least-response-time] [--workers 1] [--only meridian,haproxy,bare,h2,grpc]
 * Needs wrk, h2load, haproxy and nginx (Debian packages wrk, nghttp2-client, haproxy, nginx-light).
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

for (const tool of ['wrk', 'h2load', 'haproxy', 'nginx']) {
  const found = spawnSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`]).status === 0;
  if (!found) {
    console.error(`${tool} is not installed: apt-get install wrk nghttp2-client haproxy nginx-light`);
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

/** h2load with prior knowledge: `connections` connections, 10 streams each. h2load gives no percentiles: mean and max. */
function runH2load(port: number): Figures {
  const [cmd, args] = pinned(loadCpu, 'h2load', ['-c', String(connections), '-m', '10', '-D', String(seconds), '--warm-up-time=1', `http://127.0.0.1:${port}/`]);
  const out = spawnSync(cmd, args, { encoding: 'utf8' }).stdout;
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1]);
  const t = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out);
  const failed = /(\d+) failed, (\d+) errored/.exec(out);
  const non2xx = /status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (Number.isNaN(rps)) console.error(`could not read h2load's output:\n${out}`);
  const errors = (failed ? Number(failed[1]) + Number(failed[2]) : 0) + (non2xx ? Number(non2xx[2]) + Number(non2xx[3]) : 0);
  return { rps, p50Ms: toMs(t?.[3] ?? ''), p99Ms: toMs(t?.[2] ?? ''), errors };
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
  const measure = async (name: string, port: number, launch: () => ChildProcess, ready = '/', run: (port: number) => Figures = runWrk, readyPort = port): Promise<void> => {
    if (values.only !== undefined && !values.only.split(',').some((o) => name.startsWith(o))) return;
    const child = launch();
    await waitForHttp(readyPort, ready);
    run(port); // warm-up: JIT, connection pools
    const figures = run(port);
    results.push({ name, figures });
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };

  // meridian balance: health checks on, the chosen algorithm.
  const mPort = await freePort();
  const mH2cPort = await freePort();
  const mConf = path.join(dir, 'balancer.yaml');
  fs.writeFileSync(
    mConf,
    JSON.stringify({
      listen: `127.0.0.1:${mPort}`,
      http2: { cleartextListen: `127.0.0.1:${mH2cPort}`, maxConcurrentStreams: 1000, maxResetsPerSec: 100_000 },
      // every load generator here is one address: the per-client cap (which also caps h2 streams) would refuse it
      client: { maxConnectionsPerClient: 0 },
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
  const launchMeridian = (): ChildProcess =>
    start(proxyCpus, process.execPath, [...NODE_FLAGS, path.join(root, 'dist/src/cli/main.js'), 'balance', '--config', mConf, '--log-level', 'warn', ...workerArgs]);
  await measure(`meridian balance (${values.algorithm}${workers > 1 ? `, ${workers} workers` : ''})`, mPort, launchMeridian);
  await measure(`h2 meridian balance (h2c, ${values.algorithm})`, mH2cPort, launchMeridian, '/', runH2load, mPort);

  // haproxy: the same three backends, leastconn, health checks, keep-alive to backends.
  const hPort = await freePort();
  const hConf = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    hConf,
    `global\n  nbthread ${workers}\n  maxconn 4000\ndefaults\n  mode http\n  timeout connect 3s\n  timeout client 30s\n  timeout server 30s\n  http-reuse always\n  option forwardfor\nfrontend fe\n  bind 127.0.0.1:${hPort}\n  default_backend be\nbackend be\n  balance leastconn\n  option httpchk GET /\n` +
      backendPorts.map((p, i) => `  server b${i} 127.0.0.1:${p} check inter 1s\n`).join(''),
  );
  await measure(`haproxy ${haproxyVersion()} (leastconn${workers > 1 ? `, ${workers} threads` : ''})`, hPort, () => start(proxyCpus, 'haproxy', ['-f', hConf, '-db']));
  const hH2Port = await freePort();
  const hH2Conf = path.join(dir, 'haproxy-h2.cfg');
  fs.writeFileSync(hH2Conf, fs.readFileSync(hConf, 'utf8').replace(`bind 127.0.0.1:${hPort}`, `bind 127.0.0.1:${hPort}\n  bind 127.0.0.1:${hH2Port} proto h2`));
  await measure(`h2 haproxy ${haproxyVersion()} (h2c, leastconn)`, hH2Port, () => start(proxyCpus, 'haproxy', ['-f', hH2Conf, '-db']), '/', runH2load, hPort);

  // The bare pass-through: node:http + one undici pool to one backend.
  const bPort = await freePort();
  await measure('bare Node pass-through (node:http + undici)', bPort, () =>
    start(proxyCpus.split(',')[0]!, process.execPath, [...NODE_FLAGS, path.join(root, 'dist/tools/bare-proxy.js'), String(bPort), `127.0.0.1:${backendPorts[0]}`]),
  );

  await measureGrpc(results);

  console.log(`\nwrk -t1 -c${connections} -d${seconds}s; proxies on CPU ${proxyCpus}, wrk and nginx backends on CPU ${loadCpu}${hasTaskset ? '' : ' (taskset missing: not pinned)'}\n`);
  console.log(`${'proxy'.padEnd(52)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)}`);
  for (const { name, figures: f } of results) {
    console.log(`${name.padEnd(52)} ${f.rps.toFixed(0).padStart(9)} ${f.p50Ms.toFixed(2).padStart(8)} ${f.p99Ms.toFixed(2).padStart(8)} ${String(f.errors).padStart(7)}`);
  }
  console.log(`(h2 rows: h2load -c${connections} -m10, p50 column = mean, p99 column = max; grpc rows: ${GRPC_CONCURRENCY} calls in flight on one grpc-js channel)`);
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
  const m2 = find('h2 meridian');
  const h2 = find('h2 haproxy');
  if (m2 !== undefined && h2 !== undefined) console.log(`h2: meridian / haproxy:            ${(m2.rps / h2.rps).toFixed(2)}x requests/s`);
  const g = find('grpc meridian');
  const gBare = find('grpc bare');
  if (g !== undefined && gBare !== undefined) console.log(`gRPC: meridian / bare grpc-js:     ${(g.rps / gBare.rps).toFixed(2)}x calls/s`);
}

const GRPC_CONCURRENCY = 50;

/** gRPC: grpc-js unary calls through meridian (h2c listener) to two grpc-js servers, and straight to one of them. */
async function measureGrpc(results: Array<{ name: string; figures: Figures }>): Promise<void> {
  if (values.only !== undefined && !values.only.split(',').some((o) => o.startsWith('grpc'))) return;
  const tool = path.join(root, 'dist/tools/bench-balancer-grpc.js');
  const ports = [await freePort(), await freePort()];
  for (const p of ports) start(loadCpu, process.execPath, [tool, 'server', String(p)]);
  await waitForPort(ports[0]!);
  await waitForPort(ports[1]!);
  const load = (port: number): Figures => {
    const [cmd, args] = pinned(loadCpu, process.execPath, [tool, 'client', String(port), String(seconds), String(GRPC_CONCURRENCY)]);
    const out = spawnSync(cmd, args, { encoding: 'utf8' }).stdout;
    try {
      return JSON.parse(out) as Figures;
    } catch {
      console.error(`could not read the gRPC load's output:\n${out}`);
      return { rps: NaN, p50Ms: NaN, p99Ms: NaN, errors: NaN };
    }
  };
  const port = await freePort();
  const h2c = await freePort();
  const conf = path.join(dir, 'balancer-grpc.yaml');
  fs.writeFileSync(
    conf,
    JSON.stringify({
      listen: `127.0.0.1:${port}`,
      admin: { listen: null },
      http2: { cleartextListen: `127.0.0.1:${h2c}`, maxConcurrentStreams: 1000, maxResetsPerSec: 100_000 },
      client: { maxConnectionsPerClient: 0 },
      pools: { default: { algorithm: values.algorithm, backends: ports.map((p, i) => ({ id: `g${i}`, address: `127.0.0.1:${p}` })) } },
    }),
  );
  const child = start(proxyCpus.split(',')[0]!, process.execPath, [...NODE_FLAGS, path.join(root, 'dist/src/cli/main.js'), 'balance', '--config', conf, '--log-level', 'warn']);
  await waitForPort(h2c);
  results.push({ name: `grpc meridian balance (h2c, ${values.algorithm})`, figures: load(h2c) });
  child.kill('SIGTERM');
  results.push({ name: 'grpc bare grpc-js server (no proxy)', figures: load(ports[0]!) });
}

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on port ${port}`);
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
