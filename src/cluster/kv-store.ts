/**
 * The shared store over NATS JetStream KV: one bucket, written compare-and-set on each key's
 * revision, watched by every node. The connection is kept (reconnecting without end); after
 * every (re)connect the node reads the whole bucket again and hands it to the replica before
 * it takes writes (`synced`), then follows the changes from the revision it read at. While
 * not synced every write is refused (never a silent local write); the node serves what it has.
 *
 * Reading the bucket asks only the stream's leader, as a write does: its keys from the stream
 * info, each key's last message by subject. A watch (a JetStream consumer) also needs the NATS
 * cluster's metadata leader, which is re-elected for seconds to minutes after a NATS server
 * dies; until one can be made the node follows by reading the stream message by message
 * (`follows: 'reads'`), so a node that can write can also catch up.
 */
import fs from 'node:fs';
import os from 'node:os';
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import { jetstreamManager, type JetStreamManager, type MsgRequest, type StoredMsg } from '@nats-io/jetstream';
import { SharedWriteError, type SharedEntry, type SharedReplica, type SharedStore, type SharedStoreState } from './types.js';

export interface KvStoreOptions {
  readonly servers: readonly string[];
  readonly bucket: string;
  readonly replicas: number;
  readonly node: string | null;
  readonly credentials: string | null;
  readonly token: string | null;
  readonly user: string | null;
  readonly password: string | null;
  readonly tls: { readonly caFile: string | null; readonly certFile: string | null; readonly keyFile: string | null };
  readonly writeTimeoutMs: number;
  readonly pingIntervalMs: number;
}

export interface StoreLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The NATS client's options from cluster config: credentials and TLS as NATS clients take them. */
export function connectionOptions(o: KvStoreOptions): ConnectionOptions {
  const opts: ConnectionOptions = {
    servers: [...o.servers],
    name: `meridian ${o.node ?? os.hostname()}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: o.pingIntervalMs,
    maxPingOut: 2,
    timeout: o.writeTimeoutMs,
  };
  if (o.credentials !== null) {
    const file = o.credentials;
    opts.authenticator = credsAuthenticator(() => fs.readFileSync(file));
  }
  if (o.token !== null) opts.token = o.token;
  if (o.user !== null) {
    opts.user = o.user;
    if (o.password !== null) opts.pass = o.password;
  }
  if (o.tls.caFile !== null || o.tls.certFile !== null) {
    opts.tls = {
      ...(o.tls.caFile !== null && { caFile: o.tls.caFile }),
      ...(o.tls.certFile !== null && { certFile: o.tls.certFile }),
      ...(o.tls.keyFile !== null && { keyFile: o.tls.keyFile }),
    };
  }
  return opts;
}

/**
 * The bucket for a one-off command (`meridian cluster import|export`): connected once (no
 * retries), created when missing. close() ends the connection.
 */
export async function openBucket(opts: KvStoreOptions): Promise<{ kv: KV; close(): Promise<void> }> {
  const nc = await connect({ ...connectionOptions(opts), maxReconnectAttempts: 0 });
  try {
    const kvm = new Kvm(nc);
    const kv = await kvm.open(opts.bucket);
    try {
      await kv.status();
      return { kv, close: () => nc.close() };
    } catch (err) {
      if (!/stream not found/i.test((err as Error).message)) throw err;
    }
    return { kv: await kvm.create(opts.bucket, { history: 5, replicas: opts.replicas, timeout: opts.writeTimeoutMs }), close: () => nc.close() };
  } catch (err) {
    await nc.close();
    throw err;
  }
}

/** How often the watch is checked against the bucket (#checkWatch). */
const WATCH_CHECK_MS = 1_000;
/** While there is no watch: how often the stream is read for changes (#poll), and a watch tried again. */
const POLL_MS = 250;
const WATCH_RETRY_MS = 5_000;

export class KvStore implements SharedStore {
  readonly #opts: KvStoreOptions;
  readonly #replica: SharedReplica;
  readonly #log: StoreLog;
  #nc: NatsConnection | null = null;
  #kv: KV | null = null;
  #jsm: JetStreamManager | null = null;
  #connected = false;
  #synced = false;
  #since = Date.now();
  #revision = 0;
  #lastError: string | null = null;
  #closed = false;
  /** While the replica brings itself in line: its own writes (seeding the store) are taken. */
  #resyncing = false;
  /** The running watch, stopped on reconnect (a new sync starts its own). */
  #watch: { stop(): void } | null = null;
  /** Reads the stream for changes while there is no watch (#poll), and tries for one. */
  #pollTimer: NodeJS.Timeout | null = null;
  /** The running #poll: the watch takes over only after it ended. */
  #pollRun: Promise<void> | null = null;
  #watchTry: Promise<void> | null = null;
  #pollFailed = false;
  #watchTriedAt = 0;
  /** A failed watch was logged since the last one made: said once, not every WATCH_RETRY_MS. */
  #watchFailed = false;
  /** Syncs run one at a time; a reconnect during one asks for another. */
  #syncing: Promise<void> = Promise.resolve();
  #generation = 0;
  /** Checks the watch keeps up (#checkWatch). */
  #liveness: NodeJS.Timeout | null = null;
  /** The bucket's last revision at the previous check, when the watch had not reached it. */
  #behind: number | null = null;
  /**
   * The stream sequence up to which every change has been handed to the replica in order
   * (the sync's read, then the watch or #poll). Unlike #revision, this node's own writes do not
   * move it: they must not hide a watch that stopped delivering.
   */
  #cursor = 0;
  readonly #started: Promise<void>;

  constructor(opts: KvStoreOptions, replica: SharedReplica, log: StoreLog) {
    this.#opts = opts;
    this.#replica = replica;
    this.#log = log;
    this.#started = this.#run();
  }

  state(): SharedStoreState {
    return {
      node: this.#opts.node ?? os.hostname(),
      servers: this.#opts.servers,
      bucket: this.#opts.bucket,
      connected: this.#connected,
      synced: this.#synced,
      since: this.#since,
      revision: this.#revision,
      follows: this.#synced ? this.#follows() : null,
      lastError: this.#lastError,
    };
  }

  /** Resolves once connected and synced (tests and start-up logging); never rejects. */
  async ready(): Promise<void> {
    await this.#started;
    while (!this.#synced && !this.#closed) await new Promise((r) => setTimeout(r, 20));
  }

  async #run(): Promise<void> {
    // The node serves its files at once; the link comes up in the background, tried again
    // every half second until close().
    let nc: NatsConnection | null = null;
    while (nc === null) {
      if (this.#closed) return;
      try {
        nc = await connect(connectionOptions(this.#opts));
      } catch (err) {
        if (this.#lastError === null || !this.#lastError.startsWith('cannot connect')) this.#fail(err, 'cannot connect to NATS');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    if (this.#closed) {
      await nc.close();
      return;
    }
    this.#nc = nc;
    this.#connected = true;
    this.#log.info({ server: nc.getServer(), bucket: this.#opts.bucket }, 'cluster: connected to NATS');
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          this.#connected = false;
          this.#setSynced(false);
          this.#lastError = 'disconnected from NATS';
          this.#log.warn({ server: s.server }, 'cluster: lost NATS; serving the last state, refusing writes');
        } else if (s.type === 'reconnect') {
          this.#connected = true;
          this.#log.info({ server: s.server }, 'cluster: NATS is back; catching up');
          this.#scheduleSync();
        }
      }
    })();
    this.#scheduleSync();
  }

  #setSynced(synced: boolean): void {
    if (this.#synced === synced) return;
    this.#synced = synced;
    this.#since = Date.now();
  }

  #fail(err: unknown, what: string): void {
    this.#lastError = `${what}: ${(err as Error).message}`;
    this.#log.error({ err }, `cluster: ${what}`);
  }

  #scheduleSync(): void {
    const generation = ++this.#generation;
    this.#syncing = this.#syncing.then(() => this.#syncUntilDone(generation));
  }

  /** Retries a failed sync (JetStream electing a leader, say) while it is still the latest asked for. */
  async #syncUntilDone(generation: number): Promise<void> {
    while (!this.#closed && generation === this.#generation && this.#connected) {
      try {
        await this.#sync(generation);
        return;
      } catch (err) {
        this.#fail(err, 'cannot read the shared state');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /**
   * Reads every key (from the revision the bucket was at before the read), hands them to the
   * replica, then follows from that revision on: a write made during the read comes again,
   * at worst twice (the replica skips what it has). Deleted keys come as deletions, so a
   * delete missed while cut off is not kept here.
   */
  async #sync(generation: number): Promise<void> {
    this.#setSynced(false);
    this.#stopFollowing();
    const nc = this.#nc!;
    this.#kv ??= await this.#bucket(nc);
    // No account info request (checkAPI): the metadata leader answers it.
    const jsm = this.#jsm ?? (await jetstreamManager(nc, { checkAPI: false }));
    this.#jsm = jsm;
    const prefix = this.#keyPrefix();
    const info = await jsm.streams.info(this.#stream(), { subjects_filter: `${prefix}>` });
    const from = info.state.last_seq;
    const entries: SharedEntry[] = [];
    // By subject, as #poll reads: the KV client's get refuses keys with characters it does not
    // allow, and one such key (put there by another client) would stop every sync here.
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const m = await jsm.streams.getMessage(this.#stream(), { last_by_subj: subject });
      if (m !== null) entries.push(storedEntry(m, prefix));
    }
    if (generation !== this.#generation) return;
    for (const e of entries) this.#revision = Math.max(this.#revision, e.revision);
    this.#revision = Math.max(this.#revision, from);
    this.#cursor = from;
    this.#resyncing = true;
    try {
      await this.#replica.resync(entries);
    } finally {
      this.#resyncing = false;
    }
    if (generation !== this.#generation || this.#closed) return;
    this.#lastError = null;
    this.#setSynced(true);
    this.#behind = null;
    if (this.#liveness === null) {
      this.#liveness = setInterval(() => void this.#checkWatch(), WATCH_CHECK_MS);
      this.#liveness.unref();
    }
    this.#log.info({ revision: this.#revision, keys: entries.length }, 'cluster: in step with the shared state');
    // Reads until the watch is made (at once, normally); a watch that cannot be made leaves
    // the reads going, and is tried again every WATCH_RETRY_MS.
    this.#pollTimer = setInterval(() => this.#pollTick(generation), POLL_MS);
    this.#pollTimer.unref();
    this.#tryWatch(generation);
  }

  #stopFollowing(): void {
    this.#watch?.stop();
    this.#watch = null;
    if (this.#pollTimer !== null) clearInterval(this.#pollTimer);
    this.#pollTimer = null;
  }

  /** How changes reach this node since the last sync: a watch, reads by sequence (#poll), or nothing yet. */
  #follows(): 'watch' | 'reads' | null {
    return this.#watch !== null ? 'watch' : this.#pollTimer !== null ? 'reads' : null;
  }

  #stream(): string {
    return `KV_${this.#opts.bucket}`;
  }

  #keyPrefix(): string {
    return `$KV.${this.#opts.bucket}.`;
  }

  #pollTick(generation: number): void {
    if (this.#pollRun === null) {
      this.#pollRun = this.#poll(generation).finally(() => {
        this.#pollRun = null;
      });
    }
    if (Date.now() - this.#watchTriedAt >= WATCH_RETRY_MS) this.#tryWatch(generation);
  }

  /** Hands the replica every change after #cursor, read one message at a time from the stream's leader. */
  async #poll(generation: number): Promise<void> {
    const jsm = this.#jsm!;
    const prefix = this.#keyPrefix();
    try {
      while (generation === this.#generation && this.#pollTimer !== null) {
        // The first message at or after the sequence: revisions superseded in the key's history are gone.
        const m = await jsm.streams.getMessage(this.#stream(), { seq: this.#cursor + 1, next_by_subj: `${prefix}>` } as MsgRequest);
        if (this.#pollFailed) {
          this.#pollFailed = false;
          this.#lastError = null;
        }
        if (m === null || generation !== this.#generation || this.#pollTimer === null) return;
        const e = storedEntry(m, prefix);
        this.#revision = Math.max(this.#revision, e.revision);
        await this.#replica.apply(e);
        this.#cursor = e.revision;
      }
    } catch (err) {
      // Tried again on the next tick (said once); a lost server is the connection's to handle.
      if (!this.#pollFailed && this.#connected) this.#fail(err, 'cannot read the changes from the store');
      this.#pollFailed = true;
    }
  }

  /**
   * Makes a watch from #cursor on. It takes over from #poll once the running read ended, and
   * skips what that read handed on meanwhile (both go in stream order, so nothing is missed).
   */
  #tryWatch(generation: number): void {
    if (this.#watchTry !== null) return;
    this.#watchTriedAt = Date.now();
    const kv = this.#kv!;
    this.#watchTry = (async () => {
      let watch: Awaited<ReturnType<KV['watch']>>;
      try {
        watch = await kv.watch({ resumeFromRevision: this.#cursor + 1 });
      } catch (err) {
        if (generation === this.#generation && !this.#watchFailed) {
          this.#watchFailed = true;
          this.#log.warn({ err: (err as Error).message }, 'cluster: cannot watch the store (no JetStream metadata leader?); reading its changes every 250 ms meanwhile');
        }
        return;
      }
      if (generation !== this.#generation || this.#closed || this.#pollTimer === null) {
        watch.stop();
        return;
      }
      this.#watch = watch;
      clearInterval(this.#pollTimer);
      this.#pollTimer = null;
      await this.#pollRun;
      // A new sync meanwhile stopped this watch (#stopFollowing) and follows on its own.
      if (generation !== this.#generation || this.#closed) return;
      this.#behind = null;
      if (this.#watchFailed) {
        this.#watchFailed = false;
        this.#log.info({ revision: this.#cursor }, 'cluster: watching the store again');
      }
      void this.#consume(watch);
    })().finally(() => {
      this.#watchTry = null;
    });
  }

  async #consume(watch: Awaited<ReturnType<KV['watch']>>): Promise<void> {
    try {
      for await (const e of watch) {
        if (e.revision <= this.#cursor) continue; // read by #poll before the watch took over
        this.#revision = Math.max(this.#revision, e.revision);
        this.#cursor = e.revision;
        await this.#replica.apply(entryOf(e));
      }
    } catch (err) {
      this.#fail(err, 'applying a shared change failed');
    }
    // A watch that ends by itself (its consumer gone): read everything again.
    if (this.#watch === watch && !this.#closed) {
      this.#watch = null;
      this.#scheduleSync();
    }
  }

  /**
   * The bucket, created by the first node that finds none. An existing one is only bound
   * (its stream leader answers), not created again: creating asks the NATS cluster's
   * metadata leader, which a node must not need to catch up while a NATS server is down.
   */
  async #bucket(nc: NatsConnection): Promise<KV> {
    const kvm = new Kvm(nc);
    const kv = await kvm.open(this.#opts.bucket);
    try {
      await kv.status();
      return kv;
    } catch (err) {
      if (!/stream not found/i.test((err as Error).message)) throw err;
    }
    this.#log.info({ bucket: this.#opts.bucket, replicas: this.#opts.replicas }, 'cluster: creating the bucket');
    return kvm.create(this.#opts.bucket, { history: 5, replicas: this.#opts.replicas, timeout: this.#opts.writeTimeoutMs });
  }

  /**
   * The client notices a watch whose server died only after a minute of missed heartbeats
   * (its ordered consumer's 30 s, twice); a node must not serve stale data that long. Every
   * WATCH_CHECK_MS the bucket's last revision is read: one the watch has not delivered by the
   * next check means it stalled, and everything is read again.
   */
  async #checkWatch(): Promise<void> {
    const kv = this.#kv;
    if (kv === null || !this.#synced || this.#closed || this.#watch === null) return;
    let last: number;
    try {
      last = (await kv.status()).streamInfo.state.last_seq;
    } catch {
      return; // the connection's own handling (disconnect, reconnect) takes over
    }
    if (this.#behind !== null && this.#cursor < this.#behind) {
      this.#log.warn({ revision: this.#cursor, bucket: this.#behind }, 'cluster: the watch fell behind the store; reading it again');
      this.#behind = null;
      this.#scheduleSync();
      return;
    }
    this.#behind = last > this.#cursor ? last : null;
  }

  async write(key: string, value: Uint8Array | null, expected: number | null): Promise<number> {
    const kv = this.#kv;
    const nc = this.#nc;
    if (!(this.#synced || this.#resyncing) || kv === null || nc === null)
      throw new SharedWriteError('unavailable', `not in step with the cluster store (${this.#lastError ?? 'connecting'}); the write is refused, nothing changed`);
    if (value !== null && value.length > nc.info!.max_payload - 1024) {
      throw new SharedWriteError('too-large', `${value.length} bytes is more than the NATS server takes in one message (max_payload ${nc.info!.max_payload})`);
    }
    try {
      let revision: number;
      if (value === null) {
        await kv.delete(key, expected === null ? {} : { previousSeq: expected });
        // The delete marker's revision: the bucket's last, read back.
        revision = (await kv.get(key))?.revision ?? (await kv.status()).streamInfo.state.last_seq;
      } else if (expected === 0) revision = await kv.create(key, value);
      else if (expected === null) revision = await kv.put(key, value);
      else revision = await kv.update(key, value, expected, this.#opts.writeTimeoutMs);
      this.#revision = Math.max(this.#revision, revision);
      return revision;
    } catch (err) {
      const message = (err as Error).message;
      if (/wrong last sequence|key exists/i.test(message)) throw new SharedWriteError('stale', `the cluster store has a newer version of ${key}`);
      throw new SharedWriteError('unavailable', `the cluster store did not acknowledge the write (${message}); it may or may not have been applied, read it back`);
    }
  }

  async read(key: string): Promise<SharedEntry | null> {
    const kv = this.#kv;
    if (kv === null) throw new SharedWriteError('unavailable', 'not connected to the cluster store');
    const e = await kv.get(key);
    return e === null ? null : entryOf(e);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#generation++;
    if (this.#liveness !== null) clearInterval(this.#liveness);
    this.#stopFollowing();
    const nc = this.#nc;
    this.#nc = null;
    this.#kv = null;
    if (nc !== null) await nc.close().catch(() => {});
    await this.#started;
  }
}

/** A message read from the bucket's stream, as the watch would have given it. */
function storedEntry(m: StoredMsg, prefix: string): SharedEntry {
  const operation = m.header?.get('KV-Operation') || 'PUT';
  return { key: m.subject.slice(prefix.length), value: operation === 'PUT' ? m.data : null, revision: m.seq, created: m.time.getTime() };
}

function entryOf(e: KvWatchEntry | { key: string; value: Uint8Array; revision: number; operation: string; created: Date }): SharedEntry {
  return { key: e.key, value: e.operation === 'PUT' ? e.value : null, revision: e.revision, created: e.created.getTime() };
}
