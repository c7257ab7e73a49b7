/**
 * Steered answers per target over a sliding window (the last few minutes), for the status
 * page. The data plane only keeps cumulative counters (metrics/query-stats.ts); rather than
 * add work to every query, this samples those totals every few seconds, off the query path,
 * and a window is the difference between the totals now and the totals at its start. The
 * window's edges are as precise as the sampling interval.
 */

/** Cumulative answers per target key ("example.com/eu-west"), with the target's region. */
export type AnswerTotals = ReadonlyMap<string, { readonly region: string; readonly count: number }>;

export interface AnswerWindowOptions {
  /** Length of one bucket (default one minute). */
  readonly bucketMs?: number;
  /** Buckets in the window (default 5). */
  readonly buckets?: number;
  /** How often totals are sampled (default 10 s). */
  readonly sampleMs?: number;
  readonly now?: () => number;
}

export interface WindowCounts {
  /** Start of the window (later than now − length while the server has run for less). */
  readonly since: number;
  readonly until: number;
  /** Answers per target key within the window. */
  readonly total: ReadonlyMap<string, { readonly region: string; readonly count: number }>;
  /** Oldest first; each covers [start, start + bucketMs), the last one ends at `until`. */
  readonly buckets: ReadonlyArray<{ readonly start: number; readonly counts: ReadonlyMap<string, number> }>;
}

interface Sample {
  readonly at: number;
  readonly totals: AnswerTotals;
}

export class AnswerWindow {
  readonly #read: () => Promise<AnswerTotals>;
  readonly #bucketMs: number;
  readonly #buckets: number;
  readonly #sampleMs: number;
  readonly #now: () => number;
  /** Oldest first; the first one is at or before the window's start once the server has run long enough. */
  #samples: Sample[] = [];
  #timer: NodeJS.Timeout | null = null;

  constructor(read: () => Promise<AnswerTotals>, opts: AnswerWindowOptions = {}) {
    this.#read = read;
    this.#bucketMs = opts.bucketMs ?? 60_000;
    this.#buckets = opts.buckets ?? 5;
    this.#sampleMs = opts.sampleMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  get lengthMs(): number {
    return this.#bucketMs * this.#buckets;
  }

  /**
   * Takes a first sample now and then one every `sampleMs`; the timer does not keep the
   * process alive. A status-page counter must never stop the server from starting: when the
   * first reading fails, the window counts from zero (the counters are new, as the server is).
   */
  async start(): Promise<void> {
    await this.sample().catch(() => this.#add({ at: this.#now(), totals: new Map() }));
    this.#timer = setInterval(() => void this.sample().catch(() => {}), this.#sampleMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async sample(): Promise<void> {
    const totals = await this.#read();
    this.#add({ at: this.#now(), totals });
  }

  #add(s: Sample): void {
    this.#samples.push(s);
    // Keep one sample at or before the window's start as its baseline; drop the older ones.
    const start = s.at - this.lengthMs;
    let drop = 0;
    while (drop + 1 < this.#samples.length && this.#samples[drop + 1]!.at <= start) drop++;
    if (drop > 0) this.#samples = this.#samples.slice(drop);
  }

  /** The window ending now, from a fresh reading of the totals. */
  async counts(): Promise<WindowCounts> {
    const now = this.#now();
    const current: Sample = { at: now, totals: await this.#read() };
    const samples = [...this.#samples, current];
    const since = Math.max(now - this.lengthMs, samples[0]!.at);
    const total = new Map<string, { region: string; count: number }>();
    // The baseline is a stored sample, never this reading (they share a timestamp when the window is brand new).
    const base = this.#samples.length > 0 ? this.#totalsAt(this.#samples, since) : new Map<string, { region: string; count: number }>();
    for (const [key, { region, count }] of current.totals) total.set(key, { region, count: Math.max(0, count - (base.get(key)?.count ?? 0)) });
    const buckets: Array<{ start: number; counts: Map<string, number> }> = [];
    for (let i = this.#buckets; i >= 1; i--) {
      const start = now - i * this.#bucketMs;
      const end = start + this.#bucketMs;
      const from = this.#totalsAt(samples, start);
      const to = this.#totalsAt(samples, end);
      const counts = new Map<string, number>();
      for (const [key, { count }] of to) counts.set(key, Math.max(0, count - (from.get(key)?.count ?? 0)));
      buckets.push({ start, counts });
    }
    return { since, until: now, total, buckets };
  }

  /** The totals of the last sample taken at or before `t` (the first sample when `t` is earlier). */
  #totalsAt(samples: readonly Sample[], t: number): AnswerTotals {
    let found = samples[0]!;
    for (const s of samples) {
      if (s.at > t) break;
      found = s;
    }
    return found.totals;
  }
}
