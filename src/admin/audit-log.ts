/**
 * The audit trail of admin writes (issue 14 item 6): one JSON line per change in its own
 * file, written and fsynced before the API answers 2xx, so no acknowledged change is ever
 * missing from it, even after SIGKILL or power loss (the log stream is asynchronous and can
 * lose its last lines). Rotated by size: `audit.log` → `audit.log.1` → … → `audit.log.<keep>`.
 * Lines name the token, never its secret.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { syncDir } from '../storage/atomic-write.js';

const fdatasync = promisify(fs.fdatasync);

export interface AuditOptions {
  readonly file: string;
  /** Rotate before a line would take the file past this size. */
  readonly maxBytes: number;
  /** Rotated files kept besides the current one. */
  readonly keep: number;
}

/** One change: who, what, and the serials where a zone changed. */
export interface AuditEntry {
  readonly token: string;
  readonly change: string;
  readonly remote?: string;
  readonly zone?: string;
  readonly oldSerial?: number | null;
  readonly newSerial?: number;
  readonly targets?: readonly string[];
}

export class AuditLog {
  readonly #opts: AuditOptions;
  #fd: number;
  #size: number;
  /** The async appends in flight, in order. */
  #synced: Promise<void> = Promise.resolve();

  /** Opens (creating) the file now, so a path that cannot be written stops the start, not a later write. */
  constructor(opts: AuditOptions) {
    this.#opts = opts;
    fs.mkdirSync(path.dirname(opts.file), { recursive: true });
    this.#fd = this.#open();
    this.#size = fs.fstatSync(this.#fd).size;
  }

  get file(): string {
    return this.#opts.file;
  }

  /** Appends the line and fsyncs it; throws when that fails (the caller must not answer 2xx). */
  record(entry: AuditEntry, now = new Date()): void {
    const line = Buffer.from(JSON.stringify({ time: now.toISOString(), ...entry }) + '\n');
    if (this.#size > 0 && this.#size + line.length > this.#opts.maxBytes) this.#rotate();
    let at = 0;
    while (at < line.length) at += fs.writeSync(this.#fd, line, at);
    fs.fsyncSync(this.#fd);
    this.#size += line.length;
  }

  /**
   * record() with the fsync done by libuv's threads, so a slow disk holds this write's answer
   * but never the answering thread. Lines are appended in call order; each call's fsync
   * covers its line (and any before it).
   */
  recordAsync(entry: AuditEntry, now = new Date()): Promise<void> {
    const line = Buffer.from(JSON.stringify({ time: now.toISOString(), ...entry }) + '\n');
    // After the appends in flight: rotation closes the file they fsync.
    const write = this.#synced.then(async () => {
      if (this.#size > 0 && this.#size + line.length > this.#opts.maxBytes) this.#rotate();
      let at = 0;
      while (at < line.length) at += fs.writeSync(this.#fd, line, at);
      this.#size += line.length;
      await fdatasync(this.#fd);
    });
    this.#synced = write.catch(() => undefined);
    return write;
  }

  close(): void {
    fs.closeSync(this.#fd);
  }

  #open(): number {
    const created = !fs.existsSync(this.#opts.file);
    const fd = fs.openSync(this.#opts.file, 'a', 0o600);
    // a new file's name must survive a crash too
    if (created) syncDir(path.dirname(this.#opts.file));
    return fd;
  }

  #rotate(): void {
    const { file, keep } = this.#opts;
    fs.closeSync(this.#fd);
    try {
      if (keep === 0) {
        fs.rmSync(file, { force: true });
      } else {
        fs.rmSync(`${file}.${keep}`, { force: true });
        for (let i = keep - 1; i >= 1; i--) {
          if (fs.existsSync(`${file}.${i}`)) fs.renameSync(`${file}.${i}`, `${file}.${i + 1}`);
        }
        fs.renameSync(file, `${file}.1`);
      }
    } finally {
      // even when a rename failed: keep appending (to the unrotated file, then)
      this.#fd = this.#open();
      this.#size = fs.fstatSync(this.#fd).size;
    }
  }
}
