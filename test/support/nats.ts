/**
 * nats-server (Debian's, 2.9) on loopback for the cluster tests: one server, or a 3-server
 * JetStream cluster. Each binds port 0 (`listen: 127.0.0.1:-1`) and says where it went in its
 * ports file (--ports_file_dir), so no port is picked beforehand and raced for. Each runs under
 * the sh guardian of guarded-daemon.ts with its own JetStream store in a temp folder, so none
 * outlives the test and the folder goes with it.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { configDaemonGuardian, daemonPid, startGuarded, type GuardedDaemon } from './guarded-daemon.js';

export const NATS_SERVER_CANDIDATES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

/** The nats-server binary: $NATS_SERVER, a usual location; null when none is there. */
export function natsServerPath(): string | null {
  const fromEnv = process.env['NATS_SERVER'];
  if (fromEnv) return fromEnv;
  return NATS_SERVER_CANDIDATES.find((p) => fs.existsSync(p)) ?? null;
}

export interface NatsServer {
  readonly name: string;
  /** nats://127.0.0.1:PORT, for clients. */
  readonly url: string;
  /** nats://127.0.0.1:PORT of its route listener; null for a server started alone. */
  readonly routeUrl: string | null;
  readonly output: () => string;
  /** SIGKILLs nats-server itself (a crash: no clean shutdown); stop() still cleans up. */
  kill(): void;
  /** Rewrites the config with these extra lines instead of the first ones and has nats-server reload it (SIGHUP). */
  reload(extra: readonly string[]): void;
  stop(): Promise<void>;
}

const GUARDIAN = configDaemonGuardian('nats');
const natsPid = (out: string): number | null => daemonPid(out, 'nats');

/**
 * One server. `cluster` gives it a route listener (port 0) in cluster `c` and these routes
 * to solicit; JetStream in cluster mode refuses to start without a configured route, so the
 * first server of a cluster is given one nobody answers (port 1) and the others solicit it.
 */
export async function startNats(
  opts: { name?: string; cluster?: { routes: readonly string[] }; maxPayload?: number; /** More config lines (authorization, say). */ extra?: readonly string[] } = {},
): Promise<NatsServer> {
  const bin = natsServerPath();
  if (bin === null) throw new Error('nats-server is not installed (apt-get install nats-server)');
  const name = opts.name ?? 'n1';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `meridian-nats-${name}-`));
  const confOf = (extra: readonly string[]): string =>
    [
      `server_name: ${JSON.stringify(name)}`,
      'listen: "127.0.0.1:-1"',
      ...(opts.maxPayload !== undefined ? [`max_payload: ${opts.maxPayload}`] : []),
      `jetstream { store_dir: ${JSON.stringify(path.join(dir, 'js'))} }`,
      ...(opts.cluster ? [`cluster { name: "c", listen: "127.0.0.1:-1", routes: [${opts.cluster.routes.map((r) => JSON.stringify(r)).join(', ')}] }`] : []),
      ...extra,
      // --ports_file_dir is given through the config: the guardian passes -c only.
      `ports_file_dir: ${JSON.stringify(path.join(dir, 'ports'))}`,
      '',
    ].join('\n');
  const confFile = path.join(dir, 'nats.conf');
  fs.writeFileSync(confFile, confOf(opts.extra ?? []));
  fs.mkdirSync(path.join(dir, 'ports'));
  const daemon: GuardedDaemon = startGuarded(GUARDIAN, ['nats-guardian', bin, confFile, dir], dir, (out) => {
    const pid = natsPid(out);
    if (pid !== null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  });
  const ports = await waitFor(
    () => {
      if (daemon.exited()) throw new Error(`nats-server ${name} exited:\n${daemon.output()}`);
      const files = fs.existsSync(path.join(dir, 'ports')) ? fs.readdirSync(path.join(dir, 'ports')).filter((f) => f.endsWith('.ports')) : [];
      if (files.length === 0) return null;
      try {
        return JSON.parse(fs.readFileSync(path.join(dir, 'ports', files[0]!), 'utf8')) as { nats: string[]; cluster?: string[] };
      } catch {
        return null; // being written
      }
    },
    10_000,
    `nats-server ${name} to write its ports file`,
  ).catch(async (err: unknown) => {
    await daemon.stop();
    throw err;
  });
  return {
    name,
    url: ports.nats[0]!,
    routeUrl: ports.cluster?.[0] ?? null,
    output: daemon.output,
    kill() {
      const pid = natsPid(daemon.output());
      if (pid !== null) process.kill(pid, 'SIGKILL');
    },
    reload(extra) {
      fs.writeFileSync(confFile, confOf(extra));
      const pid = natsPid(daemon.output());
      if (pid !== null) process.kill(pid, 'SIGHUP');
    },
    stop: () => daemon.stop(),
  };
}

export interface NatsCluster {
  readonly servers: readonly NatsServer[];
  /** Every server's client URL, comma-separated, as `--cluster` takes them. */
  readonly urls: string;
  stop(): Promise<void>;
}

/** Three servers in one JetStream cluster, returned once it has elected a metadata leader. */
export async function startNatsCluster(): Promise<NatsCluster> {
  const servers: NatsServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    servers.push(await startNats({ name: 'n1', cluster: { routes: ['nats://127.0.0.1:1'] } }));
    const seed = servers[0]!.routeUrl!;
    servers.push(await startNats({ name: 'n2', cluster: { routes: [seed] } }));
    servers.push(await startNats({ name: 'n3', cluster: { routes: [seed] } }));
    // Each routed to the two others, and a metadata leader elected (a server that joins after
    // the election does not log it).
    const routed = (s: NatsServer): boolean => (s.output().match(/Route connection created/g) ?? []).length >= 2;
    await waitFor(() => (servers.every(routed) && servers.some((s) => s.output().includes('metadata leader')) ? true : null), 30_000, 'the NATS cluster to route and elect a JetStream leader');
  } catch (err) {
    const logs = servers.map((s) => `--- ${s.name}\n${s.output().split('\n').slice(-15).join('\n')}`).join('\n');
    await stop();
    throw new Error(`${(err as Error).message}\n${logs}`, { cause: err });
  }
  return { servers, urls: servers.map((s) => s.url).join(','), stop };
}

/**
 * A TCP relay on 127.0.0.1 port 0 to `target`, to cut one client off a server while the
 * others keep it: cut() closes every relayed connection and refuses new ones (accepts and
 * closes, keeping the port), restore() relays again.
 */
export interface CuttableRelay {
  readonly url: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startRelay(targetUrl: string): Promise<CuttableRelay> {
  const target = new URL(targetUrl);
  const sockets = new Set<net.Socket>();
  let open = true;
  const server = net.createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `nats://127.0.0.1:${port}`,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      open = true;
    },
    async close() {
      open = false;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `probe` every 50 ms until it returns non-null (or throws), for at most `ms`. */
export async function waitFor<T>(probe: () => T | null | Promise<T | null>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
