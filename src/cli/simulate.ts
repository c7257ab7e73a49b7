import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../config/load-config.js';
import { openGeo, clientLocator } from '../geoip/open-geo.js';
import { loadHealthState } from '../storage/health-state.js';
import { SnapshotBuilder } from '../control/snapshot-builder.js';
import { PopulationError, readPopulationFile, samplePopulation } from '../steer/population.js';
import { POLICY_SUFFIXES } from '../steer/policy-file.js';
import { formatComparison, policyChange, SimulationError, whatIf, worldOf, type Change } from '../explain/simulate.js';
import { formatProblem } from '../problems/problem-list.js';
import { ZoneDirectory } from '../control/zone-directory.js';

export interface SimulateFlags {
  config?: string;
  zones?: string;
  clients?: string;
  drain?: string[];
  undrain?: string[];
  down?: string[];
  up?: string[];
  policy?: string;
  zone?: string;
  type?: string;
  json?: boolean;
}

/**
 * `meridian simulate`: what a change would do to answers, from the files on disk (config,
 * zones, policies, and the health state file the server saves, so drains in effect count).
 */
export async function runSimulate(flags: SimulateFlags): Promise<number> {
  try {
    const type = (flags.type ?? 'A').toUpperCase();
    if (type !== 'A' && type !== 'AAAA') throw new SimulationError('type', `"${flags.type}": only A and AAAA answers are steered`);
    const config = loadConfig(flags.config ?? null, { zonesDir: flags.zones, logLevel: 'silent' });
    const loaded = new ZoneDirectory(config.zones.directory).load(true);
    const errors = loaded.problems.filter((p) => p.severity === 'error');
    for (const p of errors) process.stderr.write(formatProblem(p) + '\n');
    if (errors.length > 0) return 1;
    const now = Date.now();
    const geo = openGeo(config, pino({ level: 'silent' }));
    const health = config.health.stateFile === null ? new Map() : loadHealthState(path.resolve(config.health.stateFile), now);
    const snapshot = SnapshotBuilder.offline(clientLocator(geo)).build(1, { zones: loaded.zones, health });
    const population = flags.clients === undefined ? samplePopulation() : await readPopulationFile(flags.clients);
    const change: Change = { drain: flags.drain ?? [], undrain: flags.undrain ?? [], down: flags.down ?? [], up: flags.up ?? [] };
    let policy: Change['policy'];
    if (flags.policy !== undefined) {
      const zone = flags.zone ?? zoneOfPolicyFile(flags.policy);
      let text: string;
      try {
        text = fs.readFileSync(flags.policy, 'utf8');
      } catch (err) {
        throw new SimulationError('policy', `${flags.policy}: ${(err as Error).message}`);
      }
      policy = policyChange(snapshot, zone, text, flags.policy);
    }
    const result = whatIf(worldOf(snapshot, now), { ...change, ...(policy ? { policy } : {}) }, population, snapshot.locate, type);
    process.stdout.write((flags.json ? JSON.stringify(result, null, 2) : formatComparison(result, describeChange(flags))) + '\n');
    return 0;
  } catch (err) {
    if (err instanceof SimulationError || err instanceof PopulationError) {
      process.stderr.write(`meridian simulate: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`meridian simulate: ${String((err as { message?: unknown }).message ?? err)}\n`);
    return 2;
  }
}

/** `example.com.policy.yaml` → `example.com`. */
function zoneOfPolicyFile(file: string): string {
  const base = path.basename(file);
  for (const suffix of POLICY_SUFFIXES) if (base.endsWith(suffix)) return base.slice(0, -suffix.length);
  throw new SimulationError('zone', `cannot tell the zone from the file name "${base}" (expected <zone>.policy.yaml); pass --zone`);
}

function describeChange(f: SimulateFlags): string {
  const parts = [
    ...(f.drain ?? []).map((id) => `drain ${id}`),
    ...(f.undrain ?? []).map((id) => `undrain ${id}`),
    ...(f.down ?? []).map((id) => `${id} down`),
    ...(f.up ?? []).map((id) => `${id} up`),
    ...(f.policy ? [`policy ${f.policy}`] : []),
  ];
  return parts.length > 0 ? parts.join(', ') : 'none (before and after are the same)';
}
