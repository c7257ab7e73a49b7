/**
 * The one place a Snapshot is put together (issue #18 item 3): the primary's publisher, each
 * DNS worker's rebuild of the primary's state, and the commands that answer from the files once
 * (`explain`, `simulate`) all go through a SnapshotBuilder, which holds what stays fixed for a
 * process (the CHAOS answers; the client locator, until a GeoIP reload) and takes what changes (zones, health, live
 * latency) with the version the caller numbers.
 */
import type { TargetHealth } from '../health/state-machine.js';
import { createSnapshot, SnapshotStore, type ChaosAnswers, type ClientLocator, type Snapshot } from '../snapshot/snapshot.js';
import type { LatencySamples } from '../steer/latency-samples.js';
import type { NamesChange } from '../snapshot/per-snapshot-cache.js';
import type { Zone } from '../zone/zone.js';

/** What changes from one snapshot to the next. */
export interface SnapshotInputs {
  readonly zones: ReadonlyMap<string, Zone>;
  /** Health of the probed targets, by Target.key; absent: none probed (every target up). */
  readonly health?: ReadonlyMap<string, TargetHealth>;
  /** Probe RTT per region, read live; absent: none. */
  readonly regionRtt?: (region: string) => number | null;
  /** Admin API RTT samples, read live; absent: none. */
  readonly samples?: LatencySamples | null;
  /** The names an admin write changed, with those of the versions before (Snapshot.changes); absent: anything may have changed. */
  readonly changes?: readonly NamesChange[];
}

/** A command answering from the files once: no CHAOS answers (REFUSED), as `meridian check` serves nothing. */
const NO_CHAOS: ChaosAnswers = { version: null, identity: null };

export class SnapshotBuilder {
  readonly #chaos: ChaosAnswers;
  #locate: ClientLocator;
  /** Moves with every GeoIP reload, so DNS workers know to reopen the databases. */
  #geoGeneration = 0;

  constructor(chaos: ChaosAnswers, locate: ClientLocator) {
    this.#chaos = chaos;
    this.#locate = locate;
  }

  /** For `explain` and `simulate`: the files' zones, once. */
  static offline(locate: ClientLocator): SnapshotBuilder {
    return new SnapshotBuilder(NO_CHAOS, locate);
  }

  /** New GeoIP databases (a reload): snapshots built from now on locate clients with them. */
  setLocate(locate: ClientLocator, generation = this.#geoGeneration + 1): void {
    this.#locate = locate;
    this.#geoGeneration = generation;
  }

  build(version: number, inputs: SnapshotInputs): Snapshot {
    return createSnapshot({ version, chaos: this.#chaos, locate: this.#locate, geoGeneration: this.#geoGeneration, ...inputs });
  }

  /** A store holding the first snapshot, for the data plane to read from. */
  store(version: number, inputs: SnapshotInputs): SnapshotStore {
    return new SnapshotStore(this.build(version, inputs));
  }
}
