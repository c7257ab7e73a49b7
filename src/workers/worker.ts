/**
 * One DNS worker process (`--workers N`): the data plane only. It waits for the primary's
 * config, rebuilds each snapshot the primary publishes (zone files from the shared folder,
 * health and latency from the message), and answers on sockets of its own in each port's
 * SO_REUSEPORT group (dns.reusePort), or else on those node:cluster shares: the primary
 * holds the UDP socket and every worker reads it; TCP connections are handed out round robin. No admin API, no probes, no zone watching: those are the primary's.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { clientLocator, openGeo } from '../geoip/open-geo.js';
import { createDataPlane, type DnsServer } from '../server/dns-server.js';
import type { KeyReloader } from '../dnssec/reload.js';
import type { SnapshotStore } from '../snapshot/snapshot.js';
import { SnapshotBuilder } from '../control/snapshot-builder.js';
import { LatencySamples } from '../steer/latency-samples.js';
import { ZoneDirectory, type LoadOutcome } from '../control/zone-directory.js';
import { formatProblem } from '../problems/problem-list.js';
import type { Zone } from '../zone/zone.js';
import { nameKey, type Name } from '../dns/name.js';
import { catalogName, withCatalog } from '../transfer/catalog.js';
import type { FromWorker, LiveLatency, SnapshotState, ToWorker } from './messages.js';
import { applyZoneDelta, type ZoneDelta } from '../zone/zone-transfer.js';
import { startZoneLoadProcess, ZoneLoadThread } from '../control/zone-load-thread-pool.js';
import { namesChanged, nextChanges, sameHealth } from '../control/names-changed.js';
import type { Registry } from 'prom-client';
import { registryJson, workerMetricsRegistry } from './metrics.js';

type Init = Extract<ToWorker, { kind: 'init' }>;

/** A worker's view of the primary's state, turned into snapshots. */
export class WorkerState {
  readonly store: SnapshotStore;
  readonly #zones: ZoneDirectory;
  readonly #builder: SnapshotBuilder;
  readonly #config: Config;
  /** The primary's GeoIP generation the databases were opened for; -1 before the first state. */
  #geoGeneration = -1;
  readonly #log: Logger;
  #zonesGeneration = -1;
  #zonesServed: ReadonlyMap<string, Zone> = new Map();
  /** For each re-read in flight, the deltas applied since it began. */
  readonly #rereads = new Set<ZoneDelta[]>();
  #last: SnapshotState | null = null;
  #lastLive: LiveLatency = { regionRtt: new Map(), samples: [] };
  #version = 0;
  #live: { rtt: ReadonlyMap<string, number>; samples: LatencySamples | null } = { rtt: new Map(), samples: null };
  /** `dns.transfer.catalog`, and the catalog zone this worker serves: the primary's, rebuilt here with its serial. */
  readonly #catalog: Name | null;
  #catalogZone: Zone | null = null;

  constructor(config: Config, log: Logger) {
    this.#log = log;
    this.#config = config;
    this.#catalog = catalogName(config.dns.transfer.catalog);
    this.#zones = new ZoneDirectory(config.zones.directory);
    this.#builder = new SnapshotBuilder(config.dns.chaos, clientLocator(openGeo(config)));
    this.store = this.#builder.store(0, { zones: new Map() });
  }

  /**
   * Applies the primary's state: the node changes of admin writes to the zones served, or
   * re-reads the zone files when they changed there (or a delta does not fit), then publishes.
   * Resolves when a re-read this state started is served (at once when none was needed).
   */
  apply(state: SnapshotState): Promise<void> {
    this.#followGeo(state.geoGeneration);
    let reread = state.zonesGeneration !== this.#zonesGeneration;
    if (!reread && state.deltas.length > 0) {
      const zones = new Map(this.#zonesServed);
      for (const d of state.deltas) {
        const zone = zones.get(d.origin);
        const next = zone === undefined ? null : applyZoneDelta(zone, d);
        if (next === null) reread = true;
        else zones.set(d.origin, next);
      }
      if (!reread) {
        for (const arrived of this.#rereads) arrived.push(...state.deltas);
        this.#zonesServed = zones;
        this.#log.info({ zones: state.deltas.map((d) => `${d.origin}.`) }, 'applied the zone changes of an admin write');
      }
    }
    this.#last = state;
    let served = Promise.resolve();
    if (reread) {
      // Forced: the primary may have reloaded for an $INCLUDE'd file the stamps cannot see.
      // Off this thread, the first load too (which comes before listening), like the primary's.
      served = this.#rereadInBackground(state, this.#zonesGeneration === -1);
      this.#zonesGeneration = state.zonesGeneration;
    }
    this.#setLive(state.live);
    return served;
  }

  /**
   * The primary reloaded its GeoIP databases: open the same files here (checked the same
   * way). One that fails here keeps this worker's databases serving, and the log says so.
   * The snapshot published next has a new version, so no decision of the old ones is served.
   */
  #followGeo(generation: number): void {
    const first = this.#geoGeneration === -1;
    if (generation === this.#geoGeneration) return;
    this.#geoGeneration = generation;
    if (first) return; // opened by the constructor, from the same files
    try {
      this.#builder.setLocate(clientLocator(openGeo(this.#config)), generation);
      this.#log.info({ generation }, 'GeoIP databases reopened');
    } catch (err) {
      const file = (err as { file?: unknown }).file;
      this.#log.error({ file, reason: (err as Error).message }, `GeoIP reload failed in this worker, its previous database keeps serving: ${(err as Error).message}`);
    }
  }

  /** `first`: nothing is served yet, so the thread runs at full priority. */
  #rereadInBackground(state: SnapshotState, first: boolean): Promise<void> {
    const thread = new ZoneLoadThread(undefined, !first);
    const arrived: ZoneDelta[] = [];
    this.#rereads.add(arrived);
    return this.#zones
      .exclusive(() => this.#zones.loadAsync(true, (file, origin, previous) => thread.load(file, origin, previous)))
      .then((outcome) => {
        if (outcome === null) return;
        // The file may have been read before the admin writes that reached this worker as
        // deltas meanwhile: those that fit what was read are applied to it (one already in
        // the file does not fit its serial and is skipped), else the re-read would undo them.
        const zones = new Map(outcome.zones);
        for (const d of arrived) {
          const zone = zones.get(d.origin);
          const next = zone === undefined ? null : applyZoneDelta(zone, d);
          if (next !== null) zones.set(d.origin, next);
        }
        this.#serve({ ...outcome, zones }, this.#last ?? state);
        this.#setLive(this.#lastLive);
        this.#log.info({ zones: zones.size }, 'zones re-read');
      })
      .catch((err: unknown) => this.#log.error({ err }, 'zone re-read failed; the previous data keeps serving'))
      .finally(() => {
        this.#rereads.delete(arrived);
        void thread.close();
      });
  }

  #serve(outcome: LoadOutcome, state: SnapshotState): void {
    this.#zonesServed = outcome.zones;
    for (const p of outcome.problems) if (p.severity === 'error') this.#log.error(formatProblem(p));
    for (const [origin, serial] of state.serials) {
      if (this.#catalog !== null && origin === nameKey(this.#catalog) && !outcome.zones.has(origin)) continue; // built, not read
      const mine = outcome.zones.get(origin)?.serial;
      if (mine !== serial) this.#log.warn({ zone: `${origin}.`, primary: serial, worker: mine ?? null }, 'worker read a different zone file than the primary serves');
    }
  }

  /** New live latency inputs: the same version, so cached decisions (which never use them) stay. */
  updateLive(live: LiveLatency): void {
    if (this.#last !== null) this.#setLive(live, false);
  }

  /**
   * Publishes; `changed` gives the snapshot a new version (this worker's own count: a re-read
   * that finishes later changes the zones without a message from the primary).
   */
  #setLive(live: LiveLatency, changed = true): void {
    if (changed) this.#version++;
    this.#lastLive = live;
    const now = Date.now();
    const samples = new LatencySamples();
    for (const s of live.samples) {
      const ttlSec = (Date.parse(s.expiresAt) - now) / 1000;
      if (ttlSec > 0) samples.add(s.network, s.region, s.ms, ttlSec);
    }
    this.#live = { rtt: live.regionRtt, samples };
    const state = this.#last!;
    const rtt = this.#live.rtt;
    let zones = this.#zonesServed;
    const catalogSerial = this.#catalog === null ? undefined : state.serials.get(nameKey(this.#catalog));
    if (this.#catalog !== null && catalogSerial !== undefined) {
      // The primary's catalog, member for member and with its serial, so that a secondary
      // sees one catalog whichever process takes its transfer.
      const listed = withCatalog(this.#catalog, zones, this.#catalogZone, catalogSerial);
      this.#catalogZone = listed.catalog;
      zones = listed.zones;
    }
    const current = this.store.current;
    // An admin write's deltas change some names: the caches keep every other answer, as on the primary.
    const names = changed && current.geoGeneration === state.geoGeneration && sameHealth(current.health, state.health) ? namesChanged(current.zones, zones) : null;
    this.store.publish(
      this.#builder.build(this.#version, {
        zones,
        health: state.health,
        regionRtt: (region) => rtt.get(region) ?? null,
        samples,
        changes: current.version === this.#version - 1 ? nextChanges(current, names) : [],
      }),
    );
  }
}

/**
 * Runs a worker: init → first snapshot → listen → ready, then snapshots and live updates
 * until `stop` (or the primary going away, which the caller turns into stop). Resolves once
 * the sockets are closed. A failure before ready is reported to the primary, which gives up.
 */
export function runWorker(send: (m: FromWorker) => void, createLog: (config: Config) => Logger): { handle: (m: ToWorker) => void; stop: () => Promise<void> } {
  let init: Init | null = null;
  let log: Logger | null = null;
  let state: WorkerState | null = null;
  let server: DnsServer | null = null;
  let keys: KeyReloader | null = null;
  let metrics: Registry | null = null;
  let stopping: Promise<void> | null = null;
  let listening = false;

  const stop = (): Promise<void> => {
    keys?.stop();
    return (stopping ??= server === null ? Promise.resolve() : server.close());
  };

  const listen = async (init: Init, l: Logger, s: WorkerState): Promise<void> => {
    const plane = createDataPlane(init.config.dns, s.store, l, init.reusePort);
    server = plane.server;
    keys = plane.keys;
    metrics = workerMetricsRegistry(plane.responder, init.slot, plane.server.received, () => plane.server.udpCounters());
    const addresses = await server.listen(init.listen);
    send({ kind: 'ready', addresses });
  };

  const handle = (m: ToWorker): void => {
    try {
      switch (m.kind) {
        case 'init':
          init = m;
          // Before the first zones load, as the primary does (see startZoneLoadProcess).
          log = createLog(m.config);
          startZoneLoadProcess(log);
          state = new WorkerState(m.config, log);
          return;
        case 'snapshot': {
          if (state === null) throw new Error('snapshot before init');
          const served = state.apply(m);
          if (!listening) {
            // Listens once the first zones are served: before, every query would be REFUSED.
            listening = true;
            const s = state;
            served.then(() => (stopping === null ? listen(init!, log!, s) : undefined)).catch((err: unknown) => send({ kind: 'failed', message: (err as Error).message }));
          }
          return;
        }
        case 'live':
          state?.updateLive(m.live);
          return;
        case 'rescan':
          void server?.rescan();
          keys?.reload();
          return;
        case 'stop':
          void stop();
          return;
        case 'metrics':
          void (metrics === null ? Promise.resolve([]) : registryJson(metrics)).then((json) => send({ kind: 'metrics', id: m.id, metrics: json }));
      }
    } catch (err) {
      send({ kind: 'failed', message: (err as Error).message });
    }
  };
  return { handle, stop };
}
