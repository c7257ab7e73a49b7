/**
 * Runs Knot DNS (Debian package `knot`) as a reference authoritative server: knotd in the
 * foreground on 127.0.0.1 and an ephemeral port, serving a given set of `<origin>.zone`
 * files from a config written into a fresh temp dir, with no DNSSEC, no journal and no
 * zone-file flushing, so the zone files are only read. knotd runs under a sh guardian that
 * stops it and removes the temp dir as soon as this process lets go of its stdin, so it
 * never outlives the caller. Used by the Knot comparison test and tools/compare-with-knot.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { configDaemonGuardian, daemonPid, startGuarded } from './guarded-daemon.js';

export const KNOTD_CANDIDATES = ['/usr/sbin/knotd', '/usr/local/sbin/knotd'];

/** The knotd binary: $KNOTD, a usual location, or `knotd` on PATH; null when none is there. */
export function knotdPath(): string | null {
  const fromEnv = process.env['KNOTD'];
  if (fromEnv) return fs.existsSync(fromEnv) ? fromEnv : null;
  for (const p of KNOTD_CANDIDATES) if (isExecutable(p)) return p;
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, 'knotd'))) return path.join(dir, 'knotd');
  }
  return null;
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Why Knot cannot be run here (a message for a skipped test), or null when it can. */
export function knotUnavailableReason(): string | null {
  const bin = knotdPath();
  if (bin === null) return 'knotd is not installed (apt-get install knot; or set KNOTD=/path/to/knotd)';
  const v = spawnSync(bin, ['-V'], { encoding: 'utf8', timeout: 5000 });
  if (v.error || v.status !== 0) return `${bin} -V failed: ${v.error?.message ?? v.stderr.trim()}`;
  return null;
}

/** knotd's version line, e.g. "knotd (Knot DNS), version 3.2.6"; null when not installed. */
export function knotVersion(): string | null {
  const bin = knotdPath();
  if (bin === null) return null;
  const v = spawnSync(bin, ['-V'], { encoding: 'utf8', timeout: 5000 });
  return v.status === 0 ? v.stdout.trim() : null;
}

/** A port free for both UDP and TCP on 127.0.0.1: bound on port 0, read, released. */
export async function freeLoopbackPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const udp = dgram.createSocket('udp4');
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve(udp.address().port));
    });
    const tcpOk = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (tcpOk) return port;
  }
  throw new Error('no port free for both UDP and TCP on 127.0.0.1');
}

export interface KnotZone {
  /** Zone apex, absolute, e.g. "example.com." */
  readonly origin: string;
  /** Absolute path of the master file. */
  readonly file: string;
}

export interface KnotOptions {
  /** EDNS UDP payload Knot advertises and fills up to; meridian's default is 1232. */
  readonly udpMaxPayload?: number;
  /** Answer version.bind/version.server (CH TXT); "" (the default here) turns it off, like meridian's default. */
  readonly version?: string;
  /** Answer id.server/hostname.bind; "" (default) turns it off. */
  readonly identity?: string;
  /** How long to wait for knotd to answer a SOA query for every zone. */
  readonly startTimeoutMs?: number;
  /** Turn on Knot's DNS cookies module (RFC 7873/9018) with this secret (32 hex digits). */
  readonly cookieSecret?: string;
  /** Knot's UDP threads (`udp-workers`); 1 by default. */
  readonly udpWorkers?: number;
  /**
   * Run Knot as a secondary of the primary on 127.0.0.1 at this port: it takes each zone by
   * zone transfer (the zone's `file` need not exist) and takes NOTIFY from 127.0.0.1.
   */
  readonly primaryPort?: number;
  /** Listen on this port (one picked beforehand with freeLoopbackPort) instead of a fresh one. */
  readonly port?: number;
  /**
   * Let these addresses transfer every zone, as meridian's `dns.transfer.allow`; with
   * `keys`, only signed with one of them (hmac-sha256, base64 secrets), as `dns.transfer.keys`.
   */
  readonly transferAcl?: { readonly allow: readonly string[]; readonly keys?: readonly { readonly name: string; readonly secret: string }[] };
  /**
   * With `primaryPort`: the zone of this name (one of `zones`) is a catalog zone (RFC 9432)
   * Knot interprets (`catalog-role: interpret`): each member it lists is served as a
   * secondary of the same primary, with no zone: entry of its own.
   */
  readonly catalog?: string;
  /**
   * Sign the zones with a combined key of this algorithm (Knot's names: ecdsap256sha256,
   * ed25519): `signing` with Knot's automatic signing (`dnssec-signing: on`, signed at load,
   * NSEC chain), `onlinesign` with mod-onlinesign (each answer signed as it is sent). Knot
   * refuses the two together ("incompatible with automatic signing").
   */
  readonly dnssec?: {
    readonly mode: 'signing' | 'onlinesign';
    readonly algorithm: string;
    /**
     * Sign with the keys imported into Knot's key store (`keymgr import-bind`: a CSK, or a
     * KSK and a ZSK) and never make or roll any (`manual: on`).
     */
    readonly manual?: boolean;
  };
  /**
   * Listen on these "address@port" endpoints instead of 127.0.0.1 at `port` (in a network
   * namespace the test made; startKnot itself only waits on 127.0.0.1).
   */
  readonly listen?: readonly string[];
}

export interface RunningKnot {
  readonly port: number;
  /** knotd's process id. */
  readonly pid: number;
  /** The temp dir holding knot.conf, rundir and storage (removed by stop()). */
  readonly dir: string;
  /** What knotd logged so far (stderr/stdout), for error messages. */
  output(): string;
  /** Kills knotd (SIGTERM, then SIGKILL) and removes the temp dir; safe to call twice. */
  stop(): Promise<void>;
}

/** "dir/example.com.zone" → { origin: "example.com.", file }; the file name gives the origin, as for meridian. */
export function zonesInDirectory(dir: string): KnotZone[] {
  const abs = path.resolve(dir);
  return fs
    .readdirSync(abs)
    .filter((f) => f.endsWith('.zone') && fs.statSync(path.join(abs, f)).isFile())
    .sort()
    .map((f) => {
      const base = f.slice(0, -'.zone'.length);
      const origin = base === 'root' || base === '.' ? '.' : base.endsWith('.') ? base : base + '.';
      return { origin, file: path.join(abs, f) };
    });
}

const yamlString = (s: string): string => JSON.stringify(s);

/** The knot.conf text for `zones`, with all state kept under `dir`. */
export function knotConfig(dir: string, port: number, zones: readonly KnotZone[], opts: KnotOptions = {}): string {
  const lines = [
    'server:',
    `    rundir: ${yamlString(path.join(dir, 'run'))}`,
    `    pidfile: ${yamlString(path.join(dir, 'run', 'knot.pid'))}`,
    `    listen: ${opts.listen === undefined ? `127.0.0.1@${port}` : `[${opts.listen.join(', ')}]`}`,
    `    udp-max-payload: ${opts.udpMaxPayload ?? 1232}`,
    // An empty value turns the CHAOS answers and NSID off (knot.conf(5)); meridian refuses them by default.
    `    version: ${yamlString(opts.version ?? '')}`,
    `    identity: ${yamlString(opts.identity ?? '')}`,
    '    nsid: ""',
    `    udp-workers: ${opts.udpWorkers ?? 1}`,
    '    tcp-workers: 1',
    '    background-workers: 1',
    '',
    'database:',
    `    storage: ${yamlString(path.join(dir, 'db'))}`,
    '',
    'control:',
    `    listen: ${yamlString(path.join(dir, 'run', 'knot.sock'))}`,
    '',
    'log:',
    '  - target: stderr',
    '    any: info',
    '',
    ...(opts.cookieSecret === undefined ? [] : ['mod-cookies:', '  - id: cookies', `    secret: 0x${opts.cookieSecret}`, '']),
    ...(opts.primaryPort === undefined
      ? []
      : ['remote:', '  - id: primary', `    address: 127.0.0.1@${opts.primaryPort}`, '', 'acl:', '  - id: from-primary', '    address: 127.0.0.1', '    action: notify', '']),
    ...transferAclLines(opts.transferAcl),
    ...(opts.dnssec === undefined ? [] : ['policy:', '  - id: csk', `    algorithm: ${opts.dnssec.algorithm}`, '    single-type-signing: on', ...(opts.dnssec.manual ? ['    manual: on'] : []), '']),
    ...(opts.dnssec?.mode === 'onlinesign' ? ['mod-onlinesign:', '  - id: online', '    policy: csk', ''] : []),
    'template:',
    '  - id: default',
    `    storage: ${yamlString(path.join(dir, 'db'))}`,
    ...(opts.cookieSecret === undefined ? [] : ['    global-module: mod-cookies/cookies']),
    // Read the zone files as they are: never write them back, keep no journal, no signing
    // unless asked (then in memory only).
    '    zonefile-sync: -1',
    '    zonefile-load: whole',
    '    journal-content: none',
    ...(opts.dnssec?.mode === 'signing' ? ['    dnssec-signing: on', '    dnssec-policy: csk'] : ['    dnssec-signing: off']),
    ...(opts.dnssec?.mode === 'onlinesign' ? ['    module: mod-onlinesign/online'] : []),
    '    semantic-checks: off',
    ...(opts.catalog === undefined || opts.primaryPort === undefined
      ? []
      : [
          '  - id: catalog-member',
          `    storage: ${yamlString(path.join(dir, 'db'))}`,
          '    master: primary',
          '    acl: from-primary',
          '    zonefile-sync: -1',
          '    journal-content: none',
          '    semantic-checks: off',
        ]),
    '',
    'zone:',
  ];
  for (const z of zones) {
    lines.push(`  - domain: ${yamlString(z.origin)}`, `    file: ${yamlString(z.file)}`);
    if (opts.primaryPort !== undefined) {
      lines.push('    master: primary', '    acl: from-primary');
      if (opts.catalog?.toLowerCase() === z.origin.toLowerCase()) lines.push('    catalog-role: interpret', '    catalog-template: catalog-member');
    } else if (opts.transferAcl !== undefined) lines.push('    acl: transfer-out');
  }
  return lines.join('\n') + '\n';
}

/** Knot's key: and acl: sections for `KnotOptions.transferAcl`. */
function transferAclLines(acl: KnotOptions['transferAcl']): string[] {
  if (acl === undefined) return [];
  const keys = acl.keys ?? [];
  return [
    ...(keys.length === 0 ? [] : ['key:', ...keys.flatMap((k) => [`  - id: ${yamlString(k.name)}`, '    algorithm: hmac-sha256', `    secret: ${yamlString(k.secret)}`])]),
    'acl:',
    '  - id: transfer-out',
    `    address: [${acl.allow.map(yamlString).join(', ')}]`,
    ...(keys.length === 0 ? [] : [`    key: [${keys.map((k) => yamlString(k.name)).join(', ')}]`]),
    '    action: transfer',
    '',
  ];
}

/** Starts knotd for `zones` (or every `<origin>.zone` in a folder) and waits until every zone answers its SOA. */
export async function startKnot(zones: readonly KnotZone[] | string, opts: KnotOptions = {}): Promise<RunningKnot> {
  const bin = knotdPath();
  if (bin === null) throw new Error(knotUnavailableReason() ?? 'knotd not found');
  const list = typeof zones === 'string' ? zonesInDirectory(zones) : zones;
  if (list.length === 0) throw new Error('startKnot: no zones to serve');
  // The port is free when picked but could be taken before knotd binds it; knotd then exits
  // at once ("cannot bind address"), and another port is tried.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startKnotOnce(bin, list, opts);
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= 3) throw err;
    }
  }
}

class PortTakenError extends Error {}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function startKnotOnce(bin: string, list: readonly KnotZone[], opts: KnotOptions): Promise<RunningKnot> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-knot-'));
  fs.mkdirSync(path.join(dir, 'run'));
  fs.mkdirSync(path.join(dir, 'db'));
  let port: number;
  try {
    port = opts.port ?? (await freeLoopbackPort());
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const confFile = path.join(dir, 'knot.conf');
  fs.writeFileSync(confFile, knotConfig(dir, port, list, opts));

  // knotd runs under a small sh guardian that holds our end of a pipe on its stdin: when that
  // pipe closes (stop(), or this process dying in any way, even by SIGKILL) it stops knotd
  // and removes the temp dir, so no knotd outlives the test. It exits when knotd does.
  const guardian = configDaemonGuardian('knotd');
  const knotdPid = (out: string): number | null => daemonPid(out, 'knotd');
  const daemon = startGuarded(guardian, ['knotd-guardian', bin, confFile, dir], dir, (out) => {
    const k = knotdPid(out);
    if (k !== null) killQuietly(k, 'SIGKILL');
  });
  try {
    // A zone Knot cannot load is logged as "error: [zone.] ..."; stop waiting for it then.
    const zoneError = (): string | null => /^.*error: \[[^\]]+\].*$/m.exec(daemon.output())?.[0] ?? null;
    // A catalog Knot interprets is not answered as a zone: its members are the test's to wait for.
    const answered = list.filter((z) => z.origin.toLowerCase() !== opts.catalog?.toLowerCase());
    await waitForZones(port, answered, opts.startTimeoutMs ?? 15_000, daemon.exited, zoneError);
  } catch (err) {
    await daemon.stop();
    if (daemon.output().includes('cannot bind address')) throw new PortTakenError(`port ${port} was taken before knotd bound it`);
    throw new Error(`knotd did not start: ${(err as Error).message}\n--- knotd output ---\n${daemon.output()}`, { cause: err });
  }
  return { port, pid: knotdPid(daemon.output()) ?? daemon.pid, dir, output: daemon.output, stop: () => daemon.stop() };
}

/** Polls each zone's SOA over UDP until knotd answers it NOERROR with AA (the zone is loaded). */
async function waitForZones(port: number, zones: readonly KnotZone[], timeoutMs: number, exited: () => boolean, zoneError: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(zones.map((z) => z.origin));
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    let id = 1;
    while (pending.size > 0) {
      if (exited()) throw new Error('knotd exited');
      const failed = zoneError();
      if (failed !== null) throw new Error(`a zone did not load: ${failed}`);
      if (Date.now() > deadline) throw new Error(`zones not loaded after ${timeoutMs} ms: ${[...pending].join(' ')}`);
      for (const origin of pending) {
        const qid = id++ & 0xffff;
        const answer = await ask(socket, port, soaQuery(qid, origin), 200);
        if (answer && answer.length >= 12 && answer.readUInt16BE(0) === qid && (answer[3]! & 0x0f) === 0 && (answer[2]! & 0x04) !== 0 && answer.readUInt16BE(6) > 0) {
          pending.delete(origin);
        }
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    socket.close();
  }
}

function ask(socket: dgram.Socket, port: number, query: Buffer, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const onMessage = (msg: Buffer): void => {
      if (msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0)) finish(msg);
    };
    const finish = (msg: Buffer | null): void => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(msg);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('message', onMessage);
    socket.send(query, port, '127.0.0.1');
  });
}

/** A plain SOA query (RD clear), written by hand so this helper needs nothing else. */
function soaQuery(id: number, origin: string): Buffer {
  const labels = origin === '.' ? [] : origin.replace(/\.$/, '').split('.');
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l, 'latin1')]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(6, 0); // SOA
  tail.writeUInt16BE(1, 2); // IN
  return Buffer.concat([header, qname, tail]);
}

/** knotc beside knotd, or on PATH. */
export function knotcPath(): string | null {
  const d = knotdPath();
  if (d !== null && isExecutable(path.join(path.dirname(d), 'knotc'))) return path.join(path.dirname(d), 'knotc');
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, 'knotc'))) return path.join(dir, 'knotc');
  }
  return null;
}

export interface KnotRecord {
  /** The zone, as Knot names it ("rules.test."). */
  readonly zone: string;
  readonly owner: string;
  readonly ttl: number;
  readonly type: string;
  readonly rdata: string;
}

/** Every record of every zone as the running knotd holds it (`knotc zone-read --`, over its control socket). */
export async function readKnotZones(knot: RunningKnot): Promise<KnotRecord[]> {
  const bin = knotcPath();
  if (bin === null) throw new Error('knotc is not installed');
  const socketPath = path.join(knot.dir, 'run', 'knot.sock');
  const text = await new Promise<string>((resolve, reject) => {
    const child = spawn(bin, ['-s', socketPath, 'zone-read', '--'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`knotc zone-read failed (${code}): ${err.trim()}`))));
  });
  const records: KnotRecord[] = [];
  for (const line of text.split('\n')) {
    const m = /^\[([^\]]+)\]\s+(\S+)\s+(\d+)\s+(\S+)\s*(.*)$/.exec(line.trim());
    if (m) records.push({ zone: m[1]!, owner: m[2]!, ttl: Number(m[3]), type: m[4]!, rdata: m[5]! });
  }
  return records;
}
