/**
 * Token buckets: one global and one per client address. A bucket holds up to `burst` tokens
 * and refills at `ratePerSec`; a request takes one. Buckets are refilled lazily on use, and
 * per-client buckets that have refilled to full are forgotten, so memory follows the number
 * of clients that were limited recently, not every client ever seen.
 *
 * With `--workers N` the buckets live in the primary alone (SharedBuckets), so the limits
 * hold for the balancer as a whole, whichever worker a connection lands on: each worker
 * sends the client addresses of the requests that arrived in one turn of its event loop in
 * one IPC message (RemoteBuckets) and admits each on the answer.
 */
export interface Rate {
  readonly ratePerSec: number;
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Seconds until a request would be let in (0 when it is let in now); not proxy.ts's Admission, the outcome of a whole request. */
export type WaitSeconds = number;

export class TokenBucket {
  private readonly bucket: Bucket;
  constructor(
    private readonly rate: Rate,
    now: number,
  ) {
    this.bucket = { tokens: rate.burst, at: now };
  }
  take(now: number): WaitSeconds {
    return takeToken(this.bucket, this.rate, now);
  }
}

export class KeyedTokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep: number;
  constructor(
    private readonly rate: Rate,
    now: number,
    private readonly sweepEveryMs = 10_000,
  ) {
    this.lastSweep = now;
  }
  take(key: string, now: number): WaitSeconds {
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

function takeToken(b: Bucket, rate: Rate, now: number): WaitSeconds {
  b.tokens = Math.min(rate.burst, b.tokens + ((now - b.at) / 1000) * rate.ratePerSec);
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return (1 - b.tokens) / rate.ratePerSec;
}

/** Both limits of one config: the client's own first; the global bucket is charged only for what that let through. */
export function takeTokens(perClient: KeyedTokenBuckets | null, global: TokenBucket | null, client: string, now: number): WaitSeconds {
  if (perClient !== null) {
    const wait = perClient.take(client, now);
    if (wait > 0) return wait;
  }
  return global === null ? 0 : global.take(now);
}

export interface RateLimitConfig {
  readonly perClient: Rate | null;
  readonly global: Rate | null;
}

/** IPC between workers and the primary: a batch of client addresses, and the wait for each. */
export interface TakeBatch {
  readonly kind: 'meridian-l7-tokens';
  readonly id: number;
  readonly clients: readonly string[];
}
export interface TakeAnswer {
  readonly kind: 'meridian-l7-tokens';
  readonly id: number;
  readonly waits: readonly number[];
}
/** A worker tells the primary the limits of the config it runs (at start and after a reload). */
export interface LimitsConfig {
  readonly kind: 'meridian-l7-limits';
  readonly rateLimit: RateLimitConfig;
}

/** The primary's buckets for every worker; a changed config replaces only the limit that changed. */
export class SharedBuckets {
  private config: RateLimitConfig = { perClient: null, global: null };
  private perClient: KeyedTokenBuckets | null = null;
  private global: TokenBucket | null = null;

  configure(config: RateLimitConfig, now: number): void {
    if (JSON.stringify(config.perClient) !== JSON.stringify(this.config.perClient)) this.perClient = config.perClient === null ? null : new KeyedTokenBuckets(config.perClient, now);
    if (JSON.stringify(config.global) !== JSON.stringify(this.config.global)) this.global = config.global === null ? null : new TokenBucket(config.global, now);
    this.config = config;
  }

  answer(batch: TakeBatch, now: number): TakeAnswer {
    const waits = batch.clients.map((c) => takeTokens(this.perClient, this.global, c, now));
    return { kind: 'meridian-l7-tokens', id: batch.id, waits };
  }
}

/**
 * A worker's side of SharedBuckets. Requests arriving in one event-loop turn share one
 * message; when the primary does not answer within `timeoutMs` the requests are let in
 * (a rate limit that fails closed would turn a stuck primary into an outage).
 */
export class RemoteBuckets {
  private batch: { clients: string[]; done: ((wait: number) => void)[] } | null = null;
  private readonly pending = new Map<number, { done: ((wait: number) => void)[]; timer: NodeJS.Timeout }>();
  private nextId = 1;

  constructor(
    private readonly send: (batch: TakeBatch) => void,
    private readonly timeoutMs = 1000,
  ) {}

  take(client: string): Promise<WaitSeconds> {
    if (this.batch === null) {
      this.batch = { clients: [], done: [] };
      setImmediate(() => this.flush());
    }
    const batch = this.batch;
    return new Promise((resolve) => {
      batch.clients.push(client);
      batch.done.push(resolve);
    });
  }

  /** An answer from the primary. */
  settle(answer: TakeAnswer): void {
    const p = this.pending.get(answer.id);
    if (p === undefined) return;
    this.pending.delete(answer.id);
    clearTimeout(p.timer);
    p.done.forEach((done, i) => done(answer.waits[i] ?? 0));
  }

  private flush(): void {
    const batch = this.batch!;
    this.batch = null;
    const id = this.nextId++;
    const timer = setTimeout(() => {
      this.pending.delete(id);
      for (const done of batch.done) done(0);
    }, this.timeoutMs);
    timer.unref();
    this.pending.set(id, { done: batch.done, timer });
    this.send({ kind: 'meridian-l7-tokens', id, clients: batch.clients });
  }
}
