/**
 * Steering decisions by (steered name, QTYPE, client network), valid for one snapshot
 * version, so a hit skips the GeoIP lookup and the filter chain (issue #7).
 *
 * A decision holds for every address that shares the first `prefix` bits with the client
 * and sends the same ECS source prefix: `prefix` is the decision's ECS scope (the longest
 * prefix any filter depended on) widened to the GeoIP network the client fell in, so that
 * a "no location" or "no record" outcome, which filters scope to the client's /24 or /56,
 * is never shared with a neighbouring, located network. Decisions that drew random numbers
 * or read live latency (probe RTTs, admin samples) are not cached at all: see
 * `cacheablePrefix`.
 *
 * Layout: per name, a bucket per (QTYPE, family, source prefix) with the prefix lengths
 * stored in it and a map from masked address to decision. A lookup probes each stored
 * length in the order first seen; with GeoIP networks of many sizes that is a dozen or more.
 * So a decision found past the first probe is also kept under the client's own network (its
 * source prefix, the /24 of most ECS queries) in the bucket's `seen` map, probed first: the
 * next query from that network takes one probe. That narrower key is correct as any entry
 * is: it holds for a subset of the addresses the decision was cached for. IPv4 keys are
 * numbers (no string per query).
 * Bounded: when the entries reach the limit everything is dropped (a generation clear), so
 * a flood of distinct /24s costs recomputation, never memory. The `seen` entries have a
 * limit of their own (the same number) and are dropped alone when they reach it: they
 * never push a decision out.
 */
import type { Decision } from '../steer/decide.js';
import type { ClientInfo, SteeredName } from '../steer/types.js';
import { PerSnapshotCache } from '../snapshot/per-snapshot-cache.js';

/** The client address in the form the cache masks: numbers, not text. */
export interface ClientBits {
  readonly family: 4 | 6;
  /** IPv4 address as an unsigned 32-bit number (0 for IPv6). */
  readonly v4: number;
  /** IPv6 address as a 128-bit integer (0n for IPv4). */
  readonly v6: bigint;
  /** ECS SOURCE PREFIX-LENGTH, or 32/128 for the resolver's own address. */
  readonly sourcePrefix: number;
}

interface Bucket {
  /** Prefix lengths of the entries, in the order first seen. */
  readonly prefixes: number[];
  readonly v4: Map<number, Decision>;
  readonly v6: Map<string, Decision>;
  /** Decisions found past the first probe, by the client's own network (keyed at the bucket's source prefix). */
  readonly seen4: Map<number, Decision>;
  readonly seen6: Map<string, Decision>;
  /** The seen generation these maps belong to: older, they are emptied when the bucket is next used. */
  seenGeneration: number;
}

export class DecisionCache<Answer = unknown> extends PerSnapshotCache {
  readonly #byName = new Map<SteeredName, Map<number, Bucket>>();
  /** The encoded answer of each cached decision, so a hit needs no answer-cache key; and its signed form (DO=1, a signed zone). */
  readonly #answers = new Map<Decision, Answer>();
  readonly #signedAnswers = new Map<Decision, Answer>();
  /** Decisions held since the last clear (setAnswer ignores others). */
  #held = new WeakSet<Decision>();
  readonly #maxEntries: number;
  #size = 0;
  /** Entries in the buckets' seen maps of this seen generation. */
  #seen = 0;
  /**
   * Moves when the seen entries reach the limit: each bucket empties its own seen maps when
   * next used, where emptying every bucket at once walked every name on the query path (23 ms
   * with 50,000 steered names).
   */
  #seenGeneration = 0;
  hits = 0;
  misses = 0;

  constructor(maxEntries: number) {
    super();
    this.#maxEntries = maxEntries;
  }

  /**
   * An admin write changed some names' records: decisions hold (they read policies, health
   * and GeoIP, none of which changed), their encoded answers go (a NODATA one carries the SOA).
   */
  protected override forget(): void {
    this.#answers.clear();
    this.#signedAnswers.clear();
  }

  clear(): void {
    this.#byName.clear();
    this.#answers.clear();
    this.#signedAnswers.clear();
    this.#held = new WeakSet();
    this.#size = 0;
    this.#seen = 0;
  }

  get size(): number {
    return this.#size;
  }

  get(name: SteeredName, qtype: number, client: ClientBits): Decision | undefined {
    const d = this.peek(name, qtype, client);
    if (d === undefined) this.misses++;
    else this.hits++;
    return d;
  }

  /** As get(), without counting: for a caller that counts only when it uses the decision. */
  peek(name: SteeredName, qtype: number, client: ClientBits): Decision | undefined {
    const bucket = this.#byName.get(name)?.get(bucketIndex(qtype, client));
    if (bucket === undefined) return undefined;
    if (bucket.seenGeneration !== this.#seenGeneration) this.#renewSeen(bucket);
    const prefixes = bucket.prefixes;
    if (client.family === 4) {
      const own = v4Key(client.v4, client.sourcePrefix);
      const seen = bucket.seen4.size === 0 ? undefined : bucket.seen4.get(own);
      if (seen !== undefined) return seen;
      for (let i = 0; i < prefixes.length; i++) {
        const d = bucket.v4.get(v4Key(client.v4, prefixes[i]!));
        if (d === undefined) continue;
        if (i > 0 && this.#roomToSee(bucket)) {
          bucket.seen4.set(own, d);
          this.#seen++;
        }
        return d;
      }
      return undefined;
    }
    let own: string | null = null;
    if (bucket.seen6.size > 0) {
      own = v6Key(client.v6, client.sourcePrefix);
      const seen = bucket.seen6.get(own);
      if (seen !== undefined) return seen;
    }
    for (let i = 0; i < prefixes.length; i++) {
      const d = bucket.v6.get(v6Key(client.v6, prefixes[i]!));
      if (d === undefined) continue;
      if (i > 0 && this.#roomToSee(bucket)) {
        bucket.seen6.set(own ?? v6Key(client.v6, client.sourcePrefix), d);
        this.#seen++;
      }
      return d;
    }
    return undefined;
  }

  /** Whether a seen entry may be added to `bucket`; at the limit every seen entry goes (the decisions stay), and then it may. */
  #roomToSee(bucket: Bucket): boolean {
    if (this.#maxEntries <= 0) return false;
    if (this.#seen >= this.#maxEntries) {
      this.#seenGeneration++;
      this.#seen = 0;
      this.#renewSeen(bucket);
    }
    return true;
  }

  #renewSeen(bucket: Bucket): void {
    bucket.seen4.clear();
    bucket.seen6.clear();
    bucket.seenGeneration = this.#seenGeneration;
  }

  /** Entries in the seen maps of the current seen generation (tests). */
  get seenSize(): number {
    return this.#seen;
  }

  /** The answer kept for a decision this cache holds, if any; `signed`: the one with RRSIGs. */
  answerFor(decision: Decision, signed = false): Answer | undefined {
    return (signed ? this.#signedAnswers : this.#answers).get(decision);
  }

  /** Keeps the answer of a decision this cache holds (decisions it does not hold are ignored, so nothing outlives a clear). */
  setAnswer(decision: Decision, answer: Answer, signed = false): void {
    if (this.#held.has(decision)) (signed ? this.#signedAnswers : this.#answers).set(decision, answer);
  }

  /** Keeps `decision` for every client sharing the first `prefix` bits (and the source prefix) with `client`. */
  set(name: SteeredName, qtype: number, client: ClientBits, prefix: number, decision: Decision): void {
    if (this.#maxEntries <= 0) return;
    if (this.#size >= this.#maxEntries) this.clear();
    let buckets = this.#byName.get(name);
    if (buckets === undefined) this.#byName.set(name, (buckets = new Map<number, Bucket>()));
    const index = bucketIndex(qtype, client);
    let bucket = buckets.get(index);
    if (bucket === undefined) buckets.set(index, (bucket = { prefixes: [], v4: new Map(), v6: new Map(), seen4: new Map(), seen6: new Map(), seenGeneration: this.#seenGeneration }));
    if (!bucket.prefixes.includes(prefix)) bucket.prefixes.push(prefix);
    const before = bucket.v4.size + bucket.v6.size;
    this.#held.add(decision);
    if (client.family === 4) bucket.v4.set(v4Key(client.v4, prefix), decision);
    else bucket.v6.set(v6Key(client.v6, prefix), decision);
    this.#size += bucket.v4.size + bucket.v6.size - before;
  }
}

/**
 * The prefix length a decision may be cached under, or null when it must not be cached.
 * `volatile`: the decision drew random numbers or read live latency, neither of which the
 * snapshot version covers. Scope 0 means no filter looked at the client: one entry serves all.
 */
export function cacheablePrefix(decision: Decision, client: ClientInfo, volatile: boolean): number | null {
  if (volatile) return null;
  if (decision.scope === 0) return 0;
  const full = client.family === 4 ? 32 : 128;
  const geoNetwork = client.geo.networkPrefix ?? full;
  return Math.min(client.sourcePrefix, Math.max(decision.scope, geoNetwork));
}

/** One bucket per (A or AAAA, family, source prefix 0..128). */
function bucketIndex(qtype: number, client: ClientBits): number {
  return (qtype === 1 ? 0 : 258) + (client.family === 4 ? 0 : 129) + client.sourcePrefix;
}

/** The first `prefix` bits and the prefix length in one safe integer (< 2^38). */
function v4Key(address: number, prefix: number): number {
  const network = prefix === 0 ? 0 : address >>> (32 - prefix);
  return network * 64 + prefix;
}

function v6Key(address: bigint, prefix: number): string {
  return `${(address >> BigInt(128 - prefix)).toString(36)}/${prefix}`;
}
