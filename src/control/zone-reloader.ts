import fs from 'node:fs';
import type { Logger } from 'pino';
import { formatProblem } from '../problems/problem-list.js';
import type { LoadOutcome, ZoneDirectory } from './zone-directory.js';
import type { SnapshotPublisher } from './publisher.js';
import { ZoneLoadThread } from './zone-load-thread-pool.js';

/**
 * Reloads zones on SIGHUP and (debounced) when files in the zones folder change, then
 * publishes a new snapshot in one swap. A zone whose new file fails keeps serving its old data.
 */
export class ZoneReloader {
  readonly #directory: ZoneDirectory;
  readonly #publisher: SnapshotPublisher;
  readonly #log: Logger;
  #watcher: fs.FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** A reload failed after the folder was read: publish on the next one even if no file changed. */
  #unpublished = false;
  /** The off-thread reload running, and the one asked for meanwhile (forced if any ask was). */
  #running: Promise<boolean> | null = null;
  #again: Promise<boolean> | null = null;
  #againForced = false;
  #stopped = false;
  #thread: ZoneLoadThread | null = null;

  constructor(directory: ZoneDirectory, publisher: SnapshotPublisher, log: Logger) {
    this.#directory = directory;
    this.#publisher = publisher;
    this.#log = log;
  }

  /**
   * Reloads now, on this thread; returns whether a new snapshot was published. Every trigger
   * comes through here or reloadInBackground, so these are where the unexpected stops: an
   * exception is logged with the folder, the previous snapshot keeps serving, and the process
   * lives on.
   */
  reload(force: boolean): boolean {
    try {
      return this.#reload(force);
    } catch (err) {
      this.#unpublished = true;
      this.#log.error({ err, directory: this.#directory.directory }, `zone reload of ${this.#directory.directory} failed; the previous data keeps serving`);
      return false;
    }
  }

  #reload(force: boolean): boolean {
    const started = performance.now();
    return this.#publish(this.#directory.load(force), started);
  }

  /**
   * Reloads with the files parsed and built on a worker_thread (SIGHUP, the folder watch,
   * POST /v1/reload), so answering never waits for a large zone; the new zones are swapped
   * in when ready. Asked again while one runs, it runs once more after it (once for all the
   * asks meanwhile). Resolves with whether it published.
   */
  reloadInBackground(force: boolean): Promise<boolean> {
    if (this.#running !== null) {
      // Its caller (POST /v1/reload) hears of the run that starts after the one running: that
      // one may have read the files before the change it was asked for.
      this.#againForced ||= force;
      this.#again ??= this.#running.then(() => {
        const forced = this.#againForced;
        this.#again = null;
        this.#againForced = false;
        return this.#stopped ? false : this.reloadInBackground(forced);
      });
      return this.#again;
    }
    const run = async (): Promise<boolean> => {
      const started = performance.now();
      let thread: ZoneLoadThread | null = null;
      try {
        // inside the try: a thread that cannot start is a failed reload, never an unhandled rejection
        thread = new ZoneLoadThread();
        this.#thread = thread;
        const loader = thread;
        const outcome = await this.#directory.exclusive(() => this.#directory.loadAsync(force, (file, origin, previous) => loader.load(file, origin, previous)));
        return outcome === null ? false : this.#publish(outcome, started);
      } catch (err) {
        this.#unpublished = true;
        this.#log.error({ err, directory: this.#directory.directory }, `zone reload of ${this.#directory.directory} failed; the previous data keeps serving`);
        return false;
      } finally {
        this.#thread = null;
        void thread?.close();
      }
    };
    const running = run().finally(() => {
      this.#running = null;
    });
    this.#running = running;
    return running;
  }

  #publish(outcome: LoadOutcome, started: number): boolean {
    for (const p of outcome.problems) {
      if (p.severity === 'error') this.#log.error({ file: p.file, line: p.line }, `zone reload: ${formatProblem(p)}; the previous data keeps serving`);
      else this.#log.warn({ file: p.file, line: p.line }, formatProblem(p));
    }
    if (!outcome.changed && !this.#unpublished) return false;
    this.#publisher.setZones(outcome.zones);
    this.#unpublished = false;
    this.#log.info({ zones: outcome.zones.size, ms: Math.round(performance.now() - started) }, 'zones reloaded');
    return true;
  }

  watch(debounceMs: number): void {
    try {
      this.#watcher = fs.watch(this.#directory.directory, () => {
        if (this.#timer) clearTimeout(this.#timer);
        this.#timer = setTimeout(() => {
          this.#timer = null;
          void this.reloadInBackground(false);
        }, debounceMs);
      });
      this.#watcher.on('error', (err) => this.#log.warn({ err }, 'zone folder watch failed; SIGHUP still reloads'));
    } catch (err) {
      this.#log.warn({ err }, 'cannot watch the zones folder; SIGHUP still reloads');
    }
  }

  stop(): void {
    void this.#thread?.close();
    this.#stopped = true;
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
