/**
 * The signer the config asks for: each enabled zone's keys read from its key folder and
 * checked, or a start-up error naming the field and the file (never the key material).
 */
import fs from 'node:fs';
import type { Config } from '../config/schema.js';
import { parseName, nameToText } from '../dns/name.js';
import { ErrorCode, GslbError } from '../errors.js';
import { ALGORITHMS, isActive, isPublished, KeyFileError, readZoneKeys } from './keys.js';
import { DnssecSigner, type SignerOptions, type ZoneKeys } from './signer.js';

const DAY = 86_400;

/** The zones' keys; throws GslbError (GSLB_ERR_CONFIG_INVALID) naming `dns.dnssec.zones.<zone>`. */
export function loadZoneKeys(dnssec: Config['dns']['dnssec'], nowSec = Math.floor(Date.now() / 1000)): ZoneKeys[] {
  const out: ZoneKeys[] = [];
  for (const [zoneText, z] of Object.entries(dnssec.zones)) {
    if (!z.enabled) continue;
    const field = `dns.dnssec.zones.${zoneText}`;
    const fail = (message: string): never => {
      throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `${field}: ${message}`);
    };
    const origin = parseName(zoneText.endsWith('.') ? zoneText : `${zoneText}.`, null);
    const algorithm = ALGORITHMS[z.algorithm];
    let keys;
    try {
      keys = readZoneKeys(z.keyDir, origin, algorithm);
    } catch (err) {
      if (err instanceof KeyFileError) return fail(err.message);
      throw err;
    }
    if (keys.length === 0) fail(`no ${z.algorithm} key for ${nameToText(origin)} in ${z.keyDir}; make one with: meridian dnssec keygen ${zoneText} --algorithm ${z.algorithm} --key-dir ${z.keyDir}`);
    for (const key of keys) {
      // The private key is the zone: refuse one any local user can read.
      const mode = fs.statSync(`${key.base}.private`).mode;
      if ((mode & 0o007) !== 0) fail(`${key.base}.private is readable by every user (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
    }
    const published = keys.filter((k) => isPublished(k, nowSec));
    const active = published.filter((k) => isActive(k, nowSec));
    if (active.length === 0) fail(`none of the ${keys.length} key(s) in ${z.keyDir} for ${nameToText(origin)} is active now (Activate/Inactive/Delete in the .private files)`);
    out.push({ origin, published, active });
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
