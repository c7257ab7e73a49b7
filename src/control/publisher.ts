import type { HealthMonitor } from '../health/health-monitor.js';
import type { MonitoredTarget } from '../health/types.js';
import type { ClientLocator, SnapshotStore } from '../snapshot/snapshot.js';
import type { SnapshotBuilder } from './snapshot-builder.js';
import type { Zone } from '../zone/zone.js';
import type { LatencySamples } from '../steer/latency-samples.js';
import type { Name } from '../dns/name.js';
import { withCatalog } from '../transfer/catalog.js';
import { namesChanged, nextChanges, sameHealth } from './names-changed.js';

/**
 * Assembles and publishes snapshots: zones from the reloader, health from the monitor.
 * Every publish gets a new version, so the answer cache can never serve an old decision.
 */
export class SnapshotPublisher {
  readonly #store: SnapshotStore;
  readonly #builder: SnapshotBuilder;
  readonly #monitor: HealthMonitor | null;
  #zones: ReadonlyMap<string, Zone>;

  readonly #samples: LatencySamples | null;
  /** `dns.transfer.catalog`: the catalog zone's name, and the catalog served now. */
  readonly #catalog: Name | null;
  #catalogZone: Zone | null = null;

  constructor(store: SnapshotStore, builder: SnapshotBuilder, monitor: HealthMonitor | null, samples: LatencySamples | null = null, catalog: Name | null = null) {
    this.#samples = samples;
    this.#catalog = catalog;
    this.#store = store;
    this.#builder = builder;
    this.#zones = store.current.zones;
    this.#monitor = monitor;
  }

  /**
   * New zones: probes follow them (new targets start, removed ones stop), then publish; with
   * the catalog zone listing them (a new serial only when the set of zones changed). A zone
   * file of the catalog's own name is served instead of it.
   */
  setZones(zones: ReadonlyMap<string, Zone>): void {
    if (this.#catalog !== null) {
      const listed = withCatalog(this.#catalog, zones, this.#catalogZone);
      this.#catalogZone = listed.catalog;
      zones = listed.zones;
    }
    const names = namesChanged(this.#zones, zones);
    this.#zones = zones;
    this.#monitor?.sync(monitoredOf(zones));
    this.publish(names);
  }

  /** New GeoIP databases: a new snapshot version, so no cached decision made with the old ones is served. */
  setLocate(locate: ClientLocator): void {
    this.#builder.setLocate(locate);
    this.publish();
  }

  /** A new snapshot; `names`: the only names whose records changed since the current one (else anything may have). */
  publish(names: readonly string[] | null = null): void {
    const monitor = this.#monitor;
    const current = this.#store.current;
    const health = monitor?.answerView();
    // The caches may keep answers only when health is as the current snapshot has it (the monitor publishes its own changes).
    if (names !== null && health !== undefined && !sameHealth(current.health, health)) names = null;
    this.#store.publish(
      this.#builder.build(current.version + 1, {
        zones: this.#zones,
        health,
        regionRtt: monitor ? (region) => monitor.regionRtt(region) : undefined,
        samples: this.#samples,
        changes: nextChanges(current, names),
      }),
    );
  }
}

export function monitoredOf(zones: ReadonlyMap<string, Zone>): MonitoredTarget[] {
  const out: MonitoredTarget[] = [];
  for (const zone of zones.values()) for (const t of zone.monitored) out.push(t);
  return out;
}
