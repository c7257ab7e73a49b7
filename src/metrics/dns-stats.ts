/**
 * Plain counters the data plane bumps per query: a few Map and array updates, never a
 * prom-client call (pino's lesson: do nothing costly when nothing is needed). The
 * Prometheus registry reads them only when scraped.
 */
import type { Target } from '../steer/types.js';

/** Query latency buckets, in µs (upper bounds; the last bucket is +Inf). */
export const LATENCY_BUCKETS_US = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

export class DnsStats {
  /** "zone|qtype|rcode" → count; zone "" when outside every zone or unparsable. */
  readonly queries = new Map<string, number>();
  /** "target|region" → steered answers that named the target. */
  readonly answers = new Map<string, number>();
  /** steered name → answers given although every target was down (fail-open or fallback). */
  readonly failOpen = new Map<string, number>();
  readonly latencyBuckets = new Float64Array(LATENCY_BUCKETS_US.length + 1);
  latencySumUs = 0;
  latencyCount = 0;
  dropped = 0;

  recordQuery(zone: string, qtype: number, rcode: number, micros: number): void {
    const key = `${zone}|${qtype}|${rcode}`;
    this.queries.set(key, (this.queries.get(key) ?? 0) + 1);
    let i = 0;
    while (i < LATENCY_BUCKETS_US.length && micros > LATENCY_BUCKETS_US[i]!) i++;
    this.latencyBuckets[i]!++;
    this.latencySumUs += micros;
    this.latencyCount++;
  }

  recordAnswer(targets: readonly Target[], allDown: boolean, nameKey: string): void {
    for (const t of targets) {
      const key = `${t.key}|${t.region}`;
      this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
    }
    if (allDown) this.failOpen.set(nameKey, (this.failOpen.get(nameKey) ?? 0) + 1);
  }
}
