/**
 * Health state survives a restart: saved on every change (debounced) and read back at
 * start-up, each state marked with its age, so a restart does not flip everything to up.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import { restored, type TargetHealth } from '../health/state-machine.js';
import { writeFileAtomic } from './atomic-write.js';

interface SavedFile {
  readonly version: 1;
  readonly savedAt: number;
  readonly targets: Record<string, TargetHealth>;
}

export function loadHealthState(file: string, now: number, log?: Logger): Map<string, TargetHealth> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return new Map();
  }
  try {
    const saved = JSON.parse(text) as SavedFile;
    if (saved.version !== 1 || typeof saved.savedAt !== 'number' || typeof saved.targets !== 'object') throw new Error('unknown format');
    const out = new Map<string, TargetHealth>();
    for (const [key, h] of Object.entries(saved.targets)) {
      if (h && (h.status === 'up' || h.status === 'down' || h.status === 'unknown')) out.set(key, restored(h, now, saved.savedAt));
    }
    log?.info({ file, targets: out.size, ageMs: now - saved.savedAt }, 'health state restored');
    return out;
  } catch (err) {
    log?.warn({ file, err }, 'health state file unreadable; starting from UNKNOWN');
    return new Map();
  }
}

/** Saves at most once per `debounceMs`, always the newest state. */
export class HealthStateWriter {
  readonly #file: string;
  readonly #debounceMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | null = null;
  #pending: (() => ReadonlyMap<string, TargetHealth>) | null = null;

  constructor(file: string, debounceMs: number, log: Logger) {
    this.#file = file;
    this.#debounceMs = debounceMs;
    this.#log = log;
  }

  schedule(states: () => ReadonlyMap<string, TargetHealth>): void {
    this.#pending = states;
    if (this.#timer) return;
    this.#timer = setTimeout(() => this.flush(), this.#debounceMs);
  }

  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const states = this.#pending;
    this.#pending = null;
    if (!states) return;
    const body: SavedFile = { version: 1, savedAt: Date.now(), targets: Object.fromEntries(states()) };
    try {
      writeFileAtomic(this.#file, JSON.stringify(body));
    } catch (err) {
      this.#log.warn({ err, file: this.#file }, 'cannot save health state');
    }
  }
}
