/**
 * An offline DNS world for Zonemaster (issue #16), in a network namespace the test makes: a
 * root server and a `test.` TLD server (Knot, unsigned), both on loopback addresses of the
 * namespace, the TLD delegating the zones under test, with their DS records, to two more
 * addresses where meridian or Knot serves them on port 53. zonemaster-cli runs inside the
 * namespace with the lab's root as its only hint, so it needs no internet.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findBinary } from './unbound.js';
import { knotConfig, knotdPath, type KnotOptions, type KnotZone } from '../../support/knot.js';
import { createNetNs, netnsUnavailable, type NetNs } from '../../support/netns.js';

/** The lab's addresses: documentation prefixes, so nothing real is ever shadowed. */
export const LAB = { root: '192.0.2.1', tld: '192.0.2.2', ns1: '198.51.100.53', ns2: '203.0.113.53' } as const;

/**
 * Why the Zonemaster test cannot run here, or false. A missing Debian tool fails it instead
 * under CI=true or MERIDIAN_REQUIRE_ZONEMASTER=1 (.ci/run installs them), as
 * MERIDIAN_REQUIRE_NATIVE does for the native UDP layer; no root (no namespaces) still skips.
 */
export function zonemasterLabSkip(): string | false {
  const missing = [
    findBinary('zonemaster-cli') === null ? 'zonemaster-cli (Debian package zonemaster-cli)' : null,
    knotdPath() === null ? 'knotd (Debian package knot)' : null,
    findBinary('keymgr') === null ? 'keymgr (Debian package knot)' : null,
    findBinary('kdig') === null ? 'kdig (Debian package knot-dnsutils)' : null,
  ].filter((m) => m !== null);
  if (missing.length > 0) {
    const reason = `not installed: ${missing.join(', ')}`;
    if (process.env['CI'] === 'true' || process.env['MERIDIAN_REQUIRE_ZONEMASTER'] === '1') throw new Error(`the Zonemaster test is required here (CI): ${reason}`);
    return reason;
  }
  return netnsUnavailable() ?? false;
}

/** A daemon running inside the lab's namespace. */
export interface LabDaemon {
  output(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

/** Wraps a child started with ns.spawn: collects its output; stop() is SIGTERM, then SIGKILL after 3 s. */
export function labDaemon(child: ChildProcess): LabDaemon {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const exit = new Promise<void>((resolve) => (gone() ? resolve() : child.once('exit', () => resolve())));
  return {
    output: () => out,
    exited: gone,
    stop: async () => {
      if (gone()) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exit;
      clearTimeout(killer);
    },
  };
}

/** `kdig` inside the namespace, short output; "" when no answer. */
export async function labDig(ns: NetNs, server: string, name: string, type: string, extra: string[] = []): Promise<string> {
  const r = await ns.exec('kdig', [`@${server}`, '+norec', '+short', '+time=1', '+retry=0', ...extra, name, type]);
  return r.code === 0 ? r.stdout.trim() : '';
}

/** Polls until `server` answers `name` `type` (+dnssec +short: an RRSIG shows as "<type> <alg> …") with something matching `ready`; throws with the daemon's output otherwise. */
export async function waitForAnswer(ns: NetNs, server: string, name: string, type: string, ready: RegExp, daemon: Pick<LabDaemon, 'output' | 'exited'>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await labDig(ns, server, name, type, ['+dnssec']);
    if (ready.test(last)) return;
    if (daemon.exited() || Date.now() > deadline) throw new Error(`${server} did not answer ${name} ${type} as ${ready} (last: ${JSON.stringify(last)})\n${daemon.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts knotd in `ns` for `zones`, state and config under `dir` (made here), listening on
 * `addresses` port 53; with `keys`, each zone's BIND key files are imported into its key
 * store first (the same keys meridian signs with). Resolves once every zone answers its SOA
 * (and, when signed, its DNSKEY) on the first address.
 */
export async function startKnotInNs(
  ns: NetNs,
  dir: string,
  addresses: readonly string[],
  zones: readonly KnotZone[],
  opts: KnotOptions & { readonly keys?: Readonly<Record<string, readonly string[]>> } = {},
): Promise<LabDaemon> {
  for (const sub of ['run', 'db']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  const conf = path.join(dir, 'knot.conf');
  fs.writeFileSync(conf, knotConfig(dir, 53, zones, { ...opts, listen: addresses.map((a) => `${a}@53`) }));
  for (const [zone, privateFiles] of Object.entries(opts.keys ?? {})) {
    for (const file of privateFiles) {
      keymgr(conf, zone, 'import-bind', file);
      // A key with the SEP flag is imported as a KSK only; without a ZSK beside it, it is the CSK.
      const tag = /\+(\d+)\.private$/.exec(file)?.[1];
      if (privateFiles.length === 1 && tag !== undefined) keymgr(conf, zone, 'set', String(Number(tag)), 'zsk=yes');
    }
  }
  const daemon = labDaemon(ns.spawn(knotdPath()!, ['-c', conf]));
  try {
    for (const z of zones) {
      await waitForAnswer(ns, addresses[0]!, z.origin, 'SOA', /\S/, daemon);
      if (opts.keys?.[z.origin] !== undefined) await waitForAnswer(ns, addresses[0]!, z.origin, 'DNSKEY', /^DNSKEY /m, daemon);
    }
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  return daemon;
}

function keymgr(conf: string, zone: string, ...args: string[]): void {
  const r = spawnSync(findBinary('keymgr')!, ['-c', conf, zone, ...args], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`keymgr ${zone} ${args.join(' ')} failed: ${r.error?.message ?? ''}${r.stdout}${r.stderr}`);
}

/** A delegation from `test.` the lab's TLD serves: NS names (with glue when in the zone) and DS records. */
export interface LabDelegation {
  readonly zone: string;
  readonly ns: readonly { readonly name: string; readonly address?: string }[];
  /** DS RDATA as text, e.g. "19784 13 2 A778…". */
  readonly ds: readonly string[];
}

export interface Lab {
  readonly ns: NetNs;
  /** The root hints file for zonemaster-cli --hints. */
  readonly hints: string;
  /** Stops root and TLD, deletes the namespace (and every process left in it). */
  close(): Promise<void>;
}

/**
 * Makes the namespace with the lab's four addresses, and starts the root (with PTR records
 * for the nameserver addresses, so reverse lookups find them) and the TLD with `delegations`.
 */
export async function startLab(dir: string, delegations: readonly LabDelegation[]): Promise<Lab> {
  const ns = await createNetNs('mdn-zm');
  const daemons: LabDaemon[] = [];
  const close = async (): Promise<void> => {
    await Promise.allSettled(daemons.map((d) => d.stop()));
    await ns.remove();
  };
  try {
    for (const a of Object.values(LAB)) await ns.ip('addr', 'add', `${a}/32`, 'dev', 'lo');
    const ptr = (address: string): string => `${address.split('.').reverse().join('.')}.in-addr.arpa.`;
    const nsNames = new Map(delegations.flatMap((d) => d.ns.filter((n) => n.address !== undefined).map((n) => [n.address!, n.name] as const)));
    const rootZone = [
      '. 86400 IN SOA root.ns.test. hostmaster.ns.test. 1 14400 3600 1209600 300',
      '. 86400 IN NS root.ns.test.',
      'test. 86400 IN NS tld.ns.test.',
      `root.ns.test. 86400 IN A ${LAB.root}`,
      `tld.ns.test. 86400 IN A ${LAB.tld}`,
      ...[...nsNames].map(([address, name]) => `${ptr(address)} 86400 IN PTR ${name}`),
    ];
    const tldZone = [
      'test. 3600 IN SOA tld.ns.test. hostmaster.ns.test. 1 14400 3600 1209600 300',
      'test. 3600 IN NS tld.ns.test.',
      `root.ns.test. 3600 IN A ${LAB.root}`,
      `tld.ns.test. 3600 IN A ${LAB.tld}`,
      ...delegations.flatMap((d) => [
        ...d.ns.map((n) => `${d.zone} 3600 IN NS ${n.name}`),
        ...d.ns.filter((n) => n.address !== undefined && n.name.endsWith(`.${d.zone}`)).map((n) => `${n.name} 3600 IN A ${n.address}`),
        ...d.ds.map((ds) => `${d.zone} 3600 IN DS ${ds}`),
      ]),
    ];
    for (const [name, text] of [
      ['root.zone', rootZone],
      ['test.zone', tldZone],
    ] as const)
      fs.writeFileSync(path.join(dir, name), text.join('\n') + '\n');
    daemons.push(await startKnotInNs(ns, path.join(dir, 'knot-root'), [LAB.root], [{ origin: '.', file: path.join(dir, 'root.zone') }]));
    daemons.push(await startKnotInNs(ns, path.join(dir, 'knot-tld'), [LAB.tld], [{ origin: 'test.', file: path.join(dir, 'test.zone') }]));
    const hints = path.join(dir, 'root.hints');
    fs.writeFileSync(hints, `. 3600000 IN NS root.ns.test.\nroot.ns.test. 3600000 IN A ${LAB.root}\n`);
    return { ns, hints, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** One Zonemaster message (`--json`). */
export interface Finding {
  readonly level: 'CRITICAL' | 'ERROR' | 'WARNING' | 'NOTICE' | 'INFO' | 'DEBUG';
  readonly module: string;
  readonly testcase: string;
  readonly tag: string;
  readonly args?: Record<string, unknown>;
}

export const LEVELS = ['DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'CRITICAL'] as const;
export const atLeast = (f: Finding, level: Finding['level']): boolean => LEVELS.indexOf(f.level) >= LEVELS.indexOf(level);

/** "ERROR DNSSEC/DNSSEC05 NO_RESPONSE_DNSKEY": what is compared between servers (args name addresses, times). */
export const findingKey = (f: Finding): string => `${f.level} ${f.module}/${f.testcase} ${f.tag}`;

export const formatFinding = (f: Finding): string =>
  `${findingKey(f)}${
    f.args && Object.keys(f.args).length > 0
      ? ` (${Object.entries(f.args)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join('; ')})`
      : ''
  }`;

/**
 * Runs every Zonemaster test module on `zone` from inside the lab (IPv4 only: the lab has no
 * IPv6) and returns its messages at INFO and above.
 */
export async function runZonemaster(lab: Lab, zone: string): Promise<Finding[]> {
  const r = await lab.ns.exec('zonemaster-cli', ['--hints', lab.hints, '--no-ipv6', '--json', '--level', 'INFO', '--no-progress', zone], 120_000);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    throw new Error(`zonemaster-cli ${zone} exited with ${r.code} and no JSON:\n${r.stdout.slice(0, 2000)}\n${r.stderr.slice(0, 2000)}`);
  }
  const isFinding = (f: unknown): f is Finding =>
    typeof f === 'object' && f !== null && ['level', 'module', 'testcase', 'tag'].every((k) => typeof (f as Record<string, unknown>)[k] === 'string') && LEVELS.includes((f as Finding).level);
  if (!Array.isArray(parsed) || !parsed.every(isFinding)) throw new Error(`zonemaster-cli ${zone}: not a list of messages: ${r.stdout.slice(0, 500)}`);
  return parsed;
}
