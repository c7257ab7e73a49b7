/**
 * Token buckets: one global and one per client address. A bucket holds up to `burst` tokens
 * and refills at `ratePerSec`; a request takes one. Buckets are refilled lazily on use, and
 * per-client buckets that have refilled to full are forgotten, so memory follows the number
 * of clients that were limited recently, not every client ever seen.
 */
export interface Rate {
  readonly ratePerSec: number;
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Seconds until a request would be let in (0 when it is let in now). */
export type Admission = number;

export class TokenBucket {
  private readonly bucket: Bucket;
  constructor(private readonly rate: Rate, now: number) {
    this.bucket = { tokens: rate.burst, at: now };
  }
  take(now: number): Admission {
    return takeToken(this.bucket, this.rate, now);
  }
}

export class KeyedTokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep: number;
  constructor(private readonly rate: Rate, now: number, private readonly sweepEveryMs = 10_000) {
    this.lastSweep = now;
  }
  take(key: string, now: number): Admission {
    if (now - this.lastSweep >= this.sweepEveryMs) this.sweep(now);
    let b = this.buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.rate.burst, at: now };
      this.buckets.set(key, b);
    }
    return takeToken(b, this.rate, now);
  }
  get size(): number {
    return this.buckets.size;
  }
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.rate.ratePerSec >= this.rate.burst) this.buckets.delete(key);
    }
  }
}

function takeToken(b: Bucket, rate: Rate, now: number): Admission {
  b.tokens = Math.min(rate.burst, b.tokens + ((now - b.at) / 1000) * rate.ratePerSec);
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return (1 - b.tokens) / rate.ratePerSec;
}
