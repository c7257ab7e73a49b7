/**
 * A request body trickled just fast enough to dodge the idle timeout (a byte a second) holds
 * a backend slot as surely as a silent one. Past a grace period a body must keep arriving at
 * `client.minBodyBytesPerSec` on average over each window of `client.bodyRateGraceMs` (as
 * Kestrel's MinRequestBodyDataRate: 240 B/s after 5 s). Only time the balancer was ready to
 * read counts: while bytes wait in the request's buffer the backend is the slow one, and the
 * window starts again. One timer a second checks every upload in progress; requests without
 * a body cost nothing.
 */
import type { IncomingMessage } from 'node:http';

export interface BodyRateLimit {
  readonly minBodyBytesPerSec: number;
  readonly bodyRateGraceMs: number;
}

interface Upload {
  readonly req: IncomingMessage;
  readonly tooSlow: () => void;
  since: number;
  bytesAt: number;
}

export class BodyRateMonitor {
  private readonly uploads = new Set<Upload>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly limit: () => BodyRateLimit,
    private readonly now: () => number,
    private readonly checkEveryMs = 1000,
  ) {}

  /** Watches `req`'s body until it ends; calls `tooSlow` once if it falls under the rate. */
  watch(req: IncomingMessage, tooSlow: () => void): void {
    if (this.limit().minBodyBytesPerSec === 0) return;
    const upload: Upload = { req, tooSlow, since: this.now(), bytesAt: req.socket.bytesRead };
    this.uploads.add(upload);
    const done = (): void => void this.uploads.delete(upload);
    req.once('end', done);
    req.once('close', done);
    if (this.timer === null) {
      this.timer = setInterval(() => this.check(), this.checkEveryMs);
      this.timer.unref();
    }
  }

  get watching(): number {
    return this.uploads.size;
  }

  private check(): void {
    const { minBodyBytesPerSec, bodyRateGraceMs } = this.limit();
    const now = this.now();
    for (const u of this.uploads) {
      const socket = u.req.socket;
      if (u.req.complete || socket.destroyed) {
        this.uploads.delete(u);
        continue;
      }
      if (u.req.readableLength > 0) {
        u.since = now; // the backend is not reading: not the client's time
        u.bytesAt = socket.bytesRead;
        continue;
      }
      const elapsed = now - u.since;
      if (elapsed < bodyRateGraceMs) continue;
      if (((socket.bytesRead - u.bytesAt) * 1000) / elapsed < minBodyBytesPerSec) {
        this.uploads.delete(u);
        u.tooSlow();
        continue;
      }
      u.since = now;
      u.bytesAt = socket.bytesRead;
    }
    if (this.uploads.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
