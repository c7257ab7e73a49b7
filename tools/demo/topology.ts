/**
 * The demo topology (issue #8), all on loopback: three regions at 127.0.1.1, 127.0.2.1 and
 * 127.0.3.1, each a `meridian balance` in front of two backends, and `meridian serve`
 * answering for demo.example with a geo + failover policy, probing each region's /healthz,
 * with its admin API. Every part is a real process started from the built CLI.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/cli/node-flags.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = path.join(root, 'dist/src/cli/main.js');
const backendScript = path.join(root, 'dist/tools/demo/backend.js');

export const REGIONS = [
  { name: 'us-east', address: '127.0.1.1', continents: ['NA', 'SA'], fallback: ['eu-west', 'ap-southeast'] },
  { name: 'eu-west', address: '127.0.2.1', continents: ['EU', 'AF'], fallback: ['us-east', 'ap-southeast'] },
  { name: 'ap-southeast', address: '127.0.3.1', continents: ['AS', 'OC'], fallback: ['us-east', 'eu-west'] },
] as const;

export interface DemoPorts {
  /** DNS (UDP and TCP) on 127.0.0.1. */
  readonly dns: number;
  /** meridian's admin API on 127.0.0.1. */
  readonly admin: number;
  /** Each region's balancer traffic port; its admin listener is the next port. */
  readonly balancer: number;
  /** The two backends of a region listen on this port and the next. */
  readonly backend: number;
}

export const DEFAULT_PORTS: DemoPorts = { dns: 5300, admin: 5380, balancer: 8080, backend: 9001 };

export interface Demo {
  readonly dir: string;
  readonly ports: DemoPorts;
  readonly token: string;
  /** Backend processes by region. */
  readonly backends: ReadonlyMap<string, ChildProcess[]>;
  /** Kills a region's backends (as `pkill` would). */
  killBackends(region: string): Promise<void>;
  /** Starts a region's backends again. */
  startBackends(region: string): Promise<void>;
  stop(): Promise<void>;
}

export function zoneText(): string {
  return `; demo.example: the zone of the demo topology (tools/demo).
$ORIGIN demo.example.
$TTL 300
@     IN SOA ns1 hostmaster 2026112201 7200 3600 1209600 60
      IN NS  ns1
ns1   IN A   127.0.0.1
; www is steered by demo.example.policy.yaml; its TXT comes from here.
www   IN TXT "steered over three regions"
shop  IN CNAME www
`;
}

export function policyText(ports: DemoPorts): string {
  const targets = REGIONS.map((r) => `  ${r.name}:\n    region: ${r.name}\n    ipv4: [${r.address}]\n    probe: region\n`).join('');
  const rules = REGIONS.map(
    (r) =>
      `            - continents: [${r.continents.join(', ')}]\n              targets: [${[r.name, ...r.fallback].join(', ')}]\n              chain:\n                - failover: { groups: [${[r.name, ...r.fallback].map((t) => `{ targets: [${t}] }`).join(', ')}] }\n`,
  ).join('');
  return `# Steering for demo.example: each continent to its region, failing over in a fixed order.
probes:
  region:
    type: balancer             # the regional balancer's /healthz
    port: ${ports.balancer + 1}
    interval: 1
    timeout: 500
    fall: 2
    rise: 2
    jitter: 0
targets:
${targets}names:
  www:
    ttl: 5
    policy:
      - health: {}
      - geo:
          rules:
${rules}          default:
            targets: [us-east, eu-west, ap-southeast]
            chain:
              - failover: { groups: [{ targets: [us-east] }, { targets: [eu-west] }, { targets: [ap-southeast] }] }
`;
}

function balancerConfig(region: (typeof REGIONS)[number], ports: DemoPorts): string {
  return JSON.stringify(
    {
      listen: `${region.address}:${ports.balancer}`,
      admin: { listen: `${region.address}:${ports.balancer + 1}` },
      pools: {
        default: {
          algorithm: 'least-connections',
          healthCheck: { path: '/healthz', intervalMs: 500, timeoutMs: 300, rise: 1, fall: 2 },
          backends: [0, 1].map((i) => ({ id: `${region.name}-${i + 1}`, address: `${region.address}:${ports.backend + i}` })),
        },
      },
    },
    null,
    2,
  );
}

/** Resolves when `child` prints `marker` (or sends an IPC message), rejects if it exits first. */
function started(child: ChildProcess, marker: string | null, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${out}`)), 20_000);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    if (marker === null) child.once('message', done);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (marker !== null && out.includes(marker)) done();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${out}`));
    });
  });
}

export async function startDemo(ports: DemoPorts = DEFAULT_PORTS, options: { logs?: boolean } = {}): Promise<Demo> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-demo-'));
  const zones = path.join(dir, 'zones');
  fs.mkdirSync(zones);
  fs.writeFileSync(path.join(zones, 'demo.example.zone'), zoneText());
  fs.writeFileSync(path.join(zones, 'demo.example.policy.yaml'), policyText(ports));
  const token = 'demo-token-not-a-secret';
  fs.writeFileSync(
    path.join(dir, 'meridian.yaml'),
    `dns:\n  listen: ["127.0.0.1:${ports.dns}"]\nzones:\n  directory: zones\nadmin:\n  listen: 127.0.0.1:${ports.admin}\n  tokens: [{ name: demo, token: ${token}, access: write }]\n  audit: { file: ${JSON.stringify(path.join(dir, 'audit.log'))} }\nhealth:\n  stateFile: null\n  startupWaitMs: 3000\n`,
  );
  const children: ChildProcess[] = [];
  const backends = new Map<string, ChildProcess[]>();
  const stdio = options.logs === true ? (['ignore', 'inherit', 'inherit', 'ipc'] as const) : (['ignore', 'pipe', 'pipe', 'ipc'] as const);

  const startBackends = async (region: string): Promise<void> => {
    const r = REGIONS.find((x) => x.name === region)!;
    const procs = [0, 1].map((i) => fork(backendScript, [r.name, String(i + 1), `${r.address}:${ports.backend + i}`], { stdio: [...stdio] }));
    backends.set(region, procs);
    await Promise.all(procs.map((p, i) => started(p, null, `backend ${region} ${i + 1}`)));
  };
  const stopAll = async (): Promise<void> => {
    const all = [...children, ...[...backends.values()].flat()].filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(
      all.map(
        (c) =>
          new Promise<void>((resolve) => {
            const force = setTimeout(() => c.kill('SIGKILL'), 5000);
            c.once('exit', () => {
              clearTimeout(force);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (const r of REGIONS) await startBackends(r.name);
    await Promise.all(
      REGIONS.map((r) => {
        const file = path.join(dir, `${r.name}.balancer.json`);
        fs.writeFileSync(file, balancerConfig(r, ports));
        const child = spawn(process.execPath, [cli, 'balance', '--config', file, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(child);
        if (options.logs === true) child.stdout.pipe(process.stdout);
        return started(child, '"msg":"balancer listening"', `balancer ${r.name}`);
      }),
    );
    const server = spawn(process.execPath, [...NODE_FLAGS, cli, 'serve', '--config', path.join(dir, 'meridian.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(server);
    if (options.logs === true) server.stdout.pipe(process.stdout);
    await started(server, 'meridian is serving', 'meridian serve');
  } catch (err) {
    await stopAll();
    throw err;
  }

  return {
    dir,
    ports,
    token,
    backends,
    async killBackends(region) {
      await Promise.all((backends.get(region) ?? []).filter((p) => p.exitCode === null && p.signalCode === null).map((p) => new Promise((r) => (p.once('exit', r), p.kill('SIGKILL')))));
    },
    startBackends,
    stop: stopAll,
  };
}
