/**
 * Admin writes to zones and policies. Each change is validated in full (the same parser,
 * RDATA codecs, zone checks and policy schema as the files). A record change is applied to
 * the served zone by copy-on-write, appended to the zone's journal (storage/journal.ts) and
 * fsync'd, then published, before the caller answers 2xx: its cost grows with the change,
 * not the zone. The zone file is rewritten with the journal applied later, off the answering
 * thread (compaction). Policy writes rewrite the zone file whole, journal included. Writes
 * run one at a time; If-Match on the serial turns a stale write into 412.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { RRType, typeFromText, typeToText } from '../dns/constants.js';
import { isSubdomain, nameKey, nameToText, parseName, type Name } from '../dns/name.js';
import { compilePolicyText, policyFileFor } from '../steer/policy-file.js';
import { syncDir, writeFileAtomic, writeFileAtomicAsync } from '../storage/atomic-write.js';
import { encodeRdataText, RdataError, rdataToText } from '../zone/rdata/index.js';
import { tokenizeText } from '../zone/tokenizer.js';
import { parseYamlSource } from '../config/yaml-source.js';
import { formatProblem } from '../problems/problem-list.js';
import type { ZoneRecord } from '../zone/record.js';
import { bumpSerial, serializeZone, serializeZoneSliced, zoneRecords } from '../zone/serialize.js';
import { buildZone, type RRset, type Zone } from '../zone/zone.js';
import { ZoneLoadThread } from './zone-load-thread-pool.js';
import { updateZoneSliced, type PolicyChange, type RRsetChange } from '../zone/zone-update.js';
import { drainSliced, TimeSlicer } from '../zone/time-slice.js';
import { encodeEntrySliced, journalFileFor, JournalCorrupt, JournalWriter, type JournalChange, type JournalRRset } from '../storage/journal.js';
import { compactOffThread } from '../storage/journal-compaction.js';
import { originFromFileName, ZONE_FILE_SUFFIX, type ZoneDirectory, type ZoneFileStatus } from './zone-directory.js';
import { controlError, badRequest, conflict, journalCorrupt, notFound, stale, stopping } from './errors.js';
import { ErrorCode } from '../errors.js';

export interface RRsetBody {
  readonly ttl: number;
  readonly rdata: readonly string[];
}

export type BatchOp =
  | { readonly op: 'put'; readonly name: string; readonly type: string; readonly ttl: number; readonly rdata: readonly string[] }
  | { readonly op: 'delete'; readonly name: string; readonly type: string };

export interface WriteResult {
  readonly zone: string;
  readonly serial: number;
  readonly previousSerial: number | null;
  /** The zone's ETag after the write: its serial, or in a cluster its revision in the store. */
  readonly etag: string;
  /** A dry run: checked and built, nothing written; `serial` is the one the write would have given. */
  readonly dryRun?: true;
}

/** A zone as the cluster store holds it: its file and its policy file (null: none), whole. */
export interface ZoneDoc {
  readonly zone: string;
  readonly policy: string | null;
}

/**
 * The cluster store as the editor writes to it (admin/cluster-replica.ts): every write is
 * committed there, compare-and-set on the revision this node serves, before anything
 * changes here; a refusal (ControlError: GSLB_ERR_API_CLUSTER_UNAVAILABLE, 503; GSLB_ERR_API_STALE, 412) changes nothing.
 */
export interface SharedZones {
  /** The store's revision of the zone this node serves; 0: none. */
  revision(originKey: string): number;
  commit(origin: Name, doc: ZoneDoc | null, expected: number): Promise<number>;
  /** This node serves that revision now. */
  served(originKey: string, revision: number): void;
  forgotten(originKey: string): void;
}

const API_SOURCE = { file: '(admin API)', line: 0 };
const NOTE = 'written by the meridian admin API; edit through the API or by hand, comments are not kept';

export interface JournalOptions {
  /** Compact a zone's journal this long after its last write (a burst of writes compacts once). */
  readonly compactDelayMs: number;
  /** ... or as soon as the journal holds this many bytes. */
  readonly compactBytes: number;
}

export const DEFAULT_JOURNAL_OPTIONS: JournalOptions = { compactDelayMs: 5_000, compactBytes: 64 << 20 };

export interface EditorLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export class ZoneEditor {
  readonly #dir: ZoneDirectory;
  readonly #reload: () => void;
  readonly #reloadInBackground: () => Promise<unknown>;
  readonly #publish: (zones: ReadonlyMap<string, Zone>) => void;
  readonly #journal: JournalOptions;
  readonly #log: EditorLog | null;
  readonly #shared: SharedZones | null;
  /** The open journal of each zone file written since start. */
  readonly #writers = new Map<string, JournalWriter>();
  readonly #compactTimers = new Map<string, NodeJS.Timeout>();
  /** The compaction running per zone file, and whether another was asked for meanwhile. */
  readonly #compacting = new Map<string, Promise<void>>();
  /** Zone files whose nodes are being packed anew (#maybeRepack). */
  readonly #repacking = new Set<string>();
  #closed = false;

  /**
   * `reload` re-reads changed files on this thread and publishes a snapshot; `reloadInBackground`
   * does it off the answering thread (the zone reloader); `publish` publishes zones an
   * incremental write built.
   */
  constructor(
    dir: ZoneDirectory,
    reload: () => void,
    publish: (zones: ReadonlyMap<string, Zone>) => void,
    opts: { reloadInBackground?: () => Promise<unknown>; journal?: JournalOptions; log?: EditorLog; shared?: SharedZones } = {},
  ) {
    this.#dir = dir;
    this.#reload = reload;
    this.#reloadInBackground = opts.reloadInBackground ?? (async () => reload());
    this.#publish = publish;
    this.#journal = opts.journal ?? DEFAULT_JOURNAL_OPTIONS;
    this.#log = opts.log ?? null;
    this.#shared = opts.shared ?? null;
  }

  /** A zone's ETag: `"<serial>"`, or in a cluster `"r<revision>"` (the store's revision, the same on every node). */
  etag(zoneName: string): string {
    return this.#etagOf(this.zone(zoneName));
  }

  #etagOf(zone: Zone): string {
    const revision = this.#shared?.revision(zone.originKey) ?? 0;
    return revision > 0 ? `"r${revision}"` : `"${zone.serial}"`;
  }

  /**
   * Runs writes one after another, and never during an off-thread reload, so If-Match checks
   * and writes never interleave. A file changed on disk (a stat per zone tells) is reloaded
   * first, off the answering thread, so a hand edit not yet picked up is built upon, not
   * overwritten.
   */
  async #serial<T>(work: () => T | Promise<T>): Promise<T> {
    if (this.#closed) throw stopping();
    if (this.#dir.changedOnDisk()) await this.#reloadInBackground();
    return this.#dir.exclusive(work);
  }

  status(zoneName: string): ZoneFileStatus {
    const key = nameKey(parseOrigin(zoneName));
    const s = this.#dir.statuses.find((st) => nameKey(st.origin) === key);
    if (!s) throw notFound(`zone ${zoneName}`);
    return s;
  }

  zone(zoneName: string): Zone {
    const s = this.status(zoneName);
    if (!s.zone) throw controlError(ErrorCode.GSLB_ERR_ZONE_INVALID, `zone ${zoneName} has no valid version loaded`, null, s.problems.map(formatProblem));
    return s.zone;
  }

  /** The RRsets owned by `name`, optionally only that of `type`: one node lookup. */
  records(zoneName: string, name: string, type?: string): RRsetJson[] {
    const zone = this.zone(zoneName);
    const node = zone.nodes.get(nameKey(parseOwner(name, zone.origin)));
    const qtype = type === undefined ? null : parseType(type);
    const out: RRsetJson[] = [];
    for (const set of node?.rrsets.values() ?? []) if (qtype === null || set.type === qtype) out.push(rrsetJson(set));
    return out;
  }

  /**
   * One page of a zone's RRsets: at least `limit` (whole names, so a page may hold a few
   * more), and a cursor for the next page (null at the end). A page reads at most
   * MAX_NODES_PER_PAGE names, so the main thread's work is bounded by the page, not the zone.
   */
  recordsPage(zoneName: string, limit: number, cursor: string | undefined): { records: RRsetJson[]; next: string | null } {
    const zone = this.zone(zoneName);
    const from = cursor === undefined ? null : decodeCursor(cursor);
    const out: RRsetJson[] = [];
    let scanned = 0;
    for (const [key, node] of zone.nodes.entriesFrom(from)) {
      if (out.length >= limit || scanned >= MAX_NODES_PER_PAGE) return { records: out, next: encodeCursor(key) };
      scanned++;
      // the SOA first and NS second, as in a zone file
      for (const set of [...node.rrsets.values()].sort((a, b) => typeRank(a.type) - typeRank(b.type) || a.type - b.type)) out.push(rrsetJson(set));
    }
    return { records: out, next: null };
  }

  putRRset(zoneName: string, name: string, type: string, body: RRsetBody, ifMatch: string | undefined, dryRun = false): Promise<WriteResult> {
    return this.batch(zoneName, [{ op: 'put', name, type, ttl: body.ttl, rdata: body.rdata }], ifMatch, dryRun);
  }

  deleteRRset(zoneName: string, name: string, type: string, ifMatch: string | undefined, dryRun = false): Promise<WriteResult> {
    return this.batch(zoneName, [{ op: 'delete', name, type }], ifMatch, dryRun);
  }

  /**
   * Applies every operation or none. A dry run makes every check a write makes and builds the
   * new zone and its journal entry, then drops them: nothing is written, published or shared.
   */
  batch(zoneName: string, ops: readonly BatchOp[], ifMatch: string | undefined, dryRun = false): Promise<WriteResult> {
    return this.#serial(async () => {
      const status = this.status(zoneName);
      const zone = this.zone(zoneName);
      checkIfMatch(ifMatch, this.#etagOf(zone));
      // Edited by hand since the check before the queue: building on the old zone would lose the edit.
      if (!this.#dir.isCurrent(status.file)) throw conflict(`${status.file} changed on disk and is being reloaded; retry`);
      const changes: RRsetChange[] = [];
      // Whether each RRset exists after the operations so far, for a delete's 404.
      const present = new Map<string, boolean>();
      // Checked and encoded in time slices: 10,000 operations hold the answering thread for
      // a few milliseconds at a time, not for the whole batch.
      const slicer = new TimeSlicer();
      for (let i = 0; i < ops.length; i++) {
        const pause = slicer.tick();
        if (pause) await pause;
        const op = ops[i]!;
        const field = ops.length === 1 ? '' : `operations[${i}].`;
        const owner = parseOwner(op.name, zone.origin, `${field}name`);
        const type = parseType(op.type, `${field}type`);
        if (type === RRType.SOA && op.op === 'delete') throw badRequest(`${field}type`, 'the SOA cannot be deleted');
        const key = `${nameKey(owner)}|${type}`;
        const exists = present.get(key) ?? zone.nodes.get(nameKey(owner))?.rrsets.has(type) ?? false;
        if (op.op === 'delete' && !exists) throw notFound(`${typeToText(type)} records at ${nameToText(owner)}`);
        present.set(key, op.op === 'put');
        if (op.op === 'delete') {
          changes.push({ owner, type, class: 1, ttl: 0, rdatas: null, source: API_SOURCE });
          continue;
        }
        if (op.rdata.length === 0) throw badRequest(`${field}rdata`, 'needs at least one record; use DELETE to remove the RRset');
        if (type === RRType.SOA && op.rdata.length !== 1) throw badRequest(`${field}rdata`, 'a zone has exactly one SOA');
        const rdatas = op.rdata.map((text, j) => {
          try {
            return encodeApiRdata(type, text, zone.origin);
          } catch (err) {
            throw badRequest(`${field}rdata[${j}]`, (err as Error).message);
          }
        });
        changes.push({ owner, type, class: 1, ttl: op.ttl, rdatas, source: API_SOURCE });
      }
      return this.#writeChanges(status, zone, changes, slicer, undefined, dryRun);
    });
  }

  /**
   * The write path of record changes, as Knot applies a zone update: the new zone is built
   * from the old by copy-on-write (zone-update.ts, in time slices), the changed RRsets (old and
   * new) are appended to the journal and fsync'd, then the zone is served as built. Nothing
   * is acknowledged before the journal entry is on disk. A policy write comes this way too,
   * with no record changes: its file is written (atomically) before the journal entry of the
   * serial it bumps.
   */
  async #writeChanges(status: ZoneFileStatus, zone: Zone, changes: RRsetChange[], slicer: TimeSlicer, policy?: PolicyWrite, dryRun = false): Promise<WriteResult> {
    const lastSoa = changes.filter((c) => c.type === RRType.SOA && nameKey(c.owner) === zone.originKey).pop();
    const soaRdata = lastSoa?.rdatas?.[0] ?? zone.soa.rdatas[0]!;
    const previous = zone.serial;
    const bumped = bumpSerial(soaRdata, Math.max(previous, soaSerial(soaRdata)));
    changes.push({ owner: zone.soa.owner, type: RRType.SOA, class: 1, ttl: lastSoa?.ttl ?? zone.soa.ttl, rdatas: [bumped], source: lastSoa?.source ?? zone.soa.source });
    const built = await updateZoneSliced(zone, changes, slicer, policy?.compiled);
    rejectProblems(built.problems);
    const next = built.zone!;
    if (dryRun) {
      await encodeEntrySliced({ from: previous, to: next.serial, changes: await journalChanges(zone, next, changes, slicer) }, slicer);
      return { zone: nameToText(zone.origin), serial: next.serial, previousSerial: previous, etag: this.#etagOf(zone), dryRun: true };
    }
    // In a cluster the store takes the write first; refused there, nothing changes here.
    const revision = this.#shared === null ? 0 : await this.#commit(status, zone, next, slicer, policy);
    const result = (): WriteResult => {
      if (revision > 0) this.#shared!.served(zone.originKey, revision);
      return { zone: nameToText(zone.origin), serial: next.serial, previousSerial: previous, etag: this.#etagOf(next) };
    };
    const journalFile = journalFileFor(status.file);
    const writePolicy = async (): Promise<void> => {
      if (policy === undefined) return;
      if (policy.text !== null) await writeFileAtomicAsync(policy.file, [Buffer.from(policy.text, 'utf8')]);
      else if (fs.existsSync(policy.file)) {
        fs.rmSync(policy.file);
        syncDir(path.dirname(policy.file));
      }
    };
    if (status.problems.some((p) => p.severity === 'error' && p.file !== journalFile)) {
      // The file on disk does not load (a broken hand edit): a journal on top of it could never
      // be compacted, so this write repairs the file with the served zone.
      await writePolicy();
      await writeFileAtomicAsync(status.file, await serializeZoneSliced(next, NOTE, slicer));
      this.#dropJournal(status.file);
      this.#publish(this.#dir.adopt(status.file, next));
      return result();
    }
    if (status.problems.some((p) => p.severity === 'error' && p.file === journalFile)) {
      // A reload found the journal corrupt: read it again (and refuse) rather than append after the bad entry.
      await this.#writers.get(status.file)?.close();
      this.#writers.delete(status.file);
    }
    const writer = await this.#writer(status.file);
    // A journal that does not lead to the served serial lost to a hand edit of the zone file
    // (which is what is served): start it again from here.
    if (writer.entries > 0 && writer.lastSerial !== previous) {
      this.#log?.warn(
        { file: writer.file, journalSerial: writer.lastSerial, zoneSerial: previous },
        'the zone file was edited by hand since the journal was written; the journal is dropped and starts again',
      );
      await writer.reset();
    }
    const entry = { from: previous, to: next.serial, changes: await journalChanges(zone, next, changes, slicer) };
    const encoded = await encodeEntrySliced(entry, slicer);
    await writePolicy();
    await writer.append(entry, encoded);
    this.#publish(this.#dir.adopt(status.file, next));
    this.#scheduleCompaction(status.file, writer);
    this.#maybeRepack(status.file, next);
    return result();
  }

  /** Commits the zone as `next` to the cluster store, on the revision this node serves. */
  async #commit(status: ZoneFileStatus, zone: Zone, next: Zone, slicer: TimeSlicer, policy?: PolicyWrite): Promise<number> {
    const text = Buffer.concat(await serializeZoneSliced(next, NOTE, slicer)).toString('utf8');
    const policyText = policy !== undefined ? policy.text : readPolicyText(status.file);
    return this.#shared!.commit(zone.origin, { zone: text, policy: policyText }, this.#shared!.revision(zone.originKey));
  }

  /** A served zone as the cluster store holds it (seeding the store, `meridian cluster export`). */
  exportZone(origin: Name): ZoneDoc {
    const status = this.#dir.statuses.find((st) => nameKey(st.origin) === nameKey(origin));
    if (!status?.zone) throw notFound(`zone ${nameToText(origin)}`);
    return { zone: serializeZone(status.zone.origin, zoneRecords(status.zone), NOTE), policy: readPolicyText(status.file) };
  }

  /**
   * Applies another node's write (or the store's state at start): the zone file and policy
   * file are written whole, the journal dropped, and the zone reloaded. A revision this node
   * serves already (its own write, a watch delivering twice) is skipped; so is a zone whose
   * files say the same.
   */
  applyShared(origin: Name, doc: ZoneDoc | null, revision: number): Promise<void> {
    const shared = this.#shared;
    if (shared === null) return Promise.resolve();
    return this.#dir.exclusive(async () => {
      const key = nameKey(origin);
      if (this.#closed || revision <= shared.revision(key)) return;
      const status = this.#dir.statuses.find((st) => nameKey(st.origin) === key);
      if (doc === null) {
        if (status !== undefined) {
          this.#removeZone(status.file);
          this.#log?.info({ zone: nameToText(origin), revision }, 'cluster: zone deleted on another node');
        }
        shared.forgotten(key);
        return;
      }
      const file = status?.file ?? path.join(this.#dir.directory, zoneFileName(origin));
      const policyFile = policyFileFor(file) ?? file.replace(/\.zone$/, '') + '.policy.yaml';
      const same = status?.zone != null && readText(file) === doc.zone && !fs.existsSync(journalFileFor(file)) && readPolicyText(file) === doc.policy;
      if (!same) {
        if (doc.policy !== null) await writeFileAtomicAsync(policyFile, [Buffer.from(doc.policy, 'utf8')]);
        else if (fs.existsSync(policyFile)) fs.rmSync(policyFile);
        await writeFileAtomicAsync(file, [Buffer.from(doc.zone, 'utf8')]);
        this.#dropJournal(file);
        syncDir(path.dirname(file));
        this.#reload();
        const now = this.#dir.statuses.find((st) => st.file === file);
        if (!now?.zone) this.#log?.error({ zone: nameToText(origin), revision, problems: now?.problems.map(formatProblem) }, 'cluster: a shared zone does not load here');
      }
      shared.served(key, revision);
    });
  }

  /**
   * Once REPACK_AT nodes were written since the zone was packed, packs it anew on a thread
   * (zone/zone-nodes.ts): the written nodes leave the answering thread's heap, where the
   * collector traces them on every major collection. Writes go on meanwhile; those made
   * during the repack stay in the new version's delta. Never rejects.
   */
  #maybeRepack(file: string, zone: Zone): void {
    if (zone.nodes.deltaSize < REPACK_AT || this.#repacking.has(file) || this.#closed) return;
    this.#repacking.add(file);
    const started = performance.now();
    const thread = new ZoneLoadThread();
    void thread
      .repack(zone.nodes)
      .then((base) =>
        this.#dir.exclusive(async () => {
          const now = this.#dir.statuses.find((s) => s.file === file);
          // Replaced by a load meanwhile (a new base anyway), or edited by hand and not reloaded yet.
          if (!now?.zone || !this.#dir.isCurrent(file)) return;
          const nodes = await drainSliced(now.zone.nodes.rebasedSteps(base, zone.nodes), new TimeSlicer());
          // Writes and reloads wait for this turn; anything else that replaced the zone meanwhile wins.
          if (nodes === null || this.#dir.statuses.find((s) => s.file === file)?.zone !== now.zone) return;
          this.#publish(this.#dir.adopt(file, { ...now.zone, nodes }));
          this.#log?.info({ file, nodes: base.size, written: zone.nodes.deltaSize, ms: Math.round(performance.now() - started) }, 'zone repacked with its written nodes');
        }),
      )
      .catch((err: unknown) => this.#log?.error({ err, file }, 'repacking the zone failed; it keeps serving as it is'))
      .finally(() => {
        this.#repacking.delete(file);
        void thread.close();
      });
  }

  /** The journal of a zone file, opened on first use; a corrupt one refuses the write, naming the file. */
  async #writer(file: string): Promise<JournalWriter> {
    let writer = this.#writers.get(file);
    if (!writer) {
      writer = new JournalWriter(file);
      this.#writers.set(file, writer);
    }
    try {
      await writer.open();
    } catch (err) {
      if (err instanceof JournalCorrupt) throw journalCorrupt(err.message, err.file);
      throw err;
    }
    return writer;
  }

  /** Debounced: after a burst of writes, or at once when the journal passed its size. */
  #scheduleCompaction(file: string, writer: JournalWriter): void {
    const timer = this.#compactTimers.get(file);
    if (timer) clearTimeout(timer);
    this.#compactTimers.delete(file);
    if (writer.size >= this.#journal.compactBytes) {
      void this.compact(file);
      return;
    }
    const t = setTimeout(() => {
      this.#compactTimers.delete(file);
      void this.compact(file);
    }, this.#journal.compactDelayMs);
    t.unref();
    this.#compactTimers.set(file, t);
  }

  /**
   * Rewrites the zone file with its journal applied, on a worker_thread, and drops the entries
   * it now holds. Writes go on meanwhile: they append to the journal after the bytes being
   * compacted, and only those bytes are dropped. A zone file edited by hand meanwhile wins
   * (the result is thrown away). Resolves when done; never rejects (failures are logged and
   * the journal stays, so nothing is lost).
   */
  compact(file: string, keepAlive = false): Promise<void> {
    const running = this.#compacting.get(file);
    if (running) return running.then(() => this.compact(file, keepAlive));
    const run = this.#compactOnce(file, keepAlive)
      .catch((err: unknown) => this.#log?.error({ err, file }, 'journal compaction failed; the journal keeps every change'))
      .finally(() => this.#compacting.delete(file));
    this.#compacting.set(file, run);
    return run;
  }

  async #compactOnce(file: string, keepAlive: boolean): Promise<void> {
    const started = performance.now();
    const start = await this.#dir.exclusive(async () => {
      const s = this.#dir.statuses.find((st) => st.file === file);
      if (!s?.zone || !this.#dir.isCurrent(file)) return null;
      // A journal this process has not written yet (one left by an earlier run) compacts too.
      const writer = await this.#writer(file);
      if (writer.entries === 0 || writer.lastSerial !== s.zone.serial) return null;
      return { origin: s.origin, stamp: s.stamp, bytes: writer.size, serial: s.zone.serial, entries: writer.entries, writer };
    });
    if (start === null) return;
    const reply = await compactOffThread({ file, origin: start.origin, journalBytes: start.bytes, note: NOTE }, keepAlive);
    if (!reply.ok) throw new Error(reply.message);
    await this.#dir.exclusive(async () => {
      // Edited by hand (or rewritten by a policy write) meanwhile, even if already reloaded: that file wins.
      const now = this.#dir.statuses.find((st) => st.file === file);
      if (now?.stamp !== start.stamp || !this.#dir.isCurrent(file) || reply.serial !== start.serial || this.#writers.get(file) !== start.writer) {
        await fs.promises.rm(reply.tmp, { force: true });
        return;
      }
      await fs.promises.rename(reply.tmp, file);
      syncDir(path.dirname(file));
      // A crash here leaves entries the file holds already: loading skips them by serial.
      await start.writer.dropPrefix(start.bytes);
      this.#dir.restamp(file);
    });
    this.#log?.info({ file, serial: start.serial, entries: start.entries, ms: Math.round(performance.now() - started) }, 'zone file rewritten with its journal applied');
  }

  /** Clean shutdown: no more writes; every journal is compacted into its zone file. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#compactTimers.values()) clearTimeout(t);
    this.#compactTimers.clear();
    const files = new Set([...this.#writers.keys(), ...this.#dir.statuses.map((s) => s.file).filter((f) => fs.existsSync(journalFileFor(f)))]);
    await Promise.all([...files].map((file) => this.compact(file, true)));
    await Promise.all([...this.#writers.values()].map((w) => w.close()));
  }

  /** Forgets the journal of `file` after the file was rewritten whole (or removed): it holds nothing the file lacks. */
  #dropJournal(file: string): void {
    const writer = this.#writers.get(file);
    this.#writers.delete(file);
    void writer?.close();
    fs.rmSync(journalFileFor(file), { force: true });
  }

  /** Creates `<name>.zone` with an SOA and NS records (and any extra records). */
  createZone(body: {
    name: string;
    ttl: number;
    soa: { mname: string; rname: string; refresh: number; retry: number; expire: number; minimum: number };
    ns: string[];
    records?: Array<{ name: string; type: string; ttl?: number; rdata: string[] }>;
  }): Promise<WriteResult> {
    return this.#serial(async () => {
      const origin = parseOrigin(body.name, 'name');
      if (this.#dir.statuses.some((s) => nameKey(s.origin) === nameKey(origin))) throw conflict(`zone ${nameToText(origin)} exists`);
      const file = path.join(this.#dir.directory, zoneFileName(origin, body.name));
      const records: ZoneRecord[] = [];
      const add = (owner: Name, type: number, ttl: number, text: string, field: string): void => {
        try {
          records.push({ owner, type, class: 1, ttl, rdata: encodeApiRdata(type, text, origin), source: API_SOURCE });
        } catch (err) {
          throw badRequest(field, (err as Error).message);
        }
      };
      const s = body.soa;
      add(origin, RRType.SOA, body.ttl, `${s.mname} ${s.rname} 1 ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`, 'soa');
      body.ns.forEach((ns, i) => add(origin, RRType.NS, body.ttl, ns, `ns[${i}]`));
      (body.records ?? []).forEach((r, i) => {
        const owner = parseOwner(r.name, origin, `records[${i}].name`);
        const type = parseType(r.type, `records[${i}].type`);
        r.rdata.forEach((text, j) => add(owner, type, r.ttl ?? body.ttl, text, `records[${i}].rdata[${j}]`));
      });
      const built = buildZone(origin, file, records);
      rejectProblems(built.problems);
      const text = serializeZone(origin, records, NOTE);
      const revision = this.#shared === null ? 0 : await this.#shared.commit(origin, { zone: text, policy: null }, 0);
      writeFileAtomic(file, text);
      this.#reload();
      if (revision > 0) this.#shared!.served(nameKey(origin), revision);
      if (!this.#dir.statuses.some((st) => st.file === file && st.zone !== null)) {
        throw controlError(ErrorCode.GSLB_ERR_API_RELOAD, 'the zone was written but did not load');
      }
      return { zone: nameToText(origin), serial: 1, previousSerial: null, etag: revision > 0 ? `"r${revision}"` : '"1"' };
    });
  }

  deleteZone(zoneName: string, ifMatch: string | undefined): Promise<WriteResult> {
    return this.#serial(async () => {
      const status = this.status(zoneName);
      if (status.zone) checkIfMatch(ifMatch, this.#etagOf(status.zone));
      const key = nameKey(status.origin);
      if (this.#shared !== null) await this.#shared.commit(status.origin, null, this.#shared.revision(key));
      this.#removeZone(status.file);
      this.#shared?.forgotten(key);
      return { zone: nameToText(status.origin), serial: 0, previousSerial: status.zone?.serial ?? null, etag: '"0"' };
    });
  }

  /** Removes a zone's file, journal and policy file, and reloads: the zone is no longer served. */
  #removeZone(file: string): void {
    const policy = policyFileFor(file);
    fs.rmSync(file, { force: true });
    this.#dropJournal(file);
    if (policy) fs.rmSync(policy, { force: true });
    syncDir(path.dirname(file));
    this.#reload();
  }

  /** The policy file as data (null when the zone has none). */
  policy(zoneName: string): unknown {
    const status = this.status(zoneName);
    const file = policyFileFor(status.file);
    if (!file) return null;
    return parseYamlSource(fs.readFileSync(file, 'utf8'), file).value ?? null;
  }

  /**
   * Replaces the policy (null deletes it), validated by the policy schema against the zone.
   * The zone changes incrementally (its steered names, and the serial), as a record write does:
   * a policy change on a large zone costs what the policy holds, never a rebuild of the zone.
   */
  putPolicy(zoneName: string, policy: unknown, ifMatch: string | undefined): Promise<WriteResult> {
    return this.#serial(() => this.#putPolicy(zoneName, policy, ifMatch));
  }

  /** putPolicy, in the writers' queue already. */
  #putPolicy(zoneName: string, policy: unknown, ifMatch: string | undefined): Promise<WriteResult> {
    const status = this.status(zoneName);
    const zone = this.zone(zoneName);
    checkIfMatch(ifMatch, this.#etagOf(zone));
    if (!this.#dir.isCurrent(status.file)) throw conflict(`${status.file} changed on disk and is being reloaded; retry`);
    const existing = policyFileFor(status.file);
    if (policy === null && existing === null) throw notFound(`a policy for ${zoneName}`);
    const file = existing ?? status.file.replace(/\.zone$/, '.policy.yaml');
    if (policy === null) return this.#writeChanges(status, zone, [], new TimeSlicer(), { file, text: null, compiled: { steered: [], monitored: [] } });
    checkDepth(policy);
    const text = `# ${NOTE}\n` + toYaml(policy);
    let compiled;
    try {
      compiled = compilePolicyText(text, file, zone.origin);
    } catch (err) {
      // The compiler is meant to report problems, not throw; if it throws anyway, the
      // input is what it could not take: refuse it and keep the file as it was.
      throw badRequest('policy', `cannot be compiled: ${(err as Error).message}`);
    }
    rejectProblems(compiled.problems, 'policy');
    return this.#writeChanges(status, zone, [], new TimeSlicer(), { file, text, compiled });
  }

  /** One part of the policy (targets.<id>, names.<name>, probes.<id>), or undefined. */
  policyEntry(zoneName: string, section: PolicySection, id: string): unknown {
    const part = sectionOf(this.policy(zoneName), section);
    // own keys only: "constructor" or "toString" must not find Object.prototype's
    return Object.hasOwn(part, id) ? part[id] : undefined;
  }

  /** Read-modify-write of one part of the policy (targets.<id>, names.<name>, probes.<id>). */
  patchPolicy(zoneName: string, section: PolicySection, id: string, value: unknown, ifMatch: string | undefined): Promise<WriteResult> {
    return this.#changeEntry(zoneName, section, id, () => value, ifMatch);
  }

  /**
   * PATCH …/policy/{section}/{id}: an RFC 7396 merge patch applied to the entry as it is inside
   * the writers' queue (null deletes a member), the result validated as a whole policy.
   */
  mergePolicyEntry(zoneName: string, section: PolicySection, id: string, patch: unknown, ifMatch: string | undefined): Promise<WriteResult> {
    // The entry sits two levels down in the policy; mergePatch recurses, so the bound comes first.
    checkDepth(patch, 2, `${section}.${id}`);
    return this.#changeEntry(
      zoneName,
      section,
      id,
      (current) => {
        if (current === undefined) throw notFound(`${section}.${id} in the policy of ${zoneName}`);
        const merged = mergePatch(current, patch, `${section}.${id}`);
        if (merged === null) throw badRequest('body', 'a merge patch of null would delete the entry; use DELETE');
        return merged;
      },
      ifMatch,
    );
  }

  #changeEntry(zoneName: string, section: PolicySection, id: string, change: (current: unknown) => unknown, ifMatch: string | undefined): Promise<WriteResult> {
    if (RESERVED_KEYS.has(id)) throw badRequest('id', `"${id}" is reserved and cannot name a policy entry`);
    // Read, changed and written in the writers' queue: two patches never start from one version.
    return this.#serial(() => {
      const doc = (this.policy(zoneName) ?? { targets: {}, names: {} }) as Record<string, unknown>;
      // A null-prototype copy: any id is a plain own key here, never a prototype or a method.
      const part: Record<string, unknown> = Object.assign(Object.create(null) as Record<string, unknown>, sectionOf(doc, section));
      const value = change(Object.hasOwn(part, id) ? part[id] : undefined);
      if (value === null) {
        if (!Object.hasOwn(part, id)) throw notFound(`${section}.${id} in the policy of ${zoneName}`);
        delete part[id];
      } else {
        part[id] = value;
      }
      return this.#putPolicy(zoneName, { ...doc, [section]: { ...part } }, ifMatch);
    });
  }
}

/** A policy write: the file, its new text (null removes it), and the policy compiled from it. */
interface PolicyWrite {
  readonly file: string;
  readonly text: string | null;
  readonly compiled: PolicyChange;
}

/** Written nodes that start a repack of a zone: few enough for the collector not to notice. */
export const REPACK_AT = 25_000;

export interface RRsetJson {
  name: string;
  type: string;
  ttl: number;
  rdata: string[];
}

export const DEFAULT_PAGE_LIMIT = 1000;
export const MAX_PAGE_LIMIT = 10_000;
const MAX_NODES_PER_PAGE = 100_000;

function rrsetJson(set: RRset): RRsetJson {
  return { name: nameToText(set.owner), type: typeToText(set.type), ttl: set.ttl, rdata: set.rdatas.map((r) => rdataToText(set.type, r)) };
}

function typeRank(type: number): number {
  return type === RRType.SOA ? 0 : type === RRType.NS ? 1 : 2;
}

/** A cursor is the key of the name the next page starts at, opaque to clients. */
function encodeCursor(key: string): string {
  return Buffer.from(`k:${key}`).toString('base64url');
}

function decodeCursor(cursor: string): string {
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';
  if (!text.startsWith('k:')) throw badRequest('cursor', 'is not a cursor this API gave out; start again without one');
  return text.slice(2);
}

export type PolicySection = 'targets' | 'names' | 'probes';

/** Per RRset a batch touched (once, however often), its contents before and after: an IXFR's difference. */
async function journalChanges(before: Zone, after: Zone, changes: readonly RRsetChange[], slicer: TimeSlicer): Promise<JournalChange[]> {
  const out = new Map<string, JournalChange>();
  const setAt = (zone: Zone, key: string, type: number): JournalRRset | null => {
    const set = zone.nodes.get(key)?.rrsets.get(type);
    return set ? { ttl: set.ttl, class: set.class, rdatas: set.rdatas } : null;
  };
  for (const c of changes) {
    const key = nameKey(c.owner);
    const k = `${key}|${c.type}`;
    if (!out.has(k)) out.set(k, { owner: c.owner, type: c.type, old: setAt(before, key, c.type), new: setAt(after, key, c.type) });
    const pause = slicer.tick();
    if (pause) await pause;
  }
  return [...out.values()];
}

/** Keys that JavaScript objects give a meaning of their own (a YAML or JSON map key `__proto__` sets the prototype). */
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__']);

/** Keys a merge patch may not name: they would reach a prototype in a careless reader (none is a policy field). */
const PATCH_RESERVED: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7396 §2: objects merge member by member, null removes one, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown, path: string): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (isObject(target)) for (const k of Object.keys(target)) out[k] = target[k];
  for (const k of Object.keys(patch)) {
    if (PATCH_RESERVED.has(k)) throw badRequest(`${path}.${k}`, `"${k}" is reserved and cannot be a member`);
    const v = patch[k];
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v, `${path}.${k}`);
  }
  // A plain object again (the policy reader expects one); every key is checked above.
  return Object.fromEntries(Object.entries(out));
}

function sectionOf(doc: unknown, section: PolicySection): Record<string, unknown> {
  const part = doc !== null && typeof doc === 'object' && Object.hasOwn(doc, section) ? (doc as Record<string, unknown>)[section] : undefined;
  return part !== null && typeof part === 'object' ? (part as Record<string, unknown>) : {};
}

/** Far deeper than any policy needs (names.<n>.policy[i].failover.groups[j].targets is 7). */
const MAX_POLICY_DEPTH = 32;

/** Refuses a policy nested deeper than MAX_POLICY_DEPTH, before anything recursive (YAML) meets it. */
function checkDepth(value: unknown, depth = 0, field = 'policy'): void {
  if (value === null || typeof value !== 'object') return;
  if (depth >= MAX_POLICY_DEPTH) throw badRequest(field, `is nested more than ${MAX_POLICY_DEPTH} levels deep`);
  for (const [k, v] of Object.entries(value)) checkDepth(v, depth + 1, `${field}.${k}`);
}

/**
 * An rdata field of the API: one record's RDATA in presentation form (encodeRdataText), with
 * one more refusal. Unquoted TXT/SPF text with blank space is several character-strings, and
 * readers join them without the space (RFC 7208 §3.3): `v=spf1 -all` would publish
 * "v=spf1-all". A field that mixes strings so must quote them.
 */
function encodeApiRdata(type: number, text: string, origin: Name): Buffer {
  const rdata = encodeRdataText(type, text, origin);
  if (type === RRType.TXT || type === RRType.SPF) {
    const { tokens } = tokenizeText(text);
    if (tokens.length > 1 && tokens.some((t) => !t.quoted)) {
      throw new RdataError(
        `${typeToText(type)}: unquoted text with blank space makes ${tokens.length} strings, which readers join without the space; quote the whole value ("v=spf1 -all"), or quote each string to mean several ("part one" "part two")`,
      );
    }
  }
  return rdata;
}

function soaSerial(rdata: Buffer): number {
  return rdata.readUInt32BE(rdata.length - 20);
}

/** The file name a zone is kept in: it must load back as this very zone, inside the zones folder. */
function zoneFileName(origin: Name, given = nameToText(origin)): string {
  const base = `${nameToText(origin).replace(/\.$/, '') || 'root'}${ZONE_FILE_SUFFIX}`;
  if (base.includes('/') || base.includes('\\') || base.startsWith('.') || !loadsAs(base, origin)) {
    throw badRequest('name', `"${given}" cannot be stored as a zone file name; use letters, digits, "-" and "_" in labels`);
  }
  return base;
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** The text of a zone file's policy file; null when it has none. */
function readPolicyText(zoneFile: string): string | null {
  const file = policyFileFor(zoneFile);
  return file === null ? null : readText(file);
}

function checkIfMatch(ifMatch: string | undefined, current: string): void {
  if (ifMatch === undefined || ifMatch === '*') return;
  const wanted = ifMatch.split(',').map((s) => s.trim().replace(/^W\//, ''));
  if (!wanted.includes(current)) throw stale(ifMatch, current);
}

function rejectProblems(problems: readonly { severity: string; message: string; file: string; line: number }[], field = 'records'): void {
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length === 0) return;
  // A policy problem starts with its path ("targets.eu.weight: must be number"): that is the field.
  const path = field === 'policy' ? /^([A-Za-z_][\w-]*(?:\.[\w.-]+)+): /.exec(errors[0]!.message)?.[1] : undefined;
  const message = errors.map((e) => e.message).join('; ');
  const details = errors.map((e) => formatProblem(e as never));
  throw path === undefined ? badRequest(field, message, details) : controlError(ErrorCode.GSLB_ERR_API_INVALID, message, path, details);
}

function parseOrigin(text: string, field = 'zone'): Name {
  try {
    return parseName(text.endsWith('.') ? text : text + '.', null);
  } catch (err) {
    throw badRequest(field, (err as Error).message);
  }
}

/**
 * A name in a URL or body: "@" for the apex; absolute with a final dot; a full name without
 * the dot when it ends in the zone's name ("www.example.com"); otherwise relative ("www").
 */
function parseOwner(text: string, origin: Name, field = 'name'): Name {
  let owner: Name;
  try {
    if (text === '@') return origin;
    const asAbsolute = parseName(text.endsWith('.') ? text : text + '.', null);
    owner = text.endsWith('.') || isSubdomain(asAbsolute, origin) ? asAbsolute : parseName(text, origin);
  } catch (err) {
    throw badRequest(field, (err as Error).message);
  }
  if (!isSubdomain(owner, origin)) throw badRequest(field, `${nameToText(owner)} is outside the zone ${nameToText(origin)}`);
  return owner;
}

function parseType(text: string, field = 'type'): number {
  const t = typeFromText(text);
  if (t === undefined || t === RRType.ANY || t === RRType.OPT || t === RRType.AXFR || t === RRType.IXFR) throw badRequest(field, `"${text}" is not a record type`);
  return t;
}

function loadsAs(fileName: string, origin: Name): boolean {
  try {
    return nameKey(originFromFileName(fileName)) === nameKey(origin);
  } catch {
    return false;
  }
}
