/** The shared store's plain data, as the admin API, /metrics and the wiring name it. */

/** One key of the store as a node last saw it; `value` null: deleted. */
export interface SharedEntry {
  readonly key: string;
  readonly value: Uint8Array | null;
  /** The store's revision of this write (grows over the whole bucket). */
  readonly revision: number;
  /** When the store took it (ms since the epoch, the NATS server's clock). */
  readonly created: number;
}

/** What /v1/status and /metrics say of this node's link to the store. */
export interface SharedStoreState {
  /** This node's name in the cluster (cluster.node). */
  readonly node: string;
  readonly servers: readonly string[];
  readonly bucket: string;
  /** Connected to a NATS server. */
  readonly connected: boolean;
  /** Connected and caught up with the bucket since the last (re)connect: writes are taken. */
  readonly synced: boolean;
  /** When `synced` last changed, ms since the epoch. */
  readonly since: number;
  /** The highest revision this node has seen. */
  readonly revision: number;
  /**
   * How changes reach this node while in step: 'watch' (a JetStream consumer pushes them),
   * 'reads' (read from the stream every 250 ms, while no consumer can be made: the NATS
   * cluster has no metadata leader, or the account may not create consumers); null otherwise.
   */
  readonly follows: 'watch' | 'reads' | null;
  readonly lastError: string | null;
}

/** What applies the store's entries to this node (the admin layer's replica). */
export interface SharedReplica {
  /**
   * Every key's current value, at start and after each reconnect, before writes are taken
   * again: the replica brings itself in line (and may write what the store lacks).
   */
  resync(entries: readonly SharedEntry[]): Promise<void>;
  /** One change after that, in revision order; awaited before the next. */
  apply(entry: SharedEntry): Promise<void>;
}

/** Why a write was refused: no store to write to, a newer revision there, or a value over its limit. */
export type SharedWriteFailure = 'unavailable' | 'stale' | 'too-large';

export class SharedWriteError extends Error {
  readonly reason: SharedWriteFailure;
  constructor(reason: SharedWriteFailure, message: string) {
    super(message);
    this.name = 'SharedWriteError';
    this.reason = reason;
  }
}

/** The store the cluster shares (cluster/kv-store.ts over NATS JetStream KV). */
export interface SharedStore {
  state(): SharedStoreState;
  /**
   * Writes `value` (null deletes) under `key` if the key is still at `expected` (0: absent);
   * null: whatever is there. Resolves with the new revision once the store acknowledged it;
   * rejects with a SharedWriteError, never writing anything locally.
   */
  write(key: string, value: Uint8Array | null, expected: number | null): Promise<number>;
  /** A key as the store has it now: null when it never held it, `value` null when deleted. */
  read(key: string): Promise<SharedEntry | null>;
  close(): Promise<void>;
}
