/** Zones built in process from master-file text (and a policy file's text), for the tests of the pure core. */
import assert from 'node:assert/strict';
import { nameKey, parseName } from '../../src/dns/name.js';
import { compilePolicyText } from '../../src/steer/policy-file.js';
import { parseMasterFile } from '../../src/zone/master-file.js';
import { buildZone, type BuildResult, type Zone } from '../../src/zone/zone.js';

/** The zone file name every problem of these zones names. */
export const ZONE_FILE = 'test.zone';
export const POLICY_FILE = 'test.policy.yaml';

/** Parses and builds; parse and policy problems fail the test, build problems are returned. */
export function buildFromText(origin: string, text: string, policy?: string): BuildResult {
  const name = parseName(origin, null);
  const parsed = parseMasterFile(text, { file: ZONE_FILE, origin: name });
  assert.deepEqual(parsed.problems, [], 'the zone text parses');
  const compiled = policy === undefined ? { steered: [], monitored: [], problems: [] } : compilePolicyText(policy, POLICY_FILE, name);
  assert.deepEqual(compiled.problems, [], 'the policy text compiles');
  return buildZone(name, ZONE_FILE, parsed.records, compiled.steered, compiled.monitored);
}

/** A zone that must build without errors. */
export function zoneFromText(origin: string, text: string, policy?: string): Zone {
  const built = buildFromText(origin, text, policy);
  assert.ok(built.zone, JSON.stringify(built.problems));
  return built.zone;
}

/** Zones by nameKey of their origin, as a snapshot holds them. */
export function zoneMap(...zones: Zone[]): Map<string, Zone> {
  return new Map(zones.map((z) => [nameKey(z.origin), z]));
}
