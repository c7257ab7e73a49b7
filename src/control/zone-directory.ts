/**
 * The zones/ folder: one `<origin>.zone` file per zone, with an optional
 * `<origin>.policy.yaml` of steered names beside it. Loads every file, keeps the last
 * good version of each zone when a reload finds an error, and reports problems as
 * file:line: message. The only zone module that does file I/O.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseName, nameKey, type Name } from '../dns/name.js';
import { parseMasterFile } from '../zone/master-file.js';
import { compilePolicyRead, policyFileFor, readPolicyFile, type PolicyRead } from '../steer/policy-file.js';
import type { FileProblem } from '../problems/types.js';
import { capProblems } from '../problems/problem-list.js';
import { buildZone, type Zone } from '../zone/zone.js';
import { applyJournal, readJournalForLoad } from '../storage/journal.js';

export const ZONE_FILE_SUFFIX = '.zone';

/** What we know of one zone file. */
export interface ZoneFileStatus {
  readonly file: string;
  readonly origin: Name;
  /** The zone being served: the newest version that loaded without errors. */
  readonly zone: Zone | null;
  /** Problems of the newest load attempt (errors mean `zone` is an older version or null). */
  readonly problems: readonly FileProblem[];
  readonly loadedAt: Date | null;
  /** Identity of the file as last read, to skip unchanged files on reload. */
  readonly stamp: string;
}

export interface LoadOutcome {
  readonly zones: ReadonlyMap<string, Zone>;
  readonly statuses: readonly ZoneFileStatus[];
  readonly problems: readonly FileProblem[];
  /** True when any served zone differs from before. */
  readonly changed: boolean;
  /** Set when the folder itself cannot be read (then nothing else was). */
  readonly folderProblem: FileProblem | null;
}

/** "example.com.zone" → example.com.; "2.0.192.in-addr.arpa.zone" → 2.0.192.in-addr.arpa. */
export function originFromFileName(fileName: string): Name {
  const base = fileName.slice(0, -ZONE_FILE_SUFFIX.length);
  return base === 'root' || base === '.' ? [] : parseName(base.endsWith('.') ? base : base + '.', null);
}

/** The policy file beside a zone as read already (null: there is none). */
export type ReadPolicy = { readonly file: string; readonly read: PolicyRead } | null;

/** Reads the policy file beside `zoneFile`, once: what is hashed is what is compiled. */
export function readPolicyBeside(zoneFile: string): ReadPolicy {
  const file = policyFileFor(zoneFile);
  return file === null ? null : { file, read: readPolicyFile(file) };
}

/**
 * `read` reads the zone file and each $INCLUDE'd one (the reload thread hashes what it reads);
 * `policy`, the policy file as the caller read (and hashed) it, else it is read here.
 */
export function loadZoneFile(file: string, origin: Name, read = (f: string): string => fs.readFileSync(f, 'utf8'), policy?: ReadPolicy): { zone: Zone | null; problems: FileProblem[] } {
  const journal = readJournalForLoad(file); // first: see readJournalForLoad
  let text: string;
  try {
    text = read(file);
  } catch (err) {
    return { zone: null, problems: [{ file, line: 0, message: `cannot read: ${(err as Error).message}`, severity: 'error' }] };
  }
  const parsed = parseMasterFile(text, { file, origin, readFile: read });
  const source = policy === undefined ? readPolicyBeside(file) : policy;
  const compiled = source === null ? { steered: [], monitored: [], problems: [] } : compilePolicyRead(source.read, source.file, origin);
  // Each source is capped on its own (MAX_PROBLEMS_PER_FILE), so concatenating stays small.
  const problems = [...parsed.problems, ...compiled.problems];
  if (problems.some((p) => p.severity === 'error')) return { zone: null, problems };
  const journaled = applyJournal(file, origin, parsed.records, journal);
  const built = buildZone(origin, file, journaled.records, compiled.steered, compiled.monitored);
  return { zone: built.zone, problems: [...problems, ...journaled.problems, ...capProblems(file, built.problems)] };
}

/**
 * loadZoneFile that never throws: a bug met while loading one file (a TypeError, a stack
 * overflow on some input nobody foresaw) becomes that file's error, so the other zones load
 * and this one keeps its previous version, instead of the exception ending the process.
 */
function loadZoneFileSafely(file: string, origin: Name): { zone: Zone | null; problems: FileProblem[] } {
  try {
    return loadZoneFile(file, origin);
  } catch (err) {
    return internalError(file, err);
  }
}

function internalError(file: string, err: unknown): { zone: null; problems: FileProblem[] } {
  const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { zone: null, problems: [{ file, line: 0, message: `internal error while loading this zone or its policy (${reason}); please report it`, severity: 'error' }] };
}

/** Identity of a zone file and the policy file beside it, to skip unchanged zones on reload. */
function stampOf(file: string): string {
  const one = (f: string): string => {
    try {
      const st = fs.statSync(f);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  const policy = policyFileFor(file);
  return policy ? `${one(file)}|${policy}:${one(policy)}` : one(file);
}

/**
 * Loads one zone file: loadZoneFile here, or the reload thread (zone-load-thread-pool.ts),
 * which answers `unchanged` (and no zone) when the files read the same as when `previous` was loaded.
 */
export type ZoneFileLoader = (file: string, origin: Name, previous: Zone | null) => Promise<{ zone: Zone | null; problems: FileProblem[]; unchanged?: boolean }>;

export class ZoneDirectory {
  readonly directory: string;
  #statuses = new Map<string, ZoneFileStatus>();
  /** Moves whenever the statuses are replaced, so a load that awaited can tell it was overtaken. */
  #generation = 0;
  #exclusive: Promise<unknown> = Promise.resolve();
  /** Loads of each file that failed (the zone kept its previous version), for /metrics. */
  readonly #loadErrors = new Map<string, number>();

  constructor(directory: string) {
    this.directory = directory;
  }

  get statuses(): readonly ZoneFileStatus[] {
    return [...this.#statuses.values()];
  }

  /** How many loads of `file` failed since start (the first load included). */
  loadErrors(file: string): number {
    return this.#loadErrors.get(file) ?? 0;
  }

  /**
   * Serves `zone` for `file` as an admin write left it on disk, without reading the file
   * again (the write built it incrementally); returns the zones now served.
   */
  adopt(file: string, zone: Zone): ReadonlyMap<string, Zone> {
    this.#statuses.set(file, { file, origin: zone.origin, zone, problems: [], loadedAt: new Date(), stamp: stampOf(file) });
    this.#generation++;
    const zones = new Map<string, Zone>();
    for (const s of this.#statuses.values()) if (s.zone) zones.set(s.zone.originKey, s.zone);
    return zones;
  }

  /**
   * Whether a zone file or its policy changed on disk (or one came or went) since it was
   * read: a stat per zone, cheap enough for every admin write to ask.
   */
  changedOnDisk(): boolean {
    let names: string[];
    try {
      names = fs.readdirSync(this.directory).filter((n) => n.endsWith(ZONE_FILE_SUFFIX));
    } catch {
      return true;
    }
    if (names.length !== this.#statuses.size) return true;
    for (const name of names) {
      const s = this.#statuses.get(path.join(this.directory, name));
      if (!s || s.stamp !== stampOf(s.file)) return true;
    }
    return false;
  }

  /** Whether `file` is still the file last read (or written by restamp's caller). */
  isCurrent(file: string): boolean {
    const s = this.#statuses.get(file);
    return s !== undefined && s.stamp === stampOf(file);
  }

  /** Records `file` as read again after this process rewrote it with the same zone (a journal compaction). */
  restamp(file: string): void {
    const s = this.#statuses.get(file);
    if (s) this.#statuses.set(file, { ...s, stamp: stampOf(file) });
  }

  /**
   * Runs `work` after every earlier exclusive work has finished: admin writes and off-thread
   * reloads take turns, so neither builds on a zone the other is replacing.
   */
  exclusive<T>(work: () => T | Promise<T>): Promise<T> {
    const next = this.#exclusive.then(work, work);
    this.#exclusive = next.catch(() => undefined);
    return next;
  }

  /**
   * Re-reads the folder. Unchanged files are skipped unless `force` (SIGHUP: an $INCLUDE'd
   * file may have changed). A file that fails, even by an exception, keeps its previous zone
   * serving; each file's problems are capped (MAX_PROBLEMS_PER_FILE).
   */
  load(force = false): LoadOutcome {
    const steps = this.#loadSteps(force);
    for (let step = steps.next(); ;) {
      if (step.done) return step.value;
      step = steps.next(loadZoneFileSafely(step.value.file, step.value.origin));
    }
  }

  /**
   * load() with each changed file loaded by `loadFile` (off the answering thread). Null when
   * a write or another load replaced the zones meanwhile: they are newer, so this one yields.
   */
  async loadAsync(force: boolean, loadFile: ZoneFileLoader): Promise<LoadOutcome | null> {
    const generation = this.#generation;
    const steps = this.#loadSteps(force, () => this.#generation !== generation);
    for (let step = steps.next(); ;) {
      if (step.done) return this.#generation === generation + 1 ? step.value : null;
      const { file, origin } = step.value;
      // as loadZoneFileSafely: whatever the loader throws is this file's problem, never the reload's end
      const result = await loadFile(file, origin, step.value.previous).catch((err: unknown) => internalError(file, err));
      step = steps.next(result);
    }
  }

  *#loadSteps(
    force: boolean,
    overtaken = (): boolean => false,
  ): Generator<{ file: string; origin: Name; previous: Zone | null }, LoadOutcome, { zone: Zone | null; problems: FileProblem[]; unchanged?: boolean }> {
    const problems: FileProblem[] = [];
    let names: string[];
    let folderProblem: FileProblem | null = null;
    try {
      names = fs
        .readdirSync(this.directory)
        .filter((n) => n.endsWith(ZONE_FILE_SUFFIX))
        .sort();
    } catch (err) {
      folderProblem = { file: this.directory, line: 0, message: `cannot read the zones folder: ${(err as Error).message}`, severity: 'error' };
      problems.push(folderProblem);
      names = [];
    }
    let changed = false;
    const next = new Map<string, ZoneFileStatus>();
    const byOrigin = new Map<string, string>();
    for (const name of names) {
      const file = path.join(this.directory, name);
      let origin: Name;
      try {
        origin = originFromFileName(name);
      } catch (err) {
        problems.push({ file, line: 0, message: `file name does not make a zone name: ${(err as Error).message}`, severity: 'error' });
        continue;
      }
      const key = nameKey(origin);
      const other = byOrigin.get(key);
      if (other !== undefined) {
        problems.push({ file, line: 0, message: `zone ${key}. is already loaded from ${other}`, severity: 'error' });
        continue;
      }
      byOrigin.set(key, file);
      const previous = this.#statuses.get(file);
      const stamp = stampOf(file);
      if (previous && !force && previous.stamp === stamp) {
        next.set(file, previous);
        for (const p of previous.problems) problems.push(p);
        continue;
      }
      const result = yield { file, origin, previous: previous?.zone ?? null };
      for (const p of result.problems) problems.push(p);
      if (result.unchanged && previous) {
        // the same text as the zone served: nothing to swap in
        next.set(file, { ...previous, problems: result.problems, stamp });
        continue;
      }
      // A zone that loaded with an error (a corrupt journal: the entries before it) is served
      // only when there is nothing older: a running zone keeps its last good version.
      const loaded = result.zone !== null && (previous?.zone == null || !result.problems.some((p) => p.severity === 'error')) ? result.zone : null;
      const zone = loaded ?? previous?.zone ?? result.zone;
      if (loaded === null) this.#loadErrors.set(file, this.loadErrors(file) + 1);
      if (loaded !== null) changed = true;
      next.set(file, { file, origin, zone, problems: result.problems, loadedAt: loaded ? new Date() : (previous?.loadedAt ?? null), stamp });
    }
    for (const file of this.#statuses.keys()) if (!next.has(file)) changed = true;
    if (overtaken()) return { zones: new Map(), statuses: [], problems: [], changed: false, folderProblem: null };
    this.#statuses = next;
    this.#generation++;
    const zones = new Map<string, Zone>();
    for (const s of next.values()) if (s.zone) zones.set(s.zone.originKey, s.zone);
    return { zones, statuses: [...next.values()], problems, changed, folderProblem };
  }
}
