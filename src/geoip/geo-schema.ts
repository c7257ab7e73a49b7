/**
 * The record layouts we read, how a database's layout is recognised, and how one record is
 * turned into plain fields. Every field may be missing or of the wrong type in real data
 * (MaxMind's test DBs leave fields out on purpose), so nothing here trusts the TS types of
 * `maxmind`: records are read as `unknown` and narrowed.
 *
 * | kind           | examples                                           | fields read |
 * |----------------|----------------------------------------------------|-------------|
 * | `city`         | GeoIP2/GeoLite2-City, GeoIP2-Enterprise, DB-IP City | continent.code, country.iso_code, subdivisions[].iso_code, city.names.en, location.{latitude,longitude,accuracy_radius}, traits.{autonomous_system_number,…,is_anycast} |
 * | `country`      | GeoIP2/GeoLite2-Country, DB-IP Country             | continent.code, country.iso_code, traits.* |
 * | `asn`          | GeoLite2-ASN, GeoIP2-ISP, DB-IP ASN                | autonomous_system_number, autonomous_system_organization |
 * | `flat-country` | ip-location-db `*-country-mmdb` ({ country_code }) | country_code (continent from continents.ts); latitude/longitude if present |
 */
import type { GeoPoint } from '../steer/types.js';
import { continentOfCountry } from './continents.js';

export type GeoDbKind = 'city' | 'country' | 'asn' | 'flat-country';

/** The fields of one record, before the network is attached. */
export interface RecordFields {
  readonly continent: string | null;
  readonly country: string | null;
  /** ISO 3166-2 codes ("GB-ENG"), most general first. */
  readonly subdivisions: readonly string[];
  /** English city name, when the database has one. */
  readonly city: string | null;
  readonly location: GeoPoint | null;
  readonly accuracyRadiusKm: number | null;
  readonly asn: number | null;
  readonly asnOrganization: string | null;
  /** traits.is_anycast: the network is anycast, so its location says little about the client. */
  readonly isAnycast: boolean;
}

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

function finite(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function asnNumber(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 0xffffffff ? v : null;
}

/**
 * Picks the kind from a sample record (found by walking the tree) and the metadata's
 * database_type. The record wins where it is unambiguous: ip-location-db's flat DBs say
 * "country ipvAll", but their records have `country_code`, not `country.iso_code`.
 * Returns null when neither says anything we can read.
 */
export function detectKind(databaseType: string, sample: unknown): GeoDbKind | null {
  const rec = obj(sample) ?? {};
  if (typeof rec['country_code'] === 'string' && obj(rec['country']) === null) return 'flat-country';
  if (/ASN|ISP/i.test(databaseType) || asnNumber(rec['autonomous_system_number']) !== null) return 'asn';
  if (/City|Enterprise/i.test(databaseType) || 'city' in rec || 'location' in rec || 'subdivisions' in rec || 'postal' in rec) return 'city';
  if (/Country/i.test(databaseType) || 'country' in rec || 'continent' in rec || 'registered_country' in rec) return 'country';
  return null;
}

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * Reads the fields of one record. Both layouts are read whatever the kind, so a database
 * with an odd mix (a flat DB with a `country` map, an Enterprise DB with ASN traits) still
 * yields what it has.
 */
export function readRecord(record: unknown): RecordFields {
  const rec = obj(record) ?? {};
  const countryObj = obj(rec['country']);
  const continentObj = obj(rec['continent']);
  const traits = obj(rec['traits']);
  const locationObj = obj(rec['location']);

  const countryRaw = str(countryObj?.['iso_code']) ?? str(rec['country_code']);
  const country = countryRaw === null ? null : countryRaw.toUpperCase();
  const continent = str(continentObj?.['code'])?.toUpperCase() ?? continentOfCountry(country);

  let subdivisions = EMPTY;
  const subs = rec['subdivisions'];
  if (country !== null && Array.isArray(subs) && subs.length > 0) {
    const codes: string[] = [];
    for (const s of subs) {
      const iso = str(obj(s)?.['iso_code']);
      if (iso !== null) codes.push(`${country}-${iso.toUpperCase()}`);
    }
    if (codes.length > 0) subdivisions = Object.freeze(codes);
  }

  const lat = finite(locationObj?.['latitude']) ?? finite(rec['latitude']);
  const lon = finite(locationObj?.['longitude']) ?? finite(rec['longitude']);
  const location = lat !== null && lon !== null && Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? Object.freeze({ lat, lon }) : null;

  const asn = asnNumber(rec['autonomous_system_number']) ?? asnNumber(traits?.['autonomous_system_number']);
  const asnOrganization = str(rec['autonomous_system_organization']) ?? str(traits?.['autonomous_system_organization']);

  return {
    continent,
    country,
    subdivisions,
    city: str(obj(obj(rec['city'])?.['names'])?.['en']) ?? str(rec['city']),
    location,
    accuracyRadiusKm: finite(locationObj?.['accuracy_radius']),
    asn,
    asnOrganization,
    isAnycast: traits?.['is_anycast'] === true,
  };
}
