/** A two-region failover zone over HTTP probes and meridian started on it in-process: the failover tests and tools/measure-failover share it. */
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import { startServer, type RunningServer } from '../../src/main.js';

export interface FailoverProbe {
  port: number;
  intervalSec: number;
  timeoutMs: number;
  fall: number;
  rise: number;
  jitterMs: number;
}

/**
 * Writes `<origin>.zone` and its policy into dir: www answers primary (192.0.2.1, probed at
 * 127.0.0.2) or, once it is down, secondary (192.0.2.2, probed at 127.0.0.3).
 */
export function writeFailoverZone(dir: string, origin: string, p: FailoverProbe, downTtl: number | null = null): void {
  fs.writeFileSync(path.join(dir, `${origin}.zone`), '$TTL 60\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n');
  fs.writeFileSync(
    path.join(dir, `${origin}.policy.yaml`),
    `probes:\n  web: { type: http, port: ${p.port}, interval: ${p.intervalSec}, timeout: ${p.timeoutMs}, fall: ${p.fall}, rise: ${p.rise}, jitter: ${p.jitterMs} }\n` +
      'targets:\n  primary: { region: one, ipv4: [192.0.2.1], probe: web, probeAddress: 127.0.0.2 }\n' +
      '  secondary: { region: two, ipv4: [192.0.2.2], probe: web, probeAddress: 127.0.0.3 }\n' +
      `names:\n  www:\n    ttl: 5\n${downTtl === null ? '' : `    downTtl: ${downTtl}\n`}    policy:\n      - failover: { groups: [{ targets: [primary] }, { targets: [secondary] }] }\n`,
  );
}

/** meridian in-process on 127.0.0.1:0 over zonesDir: no watch, no health state file, no admin API. */
export function startFailoverServer(zonesDir: string, startupWaitMs?: number): Promise<RunningServer> {
  const base = loadConfig(null, { listen: ['127.0.0.1:0'], zonesDir, logLevel: 'silent' }, {});
  const health = { ...base.health, stateFile: null, ...(startupWaitMs === undefined ? {} : { startupWaitMs }) };
  return startServer({ ...base, zones: { ...base.zones, watch: false }, health, admin: { ...base.admin, listen: null } }, pino({ level: 'silent' }));
}
