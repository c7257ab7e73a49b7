/**
 * weighted: picks `count` targets without replacement, each draw with probability
 * proportional to weight (Route 53 weighted records, NS1's weighted_shuffle). Weight-0
 * targets are picked only once no positive-weight candidate is left (Route 53: a zero
 * record is answered only when all others are zero or unhealthy).
 *
 * How: every candidate gets a uniform u in (0,1) and the key −ln(1−u)/weight; the smallest
 * keys win. That is an exponential race, which is exactly sequential weighted drawing
 * without replacement (Efraimidis & Spirakis 2006), in one pass.
 *
 * mode "random": u comes from ctx.rand(), one call per candidate, candidates taken in id
 * order so the same rand sequence gives the same pick. No scope.
 * mode "stable": u is a hash (FNV-1a, then a murmur3 finaliser) of the client's network and
 * the target id, so a network always gets the same pick. Because each target's key depends
 * only on its own id, this is weighted rendezvous hashing (Thaler & Ravishankar): when a
 * target leaves, only the clients it had move, everyone else keeps their target. The network
 * is the client's address truncated to /24 (IPv4) or /56 (IPv6), never past its source
 * prefix, and that prefix is the ECS scope.
 *
 * The what-if simulation (ctx.branch) gets the exact distribution of a "random" pick instead
 * of a draw: `weightedOutcomes`, the same sequential drawing written as probabilities.
 */
import { clientNetworkPrefix, truncateAddress } from '../cidr.js';
import type { Filter, RandomOutcome, Target, WeightedConfig } from '../types.js';

export const weightedFilter: Filter<WeightedConfig> = (candidates, config, ctx) => {
  const count = config.count ?? 1;
  const mode = config.mode ?? 'random';
  if (candidates.length <= 1) {
    ctx.trace(() => ({ filter: 'weighted', kept: candidates.map((t) => t.id), why: `${candidates.length} candidate(s): nothing to pick from` }));
    return candidates;
  }
  const ordered = [...candidates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  let uniform: (t: Target) => number;
  let network = '';
  if (mode === 'stable') {
    const prefix = clientNetworkPrefix(ctx.client.family, ctx.client.sourcePrefix);
    network = `${truncateAddress(ctx.client.address, prefix)}/${prefix}`;
    const seed = fnv1a(FNV_OFFSET, network);
    uniform = (t) => toUnit(fmix32(fnv1a(fnv1a(seed, '|'), t.id)));
    ctx.useScope(prefix);
  } else if (ctx.branch !== undefined) {
    const kept = ctx.branch(weightedOutcomes(ordered, count, ctx.capacity));
    ctx.trace(() => ({ filter: 'weighted', kept: kept.map((t) => t.id), why: `random (one of its outcomes, simulated): ${count} of ${candidates.length} by weight` }));
    return kept;
  } else {
    uniform = () => ctx.rand();
  }
  const keyed = ordered.map((t) => {
    const race = -Math.log(1 - uniform(t)); // Exp(1)
    // A region with half its backends gone gets half its share (balancer probes report capacity).
    const weight = t.weight * ctx.capacity(t);
    // Positive weights race on their own scale; weight 0 runs a second race that starts after every positive one.
    return weight > 0 ? { t, tier: 0, key: race / weight } : { t, tier: 1, key: race };
  });
  keyed.sort((a, b) => a.tier - b.tier || a.key - b.key);
  const kept = keyed.slice(0, count).map((k) => k.t);
  ctx.trace(() => ({
    filter: 'weighted',
    kept: kept.map((t) => t.id),
    why: `${mode === 'stable' ? `stable for ${network}` : 'random'}: ${count} of ${candidates.length} by weight`,
  }));
  return kept;
};

/** More outcomes than this in one random pick is refused by the simulation rather than enumerated. */
export const MAX_WEIGHTED_OUTCOMES = 10_000;

/**
 * Every ordered pick of `count` the race above can make, with its exact probability: the
 * race is sequential drawing without replacement, so an order's probability is the product,
 * draw by draw, of weight / (weight still in the race). Weight-0 targets race (equally)
 * only once no positive weight is left. Throws past MAX_WEIGHTED_OUTCOMES.
 */
export function weightedOutcomes(candidates: readonly Target[], count: number, capacity: (t: Target) => number): RandomOutcome[] {
  const weights = candidates.map((t) => t.weight * capacity(t));
  const outcomes: RandomOutcome[] = [];
  const picked: Target[] = [];
  const used = new Array<boolean>(candidates.length).fill(false);
  const draw = (p: number): void => {
    if (picked.length === Math.min(count, candidates.length)) {
      if (outcomes.length >= MAX_WEIGHTED_OUTCOMES) throw new Error(`a weighted pick of ${count} among ${candidates.length} targets has more than ${MAX_WEIGHTED_OUTCOMES} outcomes to simulate`);
      outcomes.push({ targets: [...picked], p });
      return;
    }
    let positive = 0;
    let zero = 0;
    candidates.forEach((_, i) => {
      if (used[i]) return;
      if (weights[i]! > 0) positive += weights[i]!;
      else zero++;
    });
    candidates.forEach((t, i) => {
      if (used[i]) return;
      const share = positive > 0 ? weights[i]! / positive : 1 / zero;
      if (share <= 0) return;
      used[i] = true;
      picked.push(t);
      draw(p * share);
      picked.pop();
      used[i] = false;
    });
  };
  draw(1);
  return outcomes;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a over UTF-16 code units, continuing from `hash`. */
function fnv1a(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

/** murmur3's finaliser: FNV's low bits mix poorly on short, similar inputs such as neighbouring /24s. */
function fmix32(hash: number): number {
  let h = hash;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A 32-bit hash as a number in (0, 1). */
function toUnit(hash: number): number {
  return (hash + 0.5) / 4294967296;
}
