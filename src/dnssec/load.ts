/**
 * The signer the config asks for: each enabled zone's keys read from its key folder and
 * checked, or a start-up error naming the field and the file (never the key material).
 */
import fs from 'node:fs';
import type { Config } from '../config/schema.js';
import { type Name, parseName, nameToText } from '../dns/name.js';
import { ErrorCode, GslbError } from '../errors.js';
import { ALGORITHMS, KeyFileError, readZoneKeys } from './keys.js';
import { DnssecSigner, keysAt, type SignerOptions, type ZoneKeys } from './signer.js';

const DAY = 86_400;

export type ZoneConfig = Config['dns']['dnssec']['zones'][string];

export function zoneOrigin(zoneText: string): Name {
  return parseName(zoneText.endsWith('.') ? zoneText : `${zoneText}.`, null);
}

/**
 * One zone's keys, checked as serve needs them: at least one key, no private key every user
 * can read, one key active at `nowSec`. Throws KeyFileError (a file at fault) or Error.
 */
export function readZone(zoneText: string, z: ZoneConfig, nowSec: number): ZoneKeys {
  const origin = zoneOrigin(zoneText);
  const keys = readZoneKeys(z.keyDir, origin, ALGORITHMS[z.algorithm]);
  if (keys.length === 0)
    throw new Error(`no ${z.algorithm} key for ${nameToText(origin)} in ${z.keyDir}; make one with: meridian dnssec keygen ${zoneText} --algorithm ${z.algorithm} --key-dir ${z.keyDir}`);
  for (const key of keys) {
    // The private key is the zone: refuse one any local user can read.
    const mode = fs.statSync(`${key.base}.private`).mode;
    if ((mode & 0o007) !== 0) throw new KeyFileError(`${key.base}.private`, `readable by every user (mode ${(mode & 0o777).toString(8)}); chmod 600 it`, 'mode');
  }
  const zone = { origin, keys, split: z.split, denial: z.denial };
  if (keysAt(zone, nowSec).active.length === 0)
    throw new Error(`none of the ${keys.length} key(s) in ${z.keyDir} for ${nameToText(origin)} is active now (Activate/Inactive/Delete in the .private files)`);
  return zone;
}

/** The zones' keys; throws GslbError (GSLB_ERR_CONFIG_INVALID) naming `dns.dnssec.zones.<zone>`. */
export function loadZoneKeys(dnssec: Config['dns']['dnssec'], nowSec = Math.floor(Date.now() / 1000)): ZoneKeys[] {
  const out: ZoneKeys[] = [];
  for (const [zoneText, z] of Object.entries(dnssec.zones)) {
    if (!z.enabled) continue;
    try {
      out.push(readZone(zoneText, z, nowSec));
    } catch (err) {
      throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `dns.dnssec.zones.${zoneText}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** The signer for `dns.dnssec`, or null when no zone is signed. */
export function loadSigner(dns: Pick<Config['dns'], 'dnssec' | 'cacheMaxEntries'>, options: Partial<SignerOptions> = {}): DnssecSigner | null {
  const zones = loadZoneKeys(dns.dnssec, options.now ? Math.floor(options.now() / 1000) : undefined);
  if (zones.length === 0) return null;
  return new DnssecSigner(zones, {
    validitySec: dns.dnssec.validityDays * DAY,
    refreshSec: dns.dnssec.refreshDays * DAY,
    cacheMaxEntries: Math.max(dns.cacheMaxEntries, 1000),
    ...options,
  });
}
