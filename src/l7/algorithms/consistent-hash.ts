/**
 * Consistent hashing on a ring with virtual nodes (Karger et al.; as Envoy's ring_hash):
 * each backend owns `virtualNodes × weight` points; a key goes to the first point at or
 * after its hash. Removing one of N backends moves only the keys it owned, about 1/N.
 *
 *   0 ──●a──●c──●b──●a──●b──●c── 2³²   key hash ─▶ next point clockwise
 */
import type { Backend } from '../backend.js';
import { hashString } from '../hash.js';
import type { Algorithm, AlgorithmOptions } from './types.js';

interface Ring {
  readonly points: Uint32Array;
  readonly owners: readonly Backend[];
}

export function createConsistentHash(opts: AlgorithmOptions): Algorithm {
  // Rings are rebuilt only when the usable list changes (a new array), not per request.
  const rings = new WeakMap<readonly Backend[], Ring>();
  return {
    pick(backends, ctx) {
      if (backends.length === 0) return undefined;
      let ring = rings.get(backends);
      if (ring === undefined) {
        ring = buildRing(backends, opts.virtualNodes);
        rings.set(backends, ring);
      }
      return lookup(ring, hashString(ctx.hashKey), backends.length);
    },
  };
}

export function buildRing(backends: readonly Backend[], virtualNodes: number): Ring {
  const entries: { point: number; owner: Backend }[] = [];
  for (const b of backends) {
    const count = virtualNodes * b.weight;
    // Points are named by key, not position, so a backend keeps its points when others leave.
    for (let i = 0; i < count; i++) entries.push({ point: hashString(`${b.key}#${i}`), owner: b });
  }
  entries.sort((x, y) => x.point - y.point);
  return { points: Uint32Array.from(entries, (e) => e.point), owners: entries.map((e) => e.owner) };
}

/** First point ≥ hash (wrapping), then onward past backends that are full. */
function lookup(ring: Ring, hash: number, distinct: number): Backend | undefined {
  const { points, owners } = ring;
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]! < hash) lo = mid + 1;
    else hi = mid;
  }
  const tried = new Set<Backend>();
  for (let i = 0; i < points.length && tried.size < distinct; i++) {
    const owner = owners[(lo + i) % points.length]!;
    if (owner.hasRoom()) return owner;
    tried.add(owner);
  }
  return undefined;
}
