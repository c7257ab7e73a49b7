/**
 * meridian nodes in cluster mode (issue #13) for the cluster tests and tools/bench-convergence:
 * each a real `meridian serve --cluster URLS` child process on loopback port 0 (DNS and admin
 * API), with its own temp folder of zone files, stopped and removed by stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { udp } from './dns-client.js';
import { cliPath, servingPortsWithApi, untilServing } from './process.js';

export const CLUSTER_TOKEN = 'cluster-test-token-0123456789';

/** A small zone and policy (no probes: every target is up until drained). */
export const CLUSTER_ZONE = 'cl.test';
export const CLUSTER_ZONE_TEXT = `$ORIGIN cl.test.
$TTL 300
@    3600 IN SOA ns1 hostmaster 100 7200 3600 1209600 300
@    3600 IN NS  ns1
ns1       IN A   192.0.2.53
www       IN A   192.0.2.80
`;
export const CLUSTER_POLICY_TEXT = `targets:
  primary:   { region: one, ipv4: [198.51.100.1] }
  secondary: { region: two, ipv4: [198.51.100.2] }
names:
  fo:
    ttl: 5
    targets: [primary, secondary]
    policy:
      - failover:
          groups: [{ targets: [primary] }, { targets: [secondary] }]
`;

export interface ClusterNode {
  readonly name: string;
  readonly dns: number;
  readonly api: number;
  readonly root: string;
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM, wait for the exit, remove the folder. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Starts one node with `zones` (file name → text) and resolves once it serves (before it is in step with NATS). */
export async function startClusterNode(opts: { name: string; servers: string; zones: Record<string, string>; config?: string }): Promise<ClusterNode> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `meridian-cluster-${opts.name}-`));
  const zonesDir = path.join(root, 'zones');
  fs.mkdirSync(zonesDir);
  for (const [file, text] of Object.entries(opts.zones)) fs.writeFileSync(path.join(zonesDir, file), text);
  const config = path.join(root, 'meridian.yaml');
  fs.writeFileSync(
    config,
    [
      'health: { stateFile: null }',
      'zones: { watch: false }',
      `admin: { tokens: [{ name: test, token: ${CLUSTER_TOKEN}, access: write }], audit: { file: null } }`,
      opts.config ?? `cluster: { node: ${opts.name} }`,
      '',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MERIDIAN_')) env[k] = v;
  const args = [cliPath, 'serve', '--config', config, '--zones', zonesDir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--cluster', opts.servers, '--log-level', 'info'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: root });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output: () => string;
  try {
    output = await untilServing(child, 20_000);
  } catch (err) {
    fs.rmSync(root, { recursive: true, force: true });
    throw err;
  }
  const { dns, api } = servingPortsWithApi(output());
  return {
    name: opts.name,
    dns,
    api,
    root,
    child,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
      running.delete(child);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface ApiReply {
  readonly status: number;
  readonly etag: string | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly json: any;
  readonly text: string;
}

/** One admin API call with the write token. */
export async function api(node: { api: number }, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiReply> {
  const res = await fetch(`http://127.0.0.1:${node.api}${url}`, {
    method,
    headers: { authorization: `Bearer ${CLUSTER_TOKEN}`, ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, etag: res.headers.get('etag'), json: (res.headers.get('content-type') ?? '').includes('json') && text ? JSON.parse(text) : null, text };
}

/** The node's cluster block of /v1/status. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function clusterStatus(node: { api: number }): Promise<any> {
  return (await api(node, 'GET', '/v1/status')).json.cluster;
}

/** Sorted A addresses of `name` over UDP ([] for NXDOMAIN/NODATA). */
export async function answerA(node: { dns: number }, name: string): Promise<string[]> {
  return (await udp(node.dns, name, 'A')).msg.answers
    .filter((a) => a.type === 'A')
    .map((a) => String(a.data))
    .sort();
}

/** Polls `probe` every 20 ms until it returns true; false after `ms`. */
export async function eventually(probe: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await probe().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}
