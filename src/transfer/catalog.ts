/**
 * The catalog zone (RFC 9432, version 2): one zone listing every zone served, as a PTR under
 * `zones.<catalog>` per member, so a secondary that reads catalogs (Knot's `catalog-role:
 * interpret`, BIND's `catalog-zones`) serves new zones with no change to its configuration.
 * It is built from the served zones at each publish (control/publisher.ts) and is then a zone
 * like the others: answered, transferred (AXFR; IXFR as AXFR, it has no journal) and
 * NOTIFYed when its serial moves, which happens when, and only when, the set of zones changes.
 */
import { createHash } from 'node:crypto';
import { RRClass, RRType } from '../dns/constants.js';
import { nameKey, nameToText, nameToWire, parseName, ROOT, type Name } from '../dns/name.js';
import { encodeRdataText } from '../zone/rdata/index.js';
import type { ZoneRecord } from '../zone/record.js';
import { buildZone, type Zone } from '../zone/zone.js';
import { serialBefore } from './ixfr.js';

/** What stands for the catalog's file in problems and logs: it has none. */
export const CATALOG_FILE = '(catalog zone)';

/**
 * A member's unique id (RFC 9432 §4.1): the first 64 bits of the SHA-256 of its name in
 * lower-case wire form, in hex. The same name always gets the same id (as Knot's, a hash of
 * the member's name), so a member keeps its id across restarts and other members' changes.
 */
export function memberId(origin: Name): string {
  return createHash('sha256')
    .update(nameToWire(origin.map((l) => l.toLowerCase())))
    .digest('hex')
    .slice(0, 16);
}

/**
 * The catalog `origin` listing `zones` (the catalog itself left out). `previous`, the catalog
 * served now, is returned as it is when it lists the same zones (and has `serial`, when one
 * is given); otherwise the new one's serial is `serial` (a DNS worker takes the primary's),
 * else the time in seconds, or one more than the previous serial when that is not later.
 */
export function catalogZone(origin: Name, zones: Iterable<Zone>, previous: Zone | null, serial: number | null = null, now = Math.floor(Date.now() / 1000)): Zone {
  const key = nameKey(origin);
  const members = [...zones].filter((z) => z.originKey !== key).sort((a, b) => (a.originKey < b.originKey ? -1 : a.originKey > b.originKey ? 1 : 0));
  const listed = members.map((z) => z.originKey).join(' ');
  if (previous !== null && listedIn.get(previous) === listed && (serial === null || previous.serial === serial)) return previous;
  serial ??= previous === null || serialBefore(previous.serial, now >>> 0) ? now >>> 0 : (previous.serial + 1) >>> 0;
  const source = { file: CATALOG_FILE, line: 0 };
  const rr = (owner: Name, type: number, text: string): ZoneRecord => ({ owner, type, class: RRClass.IN, ttl: 0, rdata: encodeRdataText(type, text, ROOT), source });
  const records = [
    // The SOA and NS RFC 9432 §4.1 suggests: nothing resolves through a catalog.
    rr(origin, RRType.SOA, `invalid. invalid. ${serial} 3600 600 2147483646 0`),
    rr(origin, RRType.NS, 'invalid.'),
    rr(['version', ...origin], RRType.TXT, '"2"'),
    ...members.map((z) => rr([memberId(z.origin), 'zones', ...origin], RRType.PTR, nameToText(z.origin))),
  ];
  const built = buildZone(origin, CATALOG_FILE, records);
  if (built.zone === null) throw new Error(`the catalog zone ${nameToText(origin)} could not be built: ${built.problems.map((p) => p.message).join('; ')}`);
  listedIn.set(built.zone, listed);
  return built.zone;
}

/**
 * `zones` with the catalog `origin` listing them, unless one of them has its name (a zone
 * file of the catalog's name is served instead). `current` is the catalog served now.
 */
export function withCatalog(origin: Name, zones: ReadonlyMap<string, Zone>, current: Zone | null, serial: number | null = null): { zones: ReadonlyMap<string, Zone>; catalog: Zone | null } {
  const key = nameKey(origin);
  if (zones.has(key)) return { zones, catalog: null };
  const catalog = catalogZone(origin, zones.values(), current, serial);
  return { zones: new Map([...zones, [key, catalog]]), catalog };
}

/** The member list each catalog was built from. */
const listedIn = new WeakMap<Zone, string>();

/** The catalog's name from `dns.transfer.catalog`, or null. */
export function catalogName(text: string | null): Name | null {
  return text === null ? null : parseName(text, ROOT);
}
