import type { HealthMonitor } from '../health/health-monitor.js';
import type { MonitoredTarget } from '../health/types.js';
import type { ClientLocator, SnapshotStore } from '../snapshot/snapshot.js';
import type { SnapshotBuilder } from './snapshot-builder.js';
import type { Zone } from '../zone/zone.js';
import type { LatencySamples } from '../steer/latency-samples.js';

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

  constructor(store: SnapshotStore, builder: SnapshotBuilder, monitor: HealthMonitor | null, samples: LatencySamples | null = null) {
    this.#samples = samples;
    this.#store = store;
    this.#builder = builder;
    this.#zones = store.current.zones;
    this.#monitor = monitor;
  }

  /** New zones: probes follow them (new targets start, removed ones stop), then publish. */
  setZones(zones: ReadonlyMap<string, Zone>): void {
    this.#zones = zones;
    this.#monitor?.sync(monitoredOf(zones));
    this.publish();
  }

  /** New GeoIP databases: a new snapshot version, so no cached decision made with the old ones is served. */
  setLocate(locate: ClientLocator): void {
    this.#builder.setLocate(locate);
    this.publish();
  }

  publish(): void {
    const monitor = this.#monitor;
    this.#store.publish(
      this.#builder.build(this.#store.current.version + 1, {
        zones: this.#zones,
        health: monitor?.answerView(),
        regionRtt: monitor ? (region) => monitor.regionRtt(region) : undefined,
        samples: this.#samples,
      }),
    );
  }
}

export function monitoredOf(zones: ReadonlyMap<string, Zone>): MonitoredTarget[] {
  const out: MonitoredTarget[] = [];
  for (const zone of zones.values()) for (const t of zone.monitored) out.push(t);
  return out;
}
