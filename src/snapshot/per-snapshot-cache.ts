/**
 * A cache whose entries hold for one snapshot version only: the first use with another
 * version empties it, so nothing cached can outlive the zones, policies or health it was
 * computed from. The responder calls useVersion with the current snapshot's version before
 * each lookup.
 */
export abstract class PerSnapshotCache {
  #version = -1;

  /** Drops every entry when `version` differs from the one the entries were made for. */
  useVersion(version: number): void {
    if (version !== this.#version) {
      this.clear();
      this.#version = version;
    }
  }

  abstract clear(): void;
}
