/**
 * A sink for JSON lines (the DNS query log, the balancer's access log). The data plane only
 * formats a sampled line and queues it. Lines go out in batches, one asynchronous write in
 * flight at a time (fs.write runs on libuv's thread pool, so a slow disk or a stalled stdout
 * reader never blocks the caller). The queue is bounded: when the sink cannot keep up, new
 * lines are dropped and counted, never held.
 *
 *   queue (≤ maxPending lines) ──every flushMs──▶ one Buffer ──fs.write──▶ file / stdout
 */
import fs from 'node:fs';
import type { Logger } from 'pino';

export interface LineSinkOptions {
  /** A file to append to, or "-" for standard output. */
  readonly path: string;
  /** Share of events logged, 0..1. */
  readonly sample: number;
  /** Lines queued at most while the sink is busy; more are dropped (and counted). */
  readonly maxPending: number;
  readonly flushMs: number;
}

const RETRY_MS = 50;
/** close() waits this long for a sink that does not take the last lines, then gives up on them. */
const CLOSE_TIMEOUT_MS = 2000;

export class LineSink {
  readonly #o: LineSinkOptions;
  readonly #name: string;
  readonly #log: Logger;
  readonly #fd: number;
  readonly #ownFd: boolean;
  #pending: string[] = [];
  /** Bytes of the last write the sink did not take yet (a partial write to a pipe). */
  #carry: Buffer | null = null;
  #writing = false;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #failed = false;
  #idle: (() => void) | null = null;
  /** Lines written, and lines dropped because the queue was full or the sink failed. */
  written = 0;
  dropped = 0;

  /** Opens the file (appending) at once, so a path that cannot be written stops start-up with its name. */
  constructor(o: LineSinkOptions, log: Logger, name: string) {
    this.#o = o;
    this.#name = name;
    this.#log = log;
    this.#ownFd = o.path !== '-';
    this.#fd = this.#ownFd ? fs.openSync(o.path, 'a', 0o640) : 1;
  }

  /** Whether to log the event at hand: true for a share `sample` of calls. */
  sampled(): boolean {
    const sample = this.#o.sample;
    return sample >= 1 || (sample > 0 && Math.random() < sample);
  }

  /** Whether a line may be queued now; false (counted as dropped when the queue is full) means do not even format it. */
  protected room(): boolean {
    if (this.#closed) return false;
    if (this.#pending.length >= this.#o.maxPending) {
      this.dropped++;
      return false;
    }
    return true;
  }

  /** Queues one line (ending in a newline); call only after room() said yes. */
  protected push(line: string): void {
    this.#pending.push(line);
    if (this.#timer === null && !this.#writing) this.#timer = setTimeout(() => this.#flush(), this.#o.flushMs);
  }

  #flush(): void {
    this.#timer = null;
    if (this.#writing) return;
    let buf = this.#carry;
    this.#carry = null;
    if (buf === null) {
      if (this.#pending.length === 0) return this.#idle?.();
      const lines = this.#pending;
      this.#pending = [];
      buf = Buffer.from(lines.join(''));
      this.written += lines.length;
    }
    this.#writing = true;
    fs.write(this.#fd, buf, 0, buf.length, null, (err, n) => {
      this.#writing = false;
      // close() gave up on this sink: nothing more goes to it.
      if (this.#closed && this.#idle === null) return;
      if (err) {
        if (err.code === 'EAGAIN') {
          // A non-blocking pipe whose reader is behind: try the same bytes again shortly.
          this.#carry = buf;
          this.#timer = setTimeout(() => this.#flush(), RETRY_MS);
          return;
        }
        const lost = countLines(buf);
        this.written -= lost;
        this.dropped += lost;
        if (!this.#failed) this.#log.error({ err, path: this.#o.path }, `${this.#name}: cannot write; dropping lines until it can`);
        this.#failed = true;
      } else if (n < buf.length) {
        this.#carry = buf.subarray(n);
      } else this.#failed = false;
      if (this.#carry !== null || this.#pending.length > 0) this.#timer = setTimeout(() => this.#flush(), this.#closed ? 0 : this.#o.flushMs);
      else this.#idle?.();
    });
  }

  /** Writes what is queued, then closes the file; a sink that takes nothing for CLOSE_TIMEOUT_MS costs its lines, never the shutdown. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => {
      const giveUp = setTimeout(() => {
        this.dropped += this.#pending.length;
        this.#pending = [];
        this.#carry = null;
        if (this.#timer !== null) clearTimeout(this.#timer);
        // A write still blocked on the sink keeps its descriptor: closing it under the write would not unblock it.
        if (this.#writing) {
          this.#idle = null;
          resolve();
        } else this.#idle?.();
      }, CLOSE_TIMEOUT_MS);
      giveUp.unref();
      this.#idle = () => {
        this.#idle = null;
        clearTimeout(giveUp);
        if (this.#ownFd) fs.close(this.#fd, () => resolve());
        else resolve();
      };
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
      if (!this.#writing) this.#flush();
    });
  }
}

function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === 0x0a) n++;
  return n;
}
