/**
 * Plain counters the data plane bumps per query: a Map lookup and a few typed-array
 * increments, no string building, no allocation once a zone has been seen, and never a
 * prom-client call. The Prometheus registry (registry.ts) reads them only when scraped.
 */
import { RRType, rcodeToText, typeToText } from '../dns/constants.js';
import type { Target } from '../steer/types.js';

/** Upper bounds of the query latency buckets, in µs; a last bucket (+Inf) follows. */
export const LATENCY_BUCKETS_US: readonly number[] = Object.freeze([10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]);

/**
 * QTYPEs counted under their own label; any other type counts as "OTHER" (QTYPE is chosen
 * by the client, so the label set must stay bounded). QTYPE 0 is "NONE": the responder
 * passes 0 when the question could not be read.
 */
const TYPE_LABELS: readonly string[] = ['NONE', 'OTHER', ...Object.values(RRType).map(typeToText)];
const TYPE_NONE = 0;
const TYPE_OTHER = 1;
/** QTYPE → index into TYPE_LABELS (a 16-bit QTYPE indexes it directly). */
const TYPE_INDEX = new Uint8Array(0x10000).fill(TYPE_OTHER);
TYPE_INDEX[0] = TYPE_NONE;
Object.values(RRType).forEach((type, i) => (TYPE_INDEX[type] = i + 2));

/** RCODEs 0..23 (every one assigned so far, BADVERS and the TSIG ones included) each have a slot; the rest share the last. */
const RCODE_SLOTS = 25;
const RCODE_OTHER = RCODE_SLOTS - 1;
const RCODE_LABELS: readonly string[] = Array.from({ length: RCODE_SLOTS }, (_, i) => (i === RCODE_OTHER ? 'OTHER' : rcodeToText(i)));

const SLOTS_PER_ZONE = TYPE_LABELS.length * RCODE_SLOTS;

/** One steered-answer counter, shared by every Target object with the same key and region. */
interface AnswerCell {
  count: number;
}

/** The latency histogram as read at scrape time; `counts` are per bucket, not cumulative. */
export interface LatencyHistogram {
  /** Upper bounds in µs; `counts` has one more entry, for +Inf. */
  readonly boundsUs: readonly number[];
  readonly counts: readonly number[];
  readonly sumUs: number;
  readonly count: number;
}

export class QueryStats {
  /** Zone origin key ("" = no zone) → counts at [typeIndex × RCODE_SLOTS + rcodeSlot]. */
  readonly #queries = new Map<string, Float64Array>();
  readonly #latency = new Float64Array(LATENCY_BUCKETS_US.length + 1);
  #latencySumUs = 0;
  #latencyCount = 0;
  /** Target key → region → counter. */
  readonly #answers = new Map<string, Map<string, AnswerCell>>();
  /** Fast path: Target objects are immutable, so each maps to its cell once; weak, so reloads do not pin old targets. */
  readonly #answerCells = new WeakMap<Target, AnswerCell>();
  /** Steered name key → whenAllDown action → decisions made while every target was down. */
  readonly #failOpen = new Map<string, Map<string, number>>();
  /** Packets dropped without an answer (responses, runts, unparsable headers). */
  dropped = 0;

  /**
   * One answered query. `zoneKey` is the origin key of the zone that answered ("" for none),
   * `rcode` the full (extended) RCODE, `micros` the time from packet in to answer built.
   */
  record(zoneKey: string, qtype: number, rcode: number, micros: number): void {
    let counts = this.#queries.get(zoneKey);
    if (counts === undefined) {
      counts = new Float64Array(SLOTS_PER_ZONE);
      this.#queries.set(zoneKey, counts);
    }
    const typeIndex = TYPE_INDEX[qtype] ?? TYPE_OTHER;
    const rcodeSlot = rcode >= 0 && rcode < RCODE_OTHER ? rcode : RCODE_OTHER;
    counts[typeIndex * RCODE_SLOTS + rcodeSlot]!++;
    const bounds = LATENCY_BUCKETS_US;
    let i = 0;
    while (i < bounds.length && micros > bounds[i]!) i++;
    this.#latency[i]!++;
    this.#latencySumUs += micros;
    this.#latencyCount++;
  }

  /** A packet dropped without an answer. */
  recordDrop(): void {
    this.dropped++;
  }

  /** The targets one steering decision answered with. */
  recordAnswer(targets: readonly Target[]): void {
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      const cell = this.#answerCells.get(t) ?? this.#newAnswerCell(t);
      cell.count++;
    }
  }

  #newAnswerCell(t: Target): AnswerCell {
    let byRegion = this.#answers.get(t.key);
    if (byRegion === undefined) this.#answers.set(t.key, (byRegion = new Map<string, AnswerCell>()));
    let cell = byRegion.get(t.region);
    if (cell === undefined) byRegion.set(t.region, (cell = { count: 0 }));
    this.#answerCells.set(t, cell);
    return cell;
  }

  /**
   * A decision made while every target of the steered name was down; `action` is what the
   * policy did about it (its whenAllDown: "fail-open", "fallback", "nodata", "servfail").
   */
  recordFailOpen(nameKey: string, action = 'fail-open'): void {
    let byAction = this.#failOpen.get(nameKey);
    if (byAction === undefined) this.#failOpen.set(nameKey, (byAction = new Map<string, number>()));
    byAction.set(action, (byAction.get(action) ?? 0) + 1);
  }

  // Readers, for the scrape: they may allocate.

  /** Every non-zero query counter: zone origin key ("" for none), QTYPE label, RCODE label. */
  forEachQuery(fn: (zoneKey: string, type: string, rcode: string, count: number) => void): void {
    for (const [zone, counts] of this.#queries) {
      for (let slot = 0; slot < counts.length; slot++) {
        const n = counts[slot]!;
        if (n !== 0) fn(zone, TYPE_LABELS[Math.floor(slot / RCODE_SLOTS)]!, RCODE_LABELS[slot % RCODE_SLOTS]!, n);
      }
    }
  }

  /** Queries counted under one zone, type label and rcode label (for tests and status pages). */
  queryCount(zoneKey: string, type: string, rcode: string): number {
    const counts = this.#queries.get(zoneKey);
    const t = TYPE_LABELS.indexOf(type);
    const r = RCODE_LABELS.indexOf(rcode);
    return counts === undefined || t < 0 || r < 0 ? 0 : counts[t * RCODE_SLOTS + r]!;
  }

  forEachAnswer(fn: (targetKey: string, region: string, count: number) => void): void {
    for (const [key, byRegion] of this.#answers) for (const [region, cell] of byRegion) fn(key, region, cell.count);
  }

  /** Cumulative answers per target key, with its region (the last one seen, should a reload have moved it). */
  answerTotals(): Map<string, { region: string; count: number }> {
    const out = new Map<string, { region: string; count: number }>();
    this.forEachAnswer((key, region, count) => out.set(key, { region, count }));
    return out;
  }

  forEachFailOpen(fn: (nameKey: string, action: string, count: number) => void): void {
    for (const [name, byAction] of this.#failOpen) for (const [action, n] of byAction) fn(name, action, n);
  }

  latency(): LatencyHistogram {
    return { boundsUs: LATENCY_BUCKETS_US, counts: Array.from(this.#latency), sumUs: this.#latencySumUs, count: this.#latencyCount };
  }
}
