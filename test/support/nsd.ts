/**
 * Runs NSD (Debian package `nsd`) as a secondary of a primary on 127.0.0.1: nsd in the
 * foreground on 127.0.0.1 and a given port, taking each zone by zone transfer and NOTIFY
 * from 127.0.0.1, all state in a fresh temp dir, under the same guardian as knotd (it stops
 * nsd and removes the dir as soon as this process lets go), so it never outlives the caller.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configDaemonGuardian, daemonPid, startGuarded, type GuardedDaemon } from './guarded-daemon.js';

export const NSD_PATH = '/usr/sbin/nsd';

/** Why NSD cannot be run here (a message for a skipped test), or null when it can. */
export function nsdUnavailableReason(): string | null {
  return fs.existsSync(NSD_PATH) ? null : 'nsd is not installed (apt-get install nsd)';
}

export interface RunningNsd {
  readonly port: number;
  output(): string;
  stop(): Promise<void>;
}

/** Starts nsd on `port` as a secondary of 127.0.0.1@`primaryPort` for `origins` (absolute, e.g. "rules.test."). */
export function startNsdSecondary(port: number, primaryPort: number, origins: readonly string[]): RunningNsd {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-nsd-'));
  const lines = [
    'server:',
    `  port: ${port}`,
    '  ip-address: 127.0.0.1',
    `  zonesdir: "${dir}"`,
    `  pidfile: "${path.join(dir, 'nsd.pid')}"`,
    `  xfrdfile: "${path.join(dir, 'xfrd.state')}"`,
    `  zonelistfile: "${path.join(dir, 'zone.list')}"`,
    '  database: ""',
    '  username: ""',
    '  chroot: ""',
    '  server-count: 1',
    '  verbosity: 2',
    '  xfrd-reload-timeout: 0',
    'remote-control:',
    '  control-enable: no',
  ];
  for (const origin of origins) {
    lines.push('zone:', `  name: "${origin}"`, `  zonefile: "${origin}zone"`, '  allow-notify: 127.0.0.1 NOKEY', `  request-xfr: 127.0.0.1@${primaryPort} NOKEY`);
  }
  const conf = path.join(dir, 'nsd.conf');
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  const daemon: GuardedDaemon = startGuarded(configDaemonGuardian('nsd', '-d'), ['nsd-guardian', NSD_PATH, conf, dir], dir, (out) => {
    const pid = daemonPid(out, 'nsd');
    if (pid !== null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  return { port, output: daemon.output, stop: () => daemon.stop() };
}
