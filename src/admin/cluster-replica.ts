/**
 * This node's side of the cluster store (cluster/): what the admin API commits there before
 * it changes anything here, and what every node applies of the others' writes. Keys:
 * `zone.<name>` holds a zone's file and policy file, whole (gzip'd JSON); `op.<target>` a
 * target's operator override (drain, force-up). Names are base64url in keys (NATS keys take
 * few characters). Files stay this node's copy: it serves them, and serves them again after
 * a restart with no NATS. A value this node cannot read is logged and skipped; the old data
 * keeps serving.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { ForcedState, HealthStatus } from '../health/state-machine.js';
import { quorumVerdicts, type NodeReport, type QuorumVerdict } from '../health/quorum.js';
import { nameKey, nameToText, parseName, type Name } from '../dns/name.js';
import { SharedWriteError, type SharedEntry, type SharedReplica, type SharedStore, type SharedStoreState } from '../cluster/types.js';
import { ControlError, controlError } from './errors.js';
import { ErrorCode } from '../errors.js';
import type { ZoneDirectory } from '../control/zone-directory.js';
import type { SharedZones, ZoneDoc, ZoneEditor } from '../control/zone-editor.js';

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

/** Keys: a prefix and the name in base64url (NATS keys are [-/_=.A-Za-z0-9]). */
export const zoneKey = (origin: Name): string => `zone.${Buffer.from(nameToText(origin)).toString('base64url')}`;
export const operatorKey = (target: string): string => `op.${Buffer.from(target).toString('base64url')}`;
/** A node's health report: what its own probes see of each target. */
export const reportKey = (node: string): string => `obs.${Buffer.from(node).toString('base64url')}`;

/** One POST /v1/latency: `lat.<node>.<unique>`. */
const latencyKey = (node: string, unique: string): string => `lat.${Buffer.from(node).toString('base64url')}.${unique}`;

function decodeKey(key: string): { kind: 'zone' | 'op' | 'obs' | 'lat'; name: string } | null {
  const m = /^(zone|op|obs|lat)\.([A-Za-z0-9_-]+)(\.[0-9a-z]+)?$/.exec(key);
  if (m === null || (m[1] === 'lat') !== (m[3] !== undefined)) return null;
  return { kind: m[1] as 'zone' | 'op' | 'obs' | 'lat', name: Buffer.from(m[2]!, 'base64url').toString('utf8') };
}

export interface LatencySample {
  readonly network: string;
  readonly region: string;
  readonly ms: number;
}

async function encodeLatency(expiresAt: number, samples: readonly LatencySample[]): Promise<Uint8Array> {
  return gzip(Buffer.from(JSON.stringify({ expiresAt, samples: samples.map((x) => [x.network, x.region, x.ms]) })));
}

async function decodeLatency(value: Uint8Array): Promise<{ expiresAt: number; samples: LatencySample[] }> {
  const v = JSON.parse((await gunzip(value)).toString('utf8')) as { expiresAt?: unknown; samples?: unknown };
  if (typeof v.expiresAt !== 'number' || !Array.isArray(v.samples)) throw new Error('not a latency batch');
  const samples = v.samples.map((x: unknown, i) => {
    if (!Array.isArray(x) || typeof x[0] !== 'string' || typeof x[1] !== 'string' || typeof x[2] !== 'number' || !(x[2] >= 0 && x[2] <= 60_000))
      throw new Error(`samples[${i}]: not [network, region, ms]`);
    return { network: x[0], region: x[1], ms: x[2] };
  });
  return { expiresAt: v.expiresAt, samples };
}

/** The latency table as the replica feeds it (steer/latency-samples.ts). */
export interface LatencyTable {
  add(network: string, region: string, ms: number, ttlSec: number): void;
}

export async function encodeZoneDoc(doc: ZoneDoc): Promise<Uint8Array> {
  return gzip(Buffer.from(JSON.stringify({ v: 1, zone: doc.zone, policy: doc.policy })));
}

export async function decodeZoneDoc(value: Uint8Array): Promise<ZoneDoc> {
  const v = JSON.parse((await gunzip(value)).toString('utf8')) as { v?: unknown; zone?: unknown; policy?: unknown };
  if (v.v !== 1 || typeof v.zone !== 'string' || !(typeof v.policy === 'string' || v.policy === null)) throw new Error('not a zone document of version 1');
  return { zone: v.zone, policy: v.policy };
}

export interface ReplicaLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** The health monitor as the replica uses it. */
export interface Overrides {
  force(key: string, forced: ForcedState): boolean;
  /** This node's own view (its probes). */
  view(): ReadonlyMap<string, { readonly status: HealthStatus; readonly forced: ForcedState }>;
  setVerdicts(verdicts: ReadonlyMap<string, QuorumVerdict> | null): void;
}

export interface QuorumOptions {
  /** How often this node reports (and re-reads the others' reports' ages); a report counts for 2 × this. */
  readonly reportMs: number;
  /** health.quorum: nodes that must see a target down; null: a majority of those reporting. */
  readonly quorum: number | null;
}

export class ClusterReplica implements SharedReplica, SharedZones {
  readonly #dir: ZoneDirectory;
  readonly #monitor: Overrides;
  readonly #log: ReplicaLog;
  #editor: ZoneEditor | null = null;
  #store: SharedStore | null = null;
  /** The revision of each zone (by name key) this node serves. */
  readonly #served = new Map<string, number>();
  /** The cluster's operator overrides, kept for targets this node does not know yet. */
  readonly #forced = new Map<string, ForcedState>();
  readonly #quorum: QuorumOptions;
  /** The other nodes' latest health reports, by node name. */
  readonly #reports = new Map<string, NodeReport>();
  #reportTimer: NodeJS.Timeout | null = null;
  #reportSoon: NodeJS.Timeout | null = null;

  readonly #latency: LatencyTable;
  /** Latency batches applied here (a resync reads them again: the table smooths, so each counts once), with when they expire. */
  readonly #latencyApplied = new Map<string, number>();
  #latencySeq = 0;

  constructor(dir: ZoneDirectory, monitor: Overrides, log: ReplicaLog, quorum: QuorumOptions, latency: LatencyTable) {
    this.#dir = dir;
    this.#monitor = monitor;
    this.#log = log;
    this.#quorum = quorum;
    this.#latency = latency;
  }

  /**
   * POST /v1/latency in a cluster: the batch goes to the store (all of it, or nothing: one
   * value), then every node adds it with what is left of its TTL. The bucket keeps no TTL of
   * its own on NATS 2.9: a batch found expired is deleted by the node that finds it.
   */
  async addLatency(samples: readonly LatencySample[], ttlSec: number): Promise<void> {
    const node = this.#store!.state().node;
    const expiresAt = Date.now() + ttlSec * 1000;
    const key = latencyKey(node, `${Date.now().toString(36)}${(this.#latencySeq++).toString(36)}`);
    await this.#write(key, await encodeLatency(expiresAt, samples), 0, `${samples.length} latency samples`);
    this.#latencyApplied.set(key, expiresAt);
  }

  async #applyLatency(e: SharedEntry): Promise<void> {
    if (e.value === null) {
      this.#latencyApplied.delete(e.key);
      return;
    }
    if (this.#latencyApplied.has(e.key)) return;
    const batch = await decodeLatency(e.value);
    const left = batch.expiresAt - Date.now();
    if (left <= 0) {
      // Expired: whoever sees it first deletes it (compare-and-set: once).
      this.#store!.write(e.key, null, e.revision).catch(() => {});
      return;
    }
    this.#latencyApplied.set(e.key, batch.expiresAt);
    for (const x of batch.samples) {
      try {
        this.#latency.add(x.network, x.region, x.ms, left / 1000);
      } catch (err) {
        this.#log.warn({ key: e.key, network: x.network, err: (err as Error).message }, 'cluster: a latency sample that cannot be read; skipped');
      }
    }
  }

  /** Forgets expired batches (the table ages their samples out by itself) and deletes this node's from the store. */
  #sweepLatency(): void {
    const now = Date.now();
    const own = `lat.${Buffer.from(this.#store?.state().node ?? '').toString('base64url')}.`;
    for (const [key, expiresAt] of this.#latencyApplied) {
      if (expiresAt > now) continue;
      this.#latencyApplied.delete(key);
      if (key.startsWith(own)) this.#store?.write(key, null, null).catch(() => {});
    }
  }

  /** Reports this node's view every reportMs and recomputes the verdicts (reports age out). */
  startReporting(): void {
    if (this.#reportTimer !== null) return;
    this.#reportTimer = setInterval(() => {
      void this.#report();
      this.#decide();
      this.#sweepLatency();
    }, this.#quorum.reportMs);
    this.#reportTimer.unref();
  }

  stopReporting(): void {
    if (this.#reportTimer !== null) clearInterval(this.#reportTimer);
    if (this.#reportSoon !== null) clearTimeout(this.#reportSoon);
    this.#reportTimer = this.#reportSoon = null;
  }

  /** This node's view changed: decide again now, and report it within 50 ms (a burst of changes reports once). */
  healthChanged(): void {
    this.#decide();
    if (this.#reportSoon !== null || this.#store === null) return;
    this.#reportSoon = setTimeout(() => {
      this.#reportSoon = null;
      void this.#report();
    }, 50);
    this.#reportSoon.unref();
  }

  /** Own statuses as plain data (what the others count). */
  #ownView(): Map<string, HealthStatus> {
    return new Map([...this.#monitor.view()].map(([k, h]) => [k, h.status]));
  }

  async #report(): Promise<void> {
    const store = this.#store;
    if (store === null || !store.state().synced) return;
    const targets = Object.fromEntries(this.#ownView());
    try {
      await store.write(reportKey(store.state().node), Buffer.from(JSON.stringify({ targets })), null);
    } catch {
      // Not in step: the others age this node's last report out, as they should.
    }
  }

  #decide(): void {
    this.#monitor.setVerdicts(quorumVerdicts(this.#ownView(), this.#reports.values(), Date.now(), 2 * this.#quorum.reportMs, this.#quorum.quorum));
  }

  /** The editor and the store are built after the replica (each needs it); both before the first sync. */
  attach(editor: ZoneEditor, store: SharedStore): void {
    this.#editor = editor;
    this.#store = store;
  }

  state(): SharedStoreState {
    return this.#store!.state();
  }

  /**
   * The other nodes this node has a health report of (the status page): when each last
   * reported, and whether that report still counts towards quorum (younger than 2 × reportMs).
   */
  peers(now = Date.now()): Array<{ node: string; reportedAt: number; counted: boolean }> {
    return [...this.#reports.values()].map((r) => ({ node: r.node, reportedAt: r.at, counted: now - r.at <= 2 * this.#quorum.reportMs })).sort((a, b) => a.node.localeCompare(b.node));
  }

  revision(originKey: string): number {
    return this.#served.get(originKey) ?? 0;
  }

  served(originKey: string, revision: number): void {
    if (revision > (this.#served.get(originKey) ?? 0)) this.#served.set(originKey, revision);
    // Targets of a zone just loaded take the cluster's overrides (only where they differ: each is logged and republished).
    if (this.#forced.size === 0) return;
    const now = this.#monitor.view();
    for (const [target, forced] of this.#forced) {
      const h = now.get(target);
      if (h !== undefined && h.forced !== forced) this.#monitor.force(target, forced);
    }
  }

  forgotten(originKey: string): void {
    this.#served.delete(originKey);
  }

  async commit(origin: Name, doc: ZoneDoc | null, expected: number): Promise<number> {
    return this.#write(zoneKey(origin), doc === null ? null : await encodeZoneDoc(doc), expected, `zone ${nameToText(origin)}`);
  }

  /** Drain, force-up or clear targets for the whole cluster: committed first, then applied here. */
  async force(targets: readonly string[], forced: ForcedState): Promise<void> {
    for (const t of targets) await this.#write(operatorKey(t), Buffer.from(JSON.stringify({ forced })), null, `target ${t}`);
    for (const t of targets) this.#forced.set(t, forced);
  }

  async #write(key: string, value: Uint8Array | null, expected: number | null, what: string): Promise<number> {
    try {
      return await this.#store!.write(key, value, expected);
    } catch (err) {
      if (!(err instanceof SharedWriteError)) throw err;
      if (err.reason === 'stale') {
        throw expected === 0
          ? controlError(ErrorCode.GSLB_ERR_API_CONFLICT, `${what} exists in the cluster`)
          : controlError(ErrorCode.GSLB_ERR_API_STALE, `${what} was changed on another node meanwhile; read it again and retry`);
      }
      if (err.reason === 'too-large') throw controlError(ErrorCode.GSLB_ERR_API_CLUSTER_TOO_LARGE, `${what}: ${err.message}`);
      throw controlError(ErrorCode.GSLB_ERR_API_CLUSTER_UNAVAILABLE, `${what}: ${err.message}`);
    }
  }

  async resync(entries: readonly SharedEntry[]): Promise<void> {
    const zones = new Set<string>();
    for (const e of entries) {
      const k = decodeKey(e.key);
      if (k?.kind === 'zone') zones.add(e.key);
      await this.apply(e);
    }
    // Zones this node has and the store lacks: a first node seeds the store with its files
    // (the first to write wins; the others take its version from the watch). A zone the
    // store deleted is deleted here too.
    for (const s of this.#dir.statuses) {
      if (zones.has(zoneKey(s.origin)) || s.zone === null) continue;
      const known = await this.#store!.read(zoneKey(s.origin));
      if (known !== null && known.value === null) {
        await this.#editor!.applyShared(s.origin, null, known.revision);
        continue;
      }
      if (known !== null) continue;
      try {
        const revision = await this.commit(s.origin, this.#editor!.exportZone(s.origin), 0);
        this.served(nameKey(s.origin), revision);
        this.#log.info({ zone: nameToText(s.origin), revision }, 'cluster: seeded the store with this zone');
      } catch (err) {
        if (err instanceof ControlError && err.code === ErrorCode.GSLB_ERR_API_CONFLICT) this.#log.info({ zone: nameToText(s.origin) }, 'cluster: another node seeded this zone first');
        // Too large for one NATS message: it can never be shared, and failing here would keep
        // the node out of step (refusing every write) for good. It serves from this node's file.
        else if (err instanceof ControlError && err.code === ErrorCode.GSLB_ERR_API_CLUSTER_TOO_LARGE)
          this.#log.error(
            { zone: nameToText(s.origin), err: err.message },
            "cluster: this zone is too large to share; it is served from this node's file only (raise max_payload on the NATS servers, or keep it as a file on every node)",
          );
        else throw err;
      }
    }
  }

  async apply(e: SharedEntry): Promise<void> {
    const k = decodeKey(e.key);
    if (k === null) {
      this.#log.warn({ key: e.key }, 'cluster: a key this version does not know; skipped');
      return;
    }
    try {
      if (k.kind === 'lat') {
        await this.#applyLatency(e);
        return;
      }
      if (k.kind === 'obs') {
        if (k.name === this.#store?.state().node) return;
        if (e.value === null) this.#reports.delete(k.name);
        else this.#reports.set(k.name, { node: k.name, at: e.created, targets: parseReport(e.value) });
        this.#decide();
        return;
      }
      if (k.kind === 'op') {
        const forced = e.value === null ? null : parseForced(e.value);
        this.#forced.set(k.name, forced);
        this.#monitor.force(k.name, forced);
        return;
      }
      const origin = parseName(k.name, null);
      let doc: ZoneDoc | null;
      try {
        doc = e.value === null ? null : await decodeZoneDoc(e.value);
      } catch (err) {
        // Not a zone this version can read (written by hand, say): the old data keeps serving,
        // and the revision counts as seen, so the next write (on any node) replaces the value.
        this.#log.error({ key: e.key, revision: e.revision, err }, 'cluster: a zone value that cannot be read; the old zone keeps serving until the next write replaces it');
        this.served(nameKey(origin), e.revision);
        return;
      }
      await this.#editor!.applyShared(origin, doc, e.revision);
    } catch (err) {
      this.#log.error({ key: e.key, revision: e.revision, err }, 'cluster: a shared value could not be applied; the old data keeps serving');
    }
  }
}

function parseReport(value: Uint8Array): Record<string, HealthStatus> {
  const v = JSON.parse(Buffer.from(value).toString('utf8')) as { targets?: unknown };
  if (typeof v.targets !== 'object' || v.targets === null || Array.isArray(v.targets)) throw new Error('targets: not an object');
  const out: Record<string, HealthStatus> = Object.create(null) as Record<string, HealthStatus>;
  for (const [k, s] of Object.entries(v.targets as Record<string, unknown>)) {
    if (s !== 'up' && s !== 'down' && s !== 'unknown') throw new Error(`targets.${k}: ${JSON.stringify(s)} is not up, down or unknown`);
    out[k] = s;
  }
  return out;
}

function parseForced(value: Uint8Array): ForcedState {
  const v = JSON.parse(Buffer.from(value).toString('utf8')) as { forced?: unknown };
  if (v.forced === 'up' || v.forced === 'down' || v.forced === null) return v.forced;
  throw new Error(`forced: ${JSON.stringify(v.forced)} is not "up", "down" or null`);
}
