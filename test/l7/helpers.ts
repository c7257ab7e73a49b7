/** Real backends, a real balancer on ephemeral loopback ports, and a small HTTP client for the L7 tests. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Balancer } from '../../src/l7/balancer.js';
import { parseBalancerConfig } from '../../src/l7/config.js';
import { startCli, type RunningCli } from '../support/process.js';

export interface TestBackend {
  readonly id: string;
  readonly port: number;
  readonly address: string;
  /** Requests it has seen (health checks on /healthz not counted). */
  hits: number;
  /** Replace how it answers (default: 200 "<id>"). */
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** Health-check answer status. */
  healthStatus: number;
  readonly lastHeaders: http.IncomingHttpHeaders[];
  readonly server: http.Server;
  close(): Promise<void>;
}

/** A backend handler that reads the whole request body, then answers `body`. */
export function afterBody(body: string): TestBackend['handler'] {
  return (req, res) => {
    req.resume();
    req.on('end', () => res.end(body));
  };
}

export async function startBackend(id: string, port = 0): Promise<TestBackend> {
  const backend: TestBackend = {
    id,
    port: 0,
    address: '',
    hits: 0,
    healthStatus: 200,
    lastHeaders: [],
    handler: (_req, res) => res.end(id),
    server: http.createServer((req, res) => {
      if (req.url === '/healthz') {
        res.statusCode = backend.healthStatus;
        res.end('ok');
        return;
      }
      backend.hits++;
      backend.lastHeaders.push(req.headers);
      if (backend.lastHeaders.length > 20) backend.lastHeaders.shift();
      backend.handler(req, res);
    }),
    async close() {
      backend.server.closeAllConnections();
      await new Promise<void>((resolve) => backend.server.close(() => resolve()));
    },
  };
  await new Promise<void>((resolve) => backend.server.listen(port, '127.0.0.1', resolve));
  const p = (backend.server.address() as AddressInfo).port;
  Object.assign(backend, { port: p, address: `127.0.0.1:${p}` });
  return backend;
}

export async function startBackends(n: number): Promise<TestBackend[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => startBackend(String.fromCharCode(97 + i))));
}

export interface TestBalancer {
  readonly balancer: Balancer;
  readonly url: string;
  readonly adminUrl: string;
  readonly configFile: string;
  /** Rewrites the config file (for reload tests). */
  write(config: object | string): void;
  close(): Promise<void>;
}

/** Starts a balancer from a config object; listen and admin default to ephemeral loopback ports. */
export async function startBalancer(config: Record<string, unknown>, startupWaitMs = 2000): Promise<TestBalancer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-l7-'));
  const configFile = path.join(dir, 'balancer.yaml');
  const full = { listen: '127.0.0.1:0', admin: { listen: '127.0.0.1:0' }, ...config };
  const write = (c: object | string): void => fs.writeFileSync(configFile, typeof c === 'string' ? c : JSON.stringify(c, null, 2));
  write(full);
  const parsed = parseBalancerConfig(fs.readFileSync(configFile, 'utf8'), configFile);
  const balancer = await Balancer.start(parsed, { log: pino({ level: 'silent' }), configFile, startupWaitMs, defaultMetrics: false });
  return {
    balancer,
    url: `http://127.0.0.1:${balancer.address.port}`,
    adminUrl: `http://127.0.0.1:${balancer.adminAddress!.port}`,
    configFile,
    write,
    async close() {
      await balancer.close(1000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** One request on a fresh connection (no keep-alive, so nothing lingers after a test). */
export function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Sends `n` sequential GETs and counts answers by body. */
export async function tally(url: string, n: number, headers?: Record<string, string>): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await request(url, { headers });
    const key = r.status === 200 ? r.body : `HTTP ${r.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function json(url: string, init?: { method?: string; body?: unknown; token?: string }): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (init?.body !== undefined) headers['content-type'] = 'application/json';
  if (init?.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  const r = await request(url, { method: init?.method ?? 'GET', headers, body: init?.body === undefined ? undefined : JSON.stringify(init.body) });
  return { status: r.status, body: JSON.parse(r.body) };
}

export function pool(backends: readonly TestBackend[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { backends: backends.map((b) => ({ id: b.id, address: b.address })), ...extra };
}

export interface RunningBalance extends RunningCli {
  readonly url: string;
  readonly adminUrl: string;
}

/** Runs `meridian balance --config FILE` (a JSON file) as a process, as users do; resolves once it listens. */
export async function startBalanceCli(configFile: string, extra: string[] = []): Promise<RunningBalance> {
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { listen: string; admin: { listen: string } };
  const listening = (out: string): boolean => /"msg":"balancer (workers )?listening"/.test(out) && (!extra.includes('--workers') || out.includes('workers listening'));
  // Generous: on a loaded 2-core machine forking workers takes seconds.
  const cli = await startCli(['balance', '--config', configFile, ...extra], listening, 30_000);
  // The ports it logs, not the config's: a config may say port 0 (no freePort() race).
  const lines = cli.output().split('\n');
  // with --workers, the primary's line (it holds the admin listener), not a worker's
  const line = lines.find((l) => l.includes('"msg":"balancer workers listening"')) ?? lines.find((l) => l.includes('"msg":"balancer listening"'));
  const logged = JSON.parse(line!) as { listen?: { port: number }; port?: number; admin: { port: number } | null };
  const host = (listen: string): string => listen.slice(0, listen.lastIndexOf(':'));
  const port = logged.listen?.port ?? logged.port;
  return Object.assign(cli, { url: `http://${host(config.listen)}:${port}`, adminUrl: `http://${host(config.admin.listen)}:${logged.admin?.port}` });
}

/** The pids of `pid`'s child processes (the workers of `balance --workers N`). */
export function childPids(pid: number): number[] {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}
