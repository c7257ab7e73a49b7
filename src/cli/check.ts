import { loadConfig } from '../config/load-config.js';
import { openGeo } from '../geoip/open-geo.js';
import { failoverWarnings } from '../main.js';
import { formatProblem } from '../zone/record.js';
import { ZoneDirectory } from '../zone/zone-directory.js';

/** Like named-checkzone for the whole setup (config, GeoIP databases, zones, policies): every problem as file:line: message; 1 on any error. */
export function runCheck(flags: { config?: string; zones?: string }): number {
  let config;
  try {
    config = loadConfig(flags.config ?? null, { zonesDir: flags.zones });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
  let geoErrors = 0;
  try {
    const geo = openGeo(config);
    for (const db of geo.databases) process.stdout.write(`${db.file}: ${db.databaseType} (IPv${db.ipVersion}), built ${db.buildEpoch.toISOString().slice(0, 10)}: OK\n`);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    geoErrors = 1;
  }
  let outcome;
  try {
    outcome = new ZoneDirectory(config.zones.directory).load(true);
  } catch (err) {
    // load() turns each file's failure into a problem; this is a last resort without a stack trace
    process.stderr.write(`${config.zones.directory}: cannot load the zones: ${(err as Error).message}\n`);
    return 1;
  }
  const problems = [...outcome.problems, ...failoverWarnings(outcome.zones, config.health.failoverBudgetSec)];
  for (const p of problems) process.stderr.write(formatProblem(p) + '\n');
  const errors = outcome.problems.filter((p) => p.severity === 'error').length;
  for (const s of outcome.statuses) {
    if (s.zone && !s.problems.some((p) => p.severity === 'error')) {
      process.stdout.write(`${s.file}: zone ${s.zone.originKey}. serial ${s.zone.serial}, ${s.zone.recordCount} records: OK\n`);
    }
  }
  if (outcome.statuses.length === 0 && errors === 0) {
    process.stderr.write(`${config.zones.directory}: no *.zone files found\n`);
    return 1;
  }
  return errors + geoErrors > 0 ? 1 : 0;
}
