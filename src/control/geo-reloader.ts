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
  /** Moves on every write to the file, and unlike mtime no one can set it back: a file rewritten in place is seen too. */
  readonly ctimeMs: number;
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
  /** The files as they were at the last attempt, good or not: an unchanged file is not tried again. */
  #stamps: ReadonlyMap<string, FileStamp | null>;
  #watchers: fs.FSWatcher[] = [];
  #timer: NodeJS.Timeout | null = null;

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
   * Opens the configured files again and swaps them in, when one changed (another file, or
   * the same one written since: its stamp). Returns whether new databases serve. Never
   * throws. Unchanged files are not reopened, on SIGHUP either: a swap publishes a snapshot
   * that no cached answer or decision survives, and every query would then take the full path
   * at once (issue #14 item 3).
   */
  reload(): boolean {
    const files = geoFiles(this.#config);
    const stamps = stampAll(files);
    if (sameStamps(stamps, this.#stamps)) return false;
    this.#stamps = stamps;
    const started = performance.now();
    let next: GeoResolver;
    try {
      next = openGeo(this.#config);
    } catch (err) {
      const file = (err as { file?: unknown }).file;
      this.#log.error(
        { file: typeof file === 'string' ? file : files.join(', '), reason: (err as Error).message },
        `GeoIP reload failed, the previous database keeps serving: ${(err as Error).message}`,
      );
      return false;
    }
    this.#current = next;
    this.#publisher.setLocate(clientLocator(next));
    for (const db of next.databases) {
      this.#log.info({ file: db.file, type: db.databaseType, built: db.buildEpoch, ms: Math.round(performance.now() - started) }, 'GeoIP database reloaded');
    }
    return true;
  }

  /**
   * Watches the folder of each file (not the file: an atomic rename replaces the inode a
   * file watch follows) and, `debounceMs` after the last change in it, reloads when one of
   * the files changed (its stamp). Any name in the folder counts: a file may be a symlink
   * through another entry there (a Kubernetes ConfigMap's `..data`).
   */
  watch(debounceMs: number): void {
    for (const dir of new Set(geoFiles(this.#config).map((f) => path.dirname(f)))) {
      try {
        const watcher = fs.watch(dir, () => {
          if (this.#timer) clearTimeout(this.#timer);
          this.#timer = setTimeout(() => {
            this.#timer = null;
            this.reload();
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
      out.set(file, { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs });
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
    if (s === null || t === null ? s !== t : s.ino !== t.ino || s.size !== t.size || s.mtimeMs !== t.mtimeMs || s.ctimeMs !== t.ctimeMs) return false;
  }
  return true;
}
