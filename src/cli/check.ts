import { loadConfig } from '../config/load-config.js';
import type { Config } from '../config/schema.js';
import { GeoResolver, openGeoDatabase } from '../geoip/geo-database.js';
import { nameKey, nameToText } from '../dns/name.js';
import { describeBound, failoverWarnings } from '../health/failover-bound.js';
import { formatProblem } from '../problems/problem-list.js';
import type { Zone } from '../zone/zone.js';
import { ZoneDirectory } from '../control/zone-directory.js';
import { algorithmName, dsRdata, FLAGS_SEP, nextKeyEvent } from '../dnssec/keys.js';
import { checkParentDs, checkZoneKeys, formatKeyProblem, readParentDs, type KeyCheckProblem } from '../dnssec/check.js';
import { keysAt, type ZoneKeys } from '../dnssec/signer.js';
import { RRType } from '../dns/constants.js';
import { rdataToText } from '../zone/rdata/index.js';

/**
 * The signed zones' keys: per zone its keys (what each does now, and its next timing event)
 * and the DS records for the parent; every key problem as file:line: CODE: message (a broken,
 * missing or world-readable key, a coming instant with no key signing, a parent DS that
 * matches no signing key); and an error for a signed zone the zones folder does not hold.
 */
function dnssecLines(config: Config, zones: ReadonlyMap<string, Zone>, parentDsFile: string | undefined): { lines: string[]; errors: string[]; warnings: string[] } {
  const now = Math.floor(Date.now() / 1000);
  const lines: string[] = [];
  const problems: KeyCheckProblem[] = [];
  const signed: ZoneKeys[] = [];
  const errors: string[] = [];
  for (const [zoneText, z] of Object.entries(config.dns.dnssec.zones)) {
    if (!z.enabled) continue;
    const checked = checkZoneKeys(zoneText, z, now);
    problems.push(...checked.problems);
    if (checked.zone === null) continue;
    const zone = checked.zone;
    signed.push(zone);
    const name = nameToText(zone.origin);
    const state = keysAt(zone, now);
    for (const k of zone.keys) {
      const role = zone.split ? ((k.flags & FLAGS_SEP) !== 0 ? 'KSK' : 'ZSK') : (k.flags & FLAGS_SEP) !== 0 ? 'CSK' : 'ZSK';
      const doing = [state.published.includes(k) ? 'published' : 'not published', state.active.includes(k) ? 'signing' : 'not signing', ...(state.synced.includes(k) ? ['CDS/CDNSKEY'] : [])].join(
        ', ',
      );
      const next = nextKeyEvent([k], now);
      lines.push(`${k.base}.key: ${name} key ${k.tag} (${algorithmName(k.algorithm)}, ${role}): ${doing}${next === Infinity ? '' : `; next timing event ${new Date(next * 1000).toISOString()}`}`);
    }
    for (const k of state.published.filter((p) => (p.flags & FLAGS_SEP) !== 0)) lines.push(`  ${name.toLowerCase()} IN DS ${rdataToText(RRType.DS, dsRdata(zone.origin, k.dnskey))}`);
    if (!zones.has(nameKey(zone.origin))) errors.push(`dns.dnssec.zones: ${name} is signed but the zones folder has no valid ${name.toLowerCase()}zone file`);
  }
  if (parentDsFile !== undefined) {
    const parent = readParentDs(parentDsFile);
    problems.push(...parent.problems, ...checkParentDs(parent.records, signed, now));
    if (parent.problems.length === 0 && parent.records.length === 0) errors.push(`${parentDsFile}:0: GSLB_ERR_DNSSEC_DS_MISMATCH: --parent-ds: no DS record in the file`);
  }
  for (const p of problems) if (p.severity === 'error') errors.push(formatKeyProblem(p));
  return { lines, errors, warnings: problems.filter((p) => p.severity === 'warning').map(formatKeyProblem) };
}

/** One line per steered name: its worst-case failover and recovery, term by term. */
function printBounds(zones: ReadonlyMap<string, Zone>): void {
  for (const zone of zones.values()) {
    for (const name of zone.steered.values()) {
      const what = name.failover === null ? 'has no probed target: probes never move its answers' : describeBound(name.failover);
      process.stdout.write(`${name.source.file}:${name.source.line}: ${nameToText(name.owner)} ${what}\n`);
    }
  }
}

/**
 * One line per GeoIP database: path, slot, type, build date and what it holds, so an operator
 * sees before a restart or a reload which file will serve and whether proximity gets real
 * coordinates. Throws GeoDatabaseError for a file that would be refused.
 */
function geoLines(config: Config): string[] {
  const location = config.geoip.location === null ? null : openGeoDatabase(config.geoip.location);
  const asn = config.geoip.asn === null ? null : openGeoDatabase(config.geoip.asn);
  new GeoResolver(location, asn); // refuses a database in the wrong slot
  const out: string[] = [];
  for (const [slot, db] of [
    ['location', location],
    ['asn', asn],
  ] as const) {
    if (db === null) continue;
    const i = db.info;
    const c = db.contents();
    const coordinates = i.kind === 'asn' ? '' : c.coordinates ? ', with coordinates' : ', no coordinates (proximity places clients at their country centroid)';
    out.push(
      `${i.file}: ${slot} database ${i.label} (${i.kind}, IPv${i.ipVersion}), built ${i.buildEpoch.toISOString().slice(0, 10)}, ` +
        `${c.networks} networks, ${c.records} distinct records${coordinates}: OK`,
    );
  }
  if (location === null) out.push('geoip.location is null: no client locations (geo rules on places never match, proximity keeps every target)');
  return out;
}

/** Like named-checkzone for the whole setup (config, GeoIP databases, zones, policies): every problem as file:line: message; 1 on any error. */
export function runCheck(flags: { config?: string; zones?: string; parentDs?: string }): number {
  let config;
  try {
    config = loadConfig(flags.config ?? null, { zonesDir: flags.zones });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
  let geoErrors = 0;
  try {
    for (const line of geoLines(config)) process.stdout.write(line + '\n');
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
  printBounds(outcome.zones);
  const dnssec = dnssecLines(config, outcome.zones, flags.parentDs);
  for (const line of dnssec.lines) process.stdout.write(line + '\n');
  for (const line of [...dnssec.warnings, ...dnssec.errors]) process.stderr.write(line + '\n');
  for (const s of outcome.statuses) {
    if (s.zone && !s.problems.some((p) => p.severity === 'error')) {
      process.stdout.write(`${s.file}: zone ${s.zone.originKey}. serial ${s.zone.serial}, ${s.zone.recordCount} records: OK\n`);
    }
  }
  if (outcome.statuses.length === 0 && errors === 0) {
    process.stderr.write(`${config.zones.directory}: no *.zone files found\n`);
    return 1;
  }
  return errors + geoErrors + dnssec.errors.length > 0 ? 1 : 0;
}
