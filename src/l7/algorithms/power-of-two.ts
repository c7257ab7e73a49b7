/**
 * Power of two choices (as Envoy's least-request): two backends at random, the one with fewer
 * requests in flight per unit of weight wins. Near least-connections quality at O(1), and no
 * herd on one "best" backend.
 */
import type { Backend } from '../backend.js';
import type { Algorithm, AlgorithmOptions } from './types.js';

export function createPowerOfTwo(opts: AlgorithmOptions): Algorithm {
  return {
    pick(backends) {
      const n = backends.length;
      if (n === 0) return undefined;
      const i = Math.floor(opts.random() * n);
      const j = n === 1 ? i : (i + 1 + Math.floor(opts.random() * (n - 1))) % n;
      const a = backends[i]!;
      const b = backends[j]!;
      const winner = !a.hasRoom() ? b : !b.hasRoom() ? a : a.inFlight / a.weight <= b.inFlight / b.weight ? a : b;
      if (winner.hasRoom()) return winner;
      return fallback(backends);
    },
  };
}

/** Both choices were full: any backend with room. */
function fallback(backends: readonly Backend[]): Backend | undefined {
  for (let i = 0; i < backends.length; i++) if (backends[i]!.hasRoom()) return backends[i];
  return undefined;
}
