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

  constructor(directory: ZoneDirectory, publisher: SnapshotPublisher, log: Logger) {
    this.#directory = directory;
    this.#publisher = publisher;
    this.#log = log;
  }

  /** Reloads now; returns whether a new snapshot was published. */
  reload(force: boolean): boolean {
    const started = performance.now();
    const outcome = this.#directory.load(force);
    for (const p of outcome.problems) {
      if (p.severity === 'error') this.#log.error({ file: p.file, line: p.line }, `zone reload: ${formatProblem(p)}; the previous data keeps serving`);
      else this.#log.warn({ file: p.file, line: p.line }, formatProblem(p));
    }
    if (!outcome.changed) return false;
    this.#publisher.setZones(outcome.zones);
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
