import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { ClientLocator } from '../steer/types.js';
import { GeoResolver, openGeoDatabase } from './geo-database.js';

/** The configured database files, as absolute paths (what a reload watches). */
export function geoFiles(config: Config): string[] {
  return [config.geoip.location, config.geoip.asn].filter((f): f is string => f !== null).map((f) => path.resolve(f));
}

/** Opens the configured GeoIP databases; each is checked with a test lookup before use. */
export function openGeo(config: Config, log?: Logger): GeoResolver {
  const location = config.geoip.location === null ? null : openGeoDatabase(config.geoip.location);
  const asn = config.geoip.asn === null ? null : openGeoDatabase(config.geoip.asn);
  for (const db of [location, asn]) {
    if (db) log?.info({ file: db.info.file, type: db.info.databaseType, built: db.info.buildEpoch }, 'GeoIP database loaded');
  }
  return new GeoResolver(location, asn);
}

/** Where a client is, as snapshots ask it: the address's GeoIP record with the query's details. */
export function clientLocator(geo: GeoResolver): ClientLocator {
  return (address, family, sourcePrefix, fromEcs) => ({ address, family, sourcePrefix, fromEcs, geo: geo.lookup(address) });
}
