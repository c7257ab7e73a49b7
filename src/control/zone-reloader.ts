import fs from 'node:fs';
import type { Logger } from 'pino';
import { formatProblem } from '../zone/record.js';
import type { ZoneDirectory } from '../zone/zone-directory.js';
import type { SnapshotPublisher } from './publisher.js';

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

  constructor(directory: ZoneDirectory, publisher: SnapshotPublisher, log: Logger) {
    this.#directory = directory;
    this.#publisher = publisher;
    this.#log = log;
  }

  /**
   * Reloads now; returns whether a new snapshot was published. Every trigger (watch, SIGHUP,
   * the admin API) comes through here, so this is where the unexpected stops: an exception is
   * logged with the folder, the previous snapshot keeps serving, and the process lives on.
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
    const outcome = this.#directory.load(force);
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
          this.reload(false);
        }, debounceMs);
      });
      this.#watcher.on('error', (err) => this.#log.warn({ err }, 'zone folder watch failed; SIGHUP still reloads'));
    } catch (err) {
      this.#log.warn({ err }, 'cannot watch the zones folder; SIGHUP still reloads');
    }
  }

  stop(): void {
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
