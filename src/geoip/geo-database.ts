/**
 * GeoIP: opens MaxMind DB (.mmdb) files and answers "where is this address" for the
 * steering context (src/steer/README.md "Description"; GeoInfo in src/steer/types.ts).
 *
 * - openGeoDatabase() is synchronous and strict: it reads the file, checks its layout, walks
 *   to a real record and decodes it (a corrupt file that `maxmind` would open is rejected
 *   here, not on the query path), and detects the schema (city / country / asn / flat).
 * - GeoDatabase.lookup() never throws and never sends IPv6 to an IPv4-only database.
 * - GeoResolver joins a location DB and an ASN DB into one GeoInfo per address, with a
 *   bounded cache, because the per-query path calls it.
 *
 * Pitfalls of `maxmind` 5.0.7 handled here (see geoip README): get() accepts malformed text
 * ('081.002.069.142'), so addresses are checked with net.isIP first; '::ffff:a.b.c.d' is
 * looked up as IPv4 (flat DBs have no alias for it, and the prefix length must be /31, not
 * /127); an IPv6 query to an IPv4-only tree returns wrong data instead of null.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Reader, type Response } from 'maxmind';
import type { GeoInfo, GeoPoint } from '../steer/types.js';
import { COUNTRY_CENTROIDS } from './country-centroids.js';
import { formatIPv6, networkOf } from '../net/ip-format.js';
import { nonGlobalReason } from '../net/ip-class.js';
import { parseIPOctets, parseIPv6, validAddress, type ValidAddress } from '../net/ip-parse.js';
import { detectKind, readRecord, type GeoDbKind, type RecordFields } from './geo-schema.js';
import { checkLayout, firstRecordNetwork, forEachNetwork, hasMetadataMarker } from './mmdb-check.js';
import { SAMPLE_COUNTRIES } from './continents.js';
import { ErrorCode } from '../errors.js';

export type { GeoDbKind } from './geo-schema.js';
export { continentOfCountry, COUNTRY_CONTINENT, CONTINENT_NAMES, LEGACY_CODES } from './continents.js';

/** What was opened, for logs, the admin API and explain output. */
export interface GeoDbInfo {
  /** Absolute path of the file. */
  readonly file: string;
  readonly kind: GeoDbKind;
  /** The metadata's database_type, e.g. "GeoIP2-City", "GeoLite2-ASN", "country ipvAll". */
  readonly databaseType: string;
  /** 4: an IPv4-only tree, never asked about IPv6 addresses. 6: both families. */
  readonly ipVersion: 4 | 6;
  readonly buildEpoch: Date;
  /** Name used in GeoInfo.source: database_type, or the file name when database_type is not a name ("country ipvAll"). */
  readonly label: string;
}

/** What the admin API reads of the GeoIP databases: those serving now (a reload swaps them). */
export interface GeoView {
  readonly databases: readonly GeoDbInfo[];
  /** One real address per continent, from the location database (empty without one). */
  continentSamples(): ReadonlyMap<string, ContinentSample>;
}

/** Raised by openGeoDatabase / GeoResolver for a file that cannot serve lookups. */
export class GeoDatabaseError extends Error {
  readonly code = ErrorCode.GSLB_ERR_GEOIP_INVALID;
  /** The file concerned. */
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.name = 'GeoDatabaseError';
    this.file = file;
  }
}

/** How much a database holds (GeoDatabase.contents). */
export interface GeoDbContents {
  /** Networks of the search tree that have a record. */
  readonly networks: number;
  /** Distinct records (a country database has one per country). */
  readonly records: number;
  /** Whether its records carry coordinates (else proximity uses country centroids). */
  readonly coordinates: boolean;
}

/** A real address the database places on a continent (GeoDatabase.continentSamples). */
export interface ContinentSample {
  readonly continent: string;
  readonly country: string | null;
  /** A host address inside `network`. */
  readonly address: string;
  readonly network: string;
}

/** Distinct records continentSamples() decodes at most (about 0.2 s). */
const MAX_SAMPLE_RECORDS = 20_000;
/** Distinct records decoded by GeoDatabase.contents() to tell whether the file has coordinates. */
const CONTENTS_SAMPLE = 2000;

/** An address inside the network other than its first (a network address is an odd client). */
function firstHost(address: string, prefix: number): string {
  const v4 = !address.includes(':');
  if (prefix >= (v4 ? 32 : 128) - 1) return address;
  const sep = v4 ? '.' : ':';
  const parts = address.split(sep);
  const last = parseInt(parts[parts.length - 1]!, v4 ? 10 : 16) + 1;
  parts[parts.length - 1] = v4 ? String(last) : last.toString(16);
  return v4 ? parts.join(sep) : formatIPv6(parseIPv6(parts.join(sep))!);
}

/** One database record for one address. */
export interface GeoRecord extends RecordFields {
  /** Prefix length of the matched network, in the family of the address looked up (IPv4 → ≤ 32). */
  readonly prefix: number;
  /** The matched network, e.g. "81.2.69.142/31" or "2001:218::/32". */
  readonly network: string;
}

/** Opens, checks and wraps one .mmdb file (plain or gzip-compressed). Throws GeoDatabaseError. */
export function openGeoDatabase(file: string): GeoDatabase {
  const abs = path.resolve(file);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(abs);
  } catch (err) {
    throw new GeoDatabaseError(abs, `cannot read the file: ${(err as Error).message}`, { cause: err });
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (err) {
      throw new GeoDatabaseError(abs, `gzip data is corrupt: ${(err as Error).message}`, { cause: err });
    }
  }
  if (!hasMetadataMarker(buf)) throw new GeoDatabaseError(abs, 'not a MaxMind DB (.mmdb) file: no metadata section');
  let reader: Reader<Response>;
  try {
    reader = new Reader<Response>(buf);
  } catch (err) {
    throw new GeoDatabaseError(abs, `not a MaxMind DB (.mmdb) file: ${(err as Error).message}`, { cause: err });
  }
  const m = reader.metadata;
  const problem = checkLayout(buf, m);
  if (problem !== null) throw new GeoDatabaseError(abs, problem);

  // The test lookup: walk to a network that has a record, look it up through the reader and
  // decode it. Both must agree; a throw or a mismatch means the tree or the data is corrupt.
  const first = firstRecordNetwork(buf, m);
  if (first === null) throw new GeoDatabaseError(abs, 'the database holds no records');
  let sample: unknown;
  try {
    const [rec, prefix] = reader.getWithPrefixLength(first.address);
    if (rec === null || prefix !== first.prefix) {
      throw new Error(`${first.address}/${first.prefix} gave ${rec === null ? 'no record' : 'a record'} at /${prefix}`);
    }
    sample = rec;
  } catch (err) {
    throw new GeoDatabaseError(abs, `test lookup failed, the file is corrupt: ${(err as Error).message}`, { cause: err });
  }

  const databaseType = typeof m.databaseType === 'string' ? m.databaseType : '';
  const kind = detectKind(databaseType, sample);
  if (kind === null) {
    throw new GeoDatabaseError(
      abs,
      `database_type "${databaseType}" with records like ${JSON.stringify(sample).slice(0, 120)} is not a supported GeoIP schema (city, country, asn or flat country_code)`,
    );
  }
  const label = /^[\w.-]+$/.test(databaseType) ? databaseType : path.basename(abs).replace(/\.mmdb(\.gz)?$/i, '');
  const info: GeoDbInfo = Object.freeze({
    file: abs,
    kind,
    databaseType,
    ipVersion: m.ipVersion === 4 ? 4 : 6,
    buildEpoch: m.buildEpoch,
    label,
  });
  return new GeoDatabase(reader, info, buf);
}

/** One open database. Make it with openGeoDatabase(). */
export class GeoDatabase {
  readonly info: GeoDbInfo;
  readonly #reader: Reader<Response>;
  readonly #buf: Buffer;
  #errors = 0;
  #contents: GeoDbContents | null = null;
  #samples: ReadonlyMap<string, ContinentSample> | null = null;

  /** @internal use openGeoDatabase(), which checks the file first. */
  constructor(reader: Reader<Response>, info: GeoDbInfo, buf: Buffer) {
    this.#reader = reader;
    this.info = info;
    this.#buf = buf;
  }

  /** What the file holds (one walk of the search tree, then kept): for `meridian check`. */
  contents(): GeoDbContents {
    if (this.#contents !== null) return this.#contents;
    let networks = 0;
    const records = new Set<number>();
    let withCoordinates = 0;
    forEachNetwork(this.#buf, this.#reader.metadata, (n) => {
      networks++;
      if (!records.has(n.pointer)) {
        records.add(n.pointer);
        // Decoding every distinct record of a city database would take seconds: a sample says enough.
        if (records.size <= CONTENTS_SAMPLE && this.lookup(n.network().address)?.location != null) withCoordinates++;
      }
      return true;
    });
    this.#contents = Object.freeze({ networks, records: records.size, coordinates: withCoordinates > 0 });
    return this.#contents;
  }

  /**
   * One real address per continent the database places there (a network of SAMPLE_COUNTRIES'
   * country when it has one), for the status page: what a client of that continent gets.
   * Special-purpose addresses are never chosen (they are not looked up). Kept once found.
   */
  continentSamples(): ReadonlyMap<string, ContinentSample> {
    if (this.#samples !== null) return this.#samples;
    const found = new Map<string, ContinentSample>();
    const done = new Set<number>();
    const preferred = (s: ContinentSample): boolean => SAMPLE_COUNTRIES[s.continent] === s.country;
    forEachNetwork(this.#buf, this.#reader.metadata, (n) => {
      if (done.has(n.pointer)) return true;
      // A city database has a record per city: bound the decoding, keep what was found.
      if (done.size >= MAX_SAMPLE_RECORDS) return false;
      const { address, prefix } = n.network();
      const client = firstHost(address, prefix);
      const a = validAddress(client);
      if (a === null || nonGlobalReason(parseIPOctets(a.address)!) !== null) return true;
      done.add(n.pointer);
      const rec = this.lookupNormalised(a);
      if (rec === null || rec.continent === null) return true;
      const sample: ContinentSample = Object.freeze({ continent: rec.continent, country: rec.country, address: a.address, network: rec.network });
      const had = found.get(rec.continent);
      if (had === undefined || (!preferred(had) && preferred(sample))) found.set(rec.continent, sample);
      // Walk on while a continent lacks its preferred country's address.
      return Object.keys(SAMPLE_COUNTRIES).some((c) => {
        const f = found.get(c);
        return f === undefined || !preferred(f);
      });
    });
    this.#samples = new Map([...found].sort(([a], [b]) => (a < b ? -1 : 1)));
    return this.#samples;
  }

  /** Lookups that threw inside the reader (a file corrupt in a place the open check missed). */
  get errorCount(): number {
    return this.#errors;
  }

  /** The record for an address (IPv4 or IPv6 text), or null: no record, invalid address, or IPv6 on an IPv4-only DB. */
  lookup(address: string): GeoRecord | null {
    const a = validAddress(address);
    return a === null ? null : this.lookupNormalised(a);
  }

  /** @internal for GeoResolver, which has normalised the address already. */
  lookupNormalised(a: ValidAddress): GeoRecord | null {
    return this.lookupNode(a).record;
  }

  /**
   * @internal The record for the address and the prefix length of the tree node it fell in,
   * record or empty: every address of that network gets the same answer. The prefix is the
   * full address length when the database cannot say (IPv6 on an IPv4-only tree, an error).
   */
  lookupNode(a: ValidAddress): { record: GeoRecord | null; prefix: number } {
    const full = a.family === 4 ? 32 : 128;
    // An IPv4-only tree walks the first 32 bits of an IPv6 address and can answer with
    // another network's data (a real DB gave 2001:db8::1 → US /11), so never ask it.
    if (a.family === 6 && this.info.ipVersion === 4) return { record: null, prefix: full };
    let rec: Response | null;
    let prefix: number;
    try {
      [rec, prefix] = this.#reader.getWithPrefixLength(a.address);
    } catch {
      this.#errors++;
      return { record: null, prefix: full };
    }
    if (rec === null) return { record: null, prefix };
    return { record: { ...readRecord(rec), prefix, network: networkOf(a.address, a.family, prefix) }, prefix };
  }
}

/**
 * The middle of a country (COUNTRY_CENTROIDS), for a record with a country but no coordinates:
 * proximity can then rank regions for country-level databases. null for an unknown code.
 */
export function countryCentroid(country: string | null): GeoPoint | null {
  const c = country === null ? undefined : COUNTRY_CENTROIDS.get(country === 'UK' ? 'GB' : country);
  return c === undefined ? null : Object.freeze({ lat: c[0], lon: c[1] });
}

/** A GeoInfo with nothing known, e.g. for an invalid or private address. */
export function emptyGeoInfo(source: string): GeoInfo {
  return Object.freeze({
    continent: null,
    country: null,
    subdivisions: Object.freeze([]) as readonly string[],
    location: null,
    asn: null,
    geoPrefix: null,
    asnPrefix: null,
    source,
  });
}

const DEFAULT_CACHE_SIZE = 10_000;
const NO_SAMPLES: ReadonlyMap<string, ContinentSample> = new Map();

/**
 * Answers GeoInfo for an address from a location database (city, country or flat) and an
 * optional ASN database. Results are cached per address text in a bounded map (least
 * recently used entries go first), so repeat lookups on the query path cost one Map hit.
 */
export class GeoResolver {
  readonly databases: readonly GeoDbInfo[];
  readonly #location: GeoDatabase | null;
  readonly #asn: GeoDatabase | null;
  readonly #cache = new Map<string, GeoInfo>();
  readonly #cacheSize: number;

  /**
   * @param location a city, country or flat-country database, or null for none
   * @param asn an ASN database, or null (a City/Enterprise DB's traits.autonomous_system_number is used then)
   * @param options.cacheSize most addresses kept (default 10000; 0 disables the cache)
   * @throws GeoDatabaseError when a database is of the wrong kind for its slot
   */
  constructor(location: GeoDatabase | null, asn: GeoDatabase | null, options: { cacheSize?: number } = {}) {
    if (location !== null && location.info.kind === 'asn') {
      throw new GeoDatabaseError(location.info.file, `is an ASN database (${location.info.databaseType}); the location database must be a city, country or flat country one`);
    }
    if (asn !== null && asn.info.kind !== 'asn') {
      throw new GeoDatabaseError(asn.info.file, `is a ${asn.info.kind} database (${asn.info.databaseType}), not an ASN database`);
    }
    this.#location = location;
    this.#asn = asn;
    this.databases = Object.freeze([location, asn].filter((d): d is GeoDatabase => d !== null).map((d) => d.info));
    const size = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    this.#cacheSize = Number.isFinite(size) && size > 0 ? Math.floor(size) : 0;
  }

  /** The location database's address per continent (GeoDatabase.continentSamples); empty without one. */
  continentSamples(): ReadonlyMap<string, ContinentSample> {
    return this.#location?.continentSamples() ?? NO_SAMPLES;
  }

  /** Entries in the cache now (for metrics and tests). */
  get cacheEntries(): number {
    return this.#cache.size;
  }

  /**
   * GeoInfo for an IPv4 or IPv6 address. '::ffff:a.b.c.d' is looked up as a.b.c.d. An invalid
   * address, a special-purpose one (private, loopback, link-local, CGNAT, ULA, multicast: never
   * looked up, as some databases wrongly place them), or one no database knows gives an empty
   * GeoInfo whose source says why. Never throws.
   * The returned object is frozen and may be shared between callers.
   */
  lookup(address: string): GeoInfo {
    const cached = this.#cache.get(address);
    if (cached !== undefined) {
      // Re-insert to mark it recently used; Map keeps insertion order, oldest first.
      this.#cache.delete(address);
      this.#cache.set(address, cached);
      return cached;
    }
    const info = this.#resolve(address);
    if (this.#cacheSize > 0 && typeof address === 'string') {
      if (this.#cache.size >= this.#cacheSize) {
        const oldest = this.#cache.keys().next();
        if (oldest.done !== true) this.#cache.delete(oldest.value);
      }
      this.#cache.set(address, info);
    }
    return info;
  }

  #resolve(address: string): GeoInfo {
    const a = validAddress(address);
    if (a === null) return emptyGeoInfo(`invalid address ${JSON.stringify(address).slice(0, 60)}`);
    if (this.#location === null && this.#asn === null) return emptyGeoInfo('no GeoIP database');
    const special = nonGlobalReason(parseIPOctets(a.address)!);
    if (special !== null) return emptyGeoInfo(`not located: ${a.address} is ${special}`);

    const sources: string[] = [];
    const node = { prefix: 0 };
    const loc = this.#location === null ? null : this.#ask(this.#location, a, sources, node);
    const asnRec = this.#asn === null ? null : this.#ask(this.#asn, a, sources, node);

    let asn: number | null = null;
    let asnPrefix: number | null = null;
    if (asnRec !== null && asnRec.asn !== null) {
      asn = asnRec.asn;
      asnPrefix = asnRec.prefix;
    } else if (loc !== null && loc.asn !== null) {
      // GeoIP2 Enterprise layout: traits.autonomous_system_number in the location record.
      asn = loc.asn;
      asnPrefix = loc.prefix;
    }
    const centroid = loc !== null && loc.location === null ? countryCentroid(loc.country) : null;
    return Object.freeze({
      continent: loc?.continent ?? null,
      country: loc?.country ?? null,
      subdivisions: loc?.subdivisions ?? (Object.freeze([]) as readonly string[]),
      location: centroid ?? loc?.location ?? null,
      ...(centroid !== null && { locationApprox: 'country-centroid' as const }),
      asn,
      geoPrefix: loc?.prefix ?? null,
      asnPrefix,
      networkPrefix: node.prefix,
      source: sources.join('; '),
    });
  }

  /** One database's record; widens `node.prefix` to the longest tree node consulted. */
  #ask(db: GeoDatabase, a: ValidAddress, sources: string[], node: { prefix: number }): GeoRecord | null {
    const label = db.info.label;
    if (a.family === 6 && db.info.ipVersion === 4) {
      // Not asked, so the answer does not depend on this database.
      sources.push(`${label} IPv4-only`);
      return null;
    }
    const { record, prefix } = db.lookupNode(a);
    if (prefix > node.prefix) node.prefix = prefix;
    sources.push(record === null ? `${label} no match for ${a.address}` : `${label} ${record.network}`);
    return record;
  }
}
