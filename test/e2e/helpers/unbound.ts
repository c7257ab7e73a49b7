/**
 * Runs a real Unbound (the recursive resolver most Linux distributions ship) on 127.0.0.1
 * with a stub zone pointing at a meridian under test, so the tests see what a resolver in
 * front of us does to our answers: caching by TTL, ECS forwarding (subnetcache), CNAMEs.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildQuery, rcodeOf, sendUdp } from '../../support/dns-client.js';
import { startGuarded } from '../../support/guarded-daemon.js';
import { freePort } from '../../support/process.js';

/** The unbound binary (Debian puts it in /usr/sbin, which a non-root PATH may lack), or null. */
export function findBinary(name: string): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin']) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export interface UnboundOptions {
  /** The zone Unbound sends to meridian, e.g. "example.com". */
  readonly zone: string;
  /** meridian's DNS port on 127.0.0.1. */
  readonly stubPort: number;
  /** More `server:` lines (a DNSSEC trust anchor, say). */
  readonly serverExtra?: string;
  /** The RCODE of the zone's SOA that says Unbound is up: NOERROR, or SERVFAIL for one that is to find the zone bogus. */
  readonly readyRcode?: number;
}

export interface RunningUnbound {
  readonly port: number;
  readonly confFile: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * The config, every line there for a reason:
 * - no chroot, no daemon, no user switch, files in our temp dir: it runs as the test does;
 * - do-not-query-localhost: no, or Unbound refuses to send queries to 127.0.0.1;
 * - subnetcache + send-client-subnet: forward the client's ECS to meridian and cache per subnet
 *   (validator as in a real set-up; with no trust anchor configured it has nothing to check);
 * - cache-min-ttl 0: keep our short TTLs, so a failover shows once the TTL runs out.
 */
export function unboundConfig(dir: string, port: number, opts: UnboundOptions): string {
  return `server:
  interface: 127.0.0.1@${port}
  port: ${port}
  interface-automatic: no
  do-ip4: yes
  do-ip6: no
  do-udp: yes
  do-tcp: yes
  access-control: 127.0.0.0/8 allow
  username: ""
  chroot: ""
  directory: "${dir}"
  pidfile: "${path.join(dir, 'unbound.pid')}"
  do-daemonize: no
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  so-reuseport: no
  do-not-query-localhost: no
  module-config: "subnetcache validator iterator"
  send-client-subnet: 127.0.0.1
  client-subnet-always-forward: yes
  max-client-subnet-ipv4: 24
  cache-min-ttl: 0
  cache-max-ttl: 60
  cache-max-negative-ttl: 60
  prefetch: no
  serve-expired: no
  qname-minimisation: no
  minimal-responses: no
${opts.serverExtra ?? ''}
stub-zone:
  name: "${opts.zone}"
  stub-addr: 127.0.0.1@${opts.stubPort}
  stub-prime: no

remote-control:
  control-enable: no
`;
}

/** Runs unbound-checkconf on a config; null when it passes, else its output. */
export function checkConfig(confFile: string): string | null {
  const bin = findBinary('unbound-checkconf');
  if (bin === null) return 'unbound-checkconf not found';
  const r = spawnSync(bin, [confFile], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? null : `exit ${r.status}: ${r.stdout}${r.stderr}`;
}

export async function startUnbound(opts: UnboundOptions): Promise<RunningUnbound> {
  const bin = findBinary('unbound');
  if (bin === null) throw new Error('unbound not found');
  // freePort() releases the port before Unbound binds it; another process may take it in between.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(bin, await freePort(), opts);
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= 3) throw err;
    }
  }
}

class PortTakenError extends Error {}

async function startOnce(bin: string, port: number, opts: UnboundOptions): Promise<RunningUnbound> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-unbound-'));
  const confFile = path.join(dir, 'unbound.conf');
  fs.writeFileSync(confFile, unboundConfig(dir, port, opts));
  // A guardian shell holds our end of a pipe: when it closes (stop(), or this process dying
  // even by SIGKILL) it stops unbound, so no resolver outlives the test run.
  const guardian = ['exec 3<&0', '"$1" -d -c "$2" </dev/null & u=$!', '( read line <&3; kill $u 2>/dev/null ) & w=$!', 'wait $u; s=$?', 'kill $w 2>/dev/null', 'exit $s'].join('\n');
  const daemon = startGuarded(guardian, ['unbound-guardian', bin, confFile], dir);
  try {
    await waitUntilAnswering(port, opts.zone, daemon.exited, opts.readyRcode ?? 0);
  } catch (err) {
    await daemon.stop();
    if (/could not open ports|bind: address already in use/i.test(daemon.output())) throw new PortTakenError(`port ${port} taken`);
    throw new Error(`unbound did not start: ${(err as Error).message}\n--- unbound output ---\n${daemon.output()}`, { cause: err });
  }
  return { port, confFile, output: daemon.output, stop: () => daemon.stop() };
}

/** Polls the zone's SOA through Unbound until it answers NOERROR (it is up and reaches meridian). */
async function waitUntilAnswering(port: number, zone: string, exited: () => boolean, readyRcode: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited()) throw new Error('unbound exited');
    try {
      const answer = await sendUdp(port, buildQuery(zone, 'SOA'), '127.0.0.1', 500);
      if (rcodeOf(answer) === readyRcode) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('no answer in 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}
