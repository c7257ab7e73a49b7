/**
 * What the primary and the DNS workers say to each other over the cluster IPC channel
 * ('advanced' serialization, so Maps travel as Maps). The primary owns zones, health, the
 * admin API and latency data; a worker only answers queries from what it is sent.
 */
import type { Config } from '../config/schema.js';
import type { TargetHealth } from '../health/state-machine.js';
import type { BoundAddress } from '../server/dns-server.js';
import type { ListenAddress } from '../net/listen-address.js';
import type { ZoneDelta } from '../zone/zone-transfer.js';
import type { WorkerMetricsJson } from './metrics.js';

/** Live latency inputs, read per query rather than frozen in a snapshot version. */
export interface LiveLatency {
  /** Smoothed probe RTT per region (HealthMonitor.regionRtt). */
  readonly regionRtt: ReadonlyMap<string, number>;
  /** Admin API samples, as LatencySamples.list() gives them. */
  readonly samples: ReadonlyArray<{ network: string; region: string; ms: number; expiresAt: string }>;
}

/**
 * Everything a worker needs to rebuild the primary's snapshot: the zone files are re-read
 * from the shared zones folder whenever `zonesGeneration` moves; health and latency come
 * with the message. `version` is the primary's, so caches turn over together.
 */
export interface SnapshotState {
  readonly kind: 'snapshot';
  readonly version: number;
  readonly zonesGeneration: number;
  /** Moves with every GeoIP reload of the primary: the worker reopens the database files then. */
  readonly geoGeneration: number;
  /** Serials of the zones the primary serves, by origin key: a worker that reads different files says so. */
  readonly serials: ReadonlyMap<string, number>;
  /**
   * Zones an admin write changed since the previous state, as the nodes it changed (the
   * generation stays): a worker applies them to the version it serves, or re-reads the files
   * when it cannot.
   */
  readonly deltas: readonly ZoneDelta[];
  readonly health: ReadonlyMap<string, TargetHealth>;
  readonly live: LiveLatency;
}

export type ToWorker =
  | {
      readonly kind: 'init';
      readonly config: Config;
      /** This worker's place among the N, 0 to N-1; a replacement takes the dead worker's (the `worker` metric label). */
      readonly slot: number;
      /** dns.listen with any port 0 replaced by the port the primary picked when `reusePort`. */
      readonly listen: readonly ListenAddress[];
      /** Bind sockets of its own in each port's SO_REUSEPORT group, rather than cluster's shared ones. */
      readonly reusePort: boolean;
    }
  | SnapshotState
  | { readonly kind: 'live'; readonly live: LiveLatency }
  /** SIGHUP reached the primary: re-read the interface addresses behind a wildcard listen address, and the DNSSEC keys. */
  | { readonly kind: 'rescan' }
  /** Finish the TCP queries in flight, close the sockets and exit 0. */
  | { readonly kind: 'stop' }
  /** A scrape of the primary's /metrics: answer with this worker's registry as JSON (metrics.ts). */
  | { readonly kind: 'metrics'; readonly id: number };

export type FromWorker =
  /**
   * The worker listens for orders now. A cluster worker's IPC channel is read from start-up
   * on, so anything sent before its handler exists would be dropped: the primary waits for this.
   */
  | { readonly kind: 'started' }
  | { readonly kind: 'ready'; readonly addresses: readonly BoundAddress[] }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'metrics'; readonly id: number; readonly metrics: WorkerMetricsJson };
