/**
 * The one place that wires the server together: config → zones → snapshot → responder →
 * listeners, plus the reload triggers. Everything else receives its dependencies.
 */
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { ZoneReloader } from './control/zone-reloader.js';
import { Responder } from './dns/responder.js';
import { ErrorCode, GslbError } from './errors.js';
import { DnsServer, type BoundAddress } from './server/dns-server.js';
import { parseListenAddress } from './server/listen-address.js';
import { createSnapshot, SnapshotStore, type ChaosAnswers, type ClientLocator } from './snapshot/snapshot.js';
import { GeoResolver, openGeoDatabase } from './geoip/geo-database.js';
import { formatProblem } from './zone/record.js';
import { ZoneDirectory } from './zone/zone-directory.js';

export interface RunningServer {
  readonly addresses: readonly BoundAddress[];
  readonly store: SnapshotStore;
  readonly zones: ZoneDirectory;
  readonly responder: Responder;
  /** Re-reads the zones folder (`force` re-reads unchanged files too); true when answers changed. */
  reload(force?: boolean): boolean;
  close(): Promise<void>;
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

export interface StartOptions {
  /** Install SIGHUP for reloads (the CLI does; tests call reload() instead). */
  readonly handleSignals?: boolean;
}

export async function startServer(config: Config, log: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const listen = config.dns.listen.map(parseListenAddress);
  const zones = new ZoneDirectory(config.zones.directory);
  const first = zones.load(true);
  const errors = first.problems.filter((p) => p.severity === 'error');
  for (const p of first.problems) if (p.severity === 'warning') log.warn(formatProblem(p));
  if (errors.length > 0) {
    const details = errors.map(formatProblem);
    throw new GslbError(ErrorCode.ZONE_INVALID, details.join('\n'), details);
  }
  const chaos: ChaosAnswers = { version: config.dns.chaos.version, identity: config.dns.chaos.identity };
  const geo = openGeo(config, log);
  const locate: ClientLocator = (address, family, sourcePrefix, fromEcs) => ({ address, family, sourcePrefix, fromEcs, geo: geo.lookup(address) });
  const store = new SnapshotStore(createSnapshot({ version: 1, zones: first.zones, chaos, locate }));
  const responder = new Responder(store, { udpPayloadSize: config.dns.udpPayloadSize, cacheMaxEntries: config.dns.cacheMaxEntries });
  const server = new DnsServer(responder, { ...config.dns.tcp, maxPendingOutputBytes: 256 * 1024 }, log);
  const addresses = await server.listen(listen).catch(async (err: unknown) => {
    await server.close();
    throw err;
  });
  const reloader = new ZoneReloader(zones, store, log);
  if (config.zones.watch) reloader.watch(config.zones.debounceMs);
  const onHup = (): void => {
    log.info('SIGHUP: reloading zones');
    reloader.reload(true);
  };
  if (options.handleSignals) process.on('SIGHUP', onHup);
  log.info({ zones: [...first.zones.keys()].map((k) => k + '.'), listen: addresses }, 'meridian is serving');
  return {
    addresses,
    store,
    zones,
    responder,
    reload: (force = true) => reloader.reload(force),
    async close() {
      process.off('SIGHUP', onHup);
      reloader.stop();
      await server.close();
    },
  };
}
