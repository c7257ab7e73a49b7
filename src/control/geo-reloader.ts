import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { ContinentSample, GeoDbInfo, GeoResolver, GeoView } from '../geoip/geo-database.js';
import { clientLocator, geoFiles, openGeo } from '../geoip/open-geo.js';
import type { SnapshotPublisher } from './publisher.js';

/** What a file was when it was last opened: a watch event on an unchanged file reloads nothing. */
interface FileStamp {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

/**
 * Reloads the GeoIP databases without a restart, as ZoneReloader does zones: on SIGHUP and
 * (debounced) when a configured file changes, including an atomic rename over it, which is
 * how geoipupdate writes. The new files are opened and checked (openGeoDatabase's test
 * lookup) before the swap; a file that fails keeps the old databases serving, and the log
 * names it and why. Each swap publishes a new snapshot, whose version clears every cached
 * answer and decision made with the old database.
 */
export class GeoReloader implements GeoView {
  readonly #config: Config;
  readonly #publisher: SnapshotPublisher;
  readonly #log: Logger;
  #current: GeoResolver;
  #stamps: ReadonlyMap<string, FileStamp | null>;
  #watchers: fs.FSWatcher[] = [];
  #timer: NodeJS.Timeout | null = null;
  /** The last reload failed: the next watch event retries even if the file looks the same. */
  #failed = false;

  constructor(config: Config, publisher: SnapshotPublisher, log: Logger, initial: GeoResolver) {
    this.#config = config;
    this.#publisher = publisher;
    this.#log = log;
    this.#current = initial;
    this.#stamps = stampAll(geoFiles(config));
  }

  /** The databases serving now. */
  get current(): GeoResolver {
    return this.#current;
  }

  /** The open databases (admin API, metrics): those of the last successful load. */
  get databases(): readonly GeoDbInfo[] {
    return this.#current.databases;
  }

  continentSamples(): ReadonlyMap<string, ContinentSample> {
    return this.#current.continentSamples();
  }

  /**
   * Opens the configured files again and swaps them in; `force` reopens files that look
   * unchanged too (SIGHUP). Returns whether new databases serve. Never throws.
   */
  reload(force: boolean): boolean {
    const files = geoFiles(this.#config);
    const stamps = stampAll(files);
    if (!force && !this.#failed && sameStamps(stamps, this.#stamps)) return false;
    const started = performance.now();
    let next: GeoResolver;
    try {
      next = openGeo(this.#config);
    } catch (err) {
      this.#failed = true;
      const file = (err as { file?: unknown }).file;
      this.#log.error(
        { file: typeof file === 'string' ? file : files.join(', '), reason: (err as Error).message },
        `GeoIP reload failed, the previous database keeps serving: ${(err as Error).message}`,
      );
      return false;
    }
    this.#failed = false;
    this.#current = next;
    this.#stamps = stamps;
    this.#publisher.setLocate(clientLocator(next));
    for (const db of next.databases) {
      this.#log.info({ file: db.file, type: db.databaseType, built: db.buildEpoch, ms: Math.round(performance.now() - started) }, 'GeoIP database reloaded');
    }
    return true;
  }

  /**
   * Watches the folder of each file (not the file: an atomic rename replaces the inode a
   * file watch follows) and reloads `debounceMs` after the last change to one of the files.
   */
  watch(debounceMs: number): void {
    const byDir = new Map<string, Set<string>>();
    for (const file of geoFiles(this.#config)) {
      const names = byDir.get(path.dirname(file)) ?? new Set<string>();
      names.add(path.basename(file));
      byDir.set(path.dirname(file), names);
    }
    for (const [dir, names] of byDir) {
      try {
        const watcher = fs.watch(dir, (_event, name) => {
          // No name (some platforms): it may be ours; the stamps tell.
          if (name !== null && !names.has(name.toString())) return;
          if (this.#timer) clearTimeout(this.#timer);
          this.#timer = setTimeout(() => {
            this.#timer = null;
            this.reload(false);
          }, debounceMs);
        });
        watcher.on('error', (err) => this.#log.warn({ err, directory: dir }, 'GeoIP folder watch failed; SIGHUP still reloads'));
        this.#watchers.push(watcher);
      } catch (err) {
        this.#log.warn({ err, directory: dir }, 'cannot watch the GeoIP folder; SIGHUP still reloads');
      }
    }
  }

  stop(): void {
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

function stampAll(files: readonly string[]): ReadonlyMap<string, FileStamp | null> {
  const out = new Map<string, FileStamp | null>();
  for (const file of files) {
    try {
      const s = fs.statSync(file);
      out.set(file, { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs });
    } catch {
      out.set(file, null);
    }
  }
  return out;
}

function sameStamps(a: ReadonlyMap<string, FileStamp | null>, b: ReadonlyMap<string, FileStamp | null>): boolean {
  if (a.size !== b.size) return false;
  for (const [file, s] of a) {
    const t = b.get(file);
    if (t === undefined) return false;
    if (s === null || t === null ? s !== t : s.ino !== t.ino || s.size !== t.size || s.mtimeMs !== t.mtimeMs) return false;
  }
  return true;
}
