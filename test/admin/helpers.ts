/**
 * Shared by the admin API tests (issue #5): a temp folder with a small zone and policy, the
 * real CLI started on free loopback ports (with the environment we choose), HTTP calls with
 * Node's fetch and DNS answers over real UDP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { udp } from '../support/dns-client.js';
import { cliPath, runCli, servingPortsWithApi, untilServing } from '../support/process.js';

export const RW_TOKEN = 'rw-admin-token-0123456789abcdef';
export const RO_TOKEN = 'ro-admin-token-0123456789abcdef';
export const ZONE = 'adm.test';
export const INITIAL_SERIAL = 100;

export const ZONE_TEXT = `$ORIGIN adm.test.
$TTL 300
@       3600 IN SOA  ns1 hostmaster ${INITIAL_SERIAL} 7200 3600 1209600 300
@       3600 IN NS   ns1
ns1          IN A    192.0.2.53
www          IN A    192.0.2.80
old          IN A    192.0.2.81
txt          IN TXT  "hello"
alias        IN CNAME www
`;

/**
 * No probes: every target counts as up until drained. fo: primary then secondary; lat: the
 * lowest latency (no table rows, so only samples from the API decide), else the first;
 * w: by weight (light has weight 0, so heavy always wins until the weights change).
 */
export const POLICY_TEXT = `targets:
  primary:   { region: one, ipv4: [198.51.100.1] }
  secondary: { region: two, ipv4: [198.51.100.2] }
  heavy:     { region: three, ipv4: [198.51.100.11], weight: 1 }
  light:     { region: four, ipv4: [198.51.100.12], weight: 0 }
names:
  fo:
    ttl: 5
    targets: [primary, secondary]
    policy:
      - failover:
          groups: [{ targets: [primary] }, { targets: [secondary] }]
  lat:
    ttl: 5
    targets: [primary, secondary]
    policy:
      - latency: {}
      - first: 1
  w:
    ttl: 5
    targets: [heavy, light]
    policy:
      - weighted: { mode: random }
`;

export interface Workspace {
  /** The temp folder: config file, zones/ and anything a test adds. */
  readonly root: string;
  readonly zones: string;
  readonly zoneFile: string;
  readonly policyFile: string;
  readonly config: string;
  remove(): void;
}

/** A temp folder with zones/adm.test.zone, zones/adm.test.policy.yaml and meridian.yaml. */
export function workspace(configYaml = 'health: { stateFile: null }\nzones: { watch: false }\n'): Workspace {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-admin-'));
  const zones = path.join(root, 'zones');
  fs.mkdirSync(zones);
  const zoneFile = path.join(zones, `${ZONE}.zone`);
  const policyFile = path.join(zones, `${ZONE}.policy.yaml`);
  fs.writeFileSync(zoneFile, ZONE_TEXT);
  fs.writeFileSync(policyFile, POLICY_TEXT);
  const config = path.join(root, 'meridian.yaml');
  fs.writeFileSync(config, configYaml);
  return { root, zones, zoneFile, policyFile, config, remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}

export interface Meridian {
  readonly dns: number;
  readonly api: number;
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for the process to be gone. */
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** The environment for a child: ours without any MERIDIAN_* variable, plus `env`. */
export function childEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MERIDIAN_')) out[k] = v;
  return { ...out, ...env };
}

/**
 * Starts `meridian serve --config <ws.config> --zones <ws.zones> --listen 127.0.0.1:0
 * --admin 127.0.0.1:0` and resolves once it logs "meridian is serving", with the ports it bound.
 */
export async function startMeridian(ws: Workspace, opts: { env?: Record<string, string>; config?: boolean; startTimeoutMs?: number; logLevel?: string } = {}): Promise<Meridian> {
  // Port 0 for both: the server binds what the kernel gives and says so in its "serving" line.
  // (A port found free beforehand could be taken by another test's socket before the bind.)
  const args = [
    cliPath,
    'serve',
    ...(opts.config === false ? [] : ['--config', ws.config]),
    '--zones',
    ws.zones,
    '--listen',
    '127.0.0.1:0',
    '--admin',
    '127.0.0.1:0',
    '--log-level',
    opts.logLevel ?? 'info',
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(opts.env), cwd: ws.root });
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const output = await untilServing(child, opts.startTimeoutMs);
  const { dns, api } = servingPortsWithApi(output());
  return {
    dns,
    api,
    child,
    output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs the CLI to completion with our environment rules (no inherited MERIDIAN_*). */
export function runMeridian(args: string[], env: Record<string, string> = {}, timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(args, timeoutMs, childEnv(env));
}

export interface Reply {
  readonly status: number;
  readonly etag: string | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly json: any;
  readonly text: string;
  readonly headers: Headers;
}

/** One HTTP call to the admin API; `token` null sends no Authorization header. */
export async function call(m: { api: number }, method: string, url: string, body?: unknown, token: string | null = RW_TOKEN, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`http://127.0.0.1:${m.api}${url}`, {
    method,
    headers: {
      ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = null;
  if (text && (res.headers.get('content-type') ?? '').includes('json')) json = JSON.parse(text);
  return { status: res.status, etag: res.headers.get('etag'), json, text, headers: res.headers };
}

/** The sorted A (or AAAA) addresses of a name over UDP; [] for NXDOMAIN/NODATA. */
export async function addresses(m: { dns: number }, name: string, type = 'A'): Promise<string[]> {
  return (await udp(m.dns, name, type)).msg.answers
    .filter((a) => a.type === type)
    .map((a) => String(a.data))
    .sort();
}

/** The strings of the TXT RRset at a name over UDP, sorted. */
export async function txt(m: { dns: number }, name: string): Promise<string[]> {
  const answers = (await udp(m.dns, name, 'TXT')).msg.answers.filter((a) => a.type === 'TXT');
  return answers.map((a) => (a.data as Buffer[]).map((b) => b.toString()).join('')).sort();
}

/** The SOA serial over UDP. */
export async function soaSerial(m: { dns: number }, zone = ZONE): Promise<number> {
  const soa = (await udp(m.dns, zone, 'SOA')).msg.answers.find((a) => a.type === 'SOA');
  if (!soa) throw new Error(`no SOA for ${zone}`);
  return soa.data.serial as number;
}

/** The RCODE of a UDP answer. */
export async function rcode(m: { dns: number }, name: string, type = 'A'): Promise<number> {
  const { raw } = await udp(m.dns, name, type);
  return raw[3]! & 0x0f;
}

/** Resolves when the server next logs a line with `text` (say, "zones reloaded" after a SIGHUP). */
export function nextLog(m: Meridian, text: string): Promise<void> {
  return new Promise((resolve) => {
    const onData = (d: Buffer): void => {
      if (d.toString().includes(text)) {
        m.child.stdout!.off('data', onData);
        resolve();
      }
    };
    m.child.stdout!.on('data', onData);
  });
}
