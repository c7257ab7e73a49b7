/**
 * Smooth weighted round robin, as nginx: every pick adds each backend's weight to its current
 * weight, takes the highest, and subtracts the total from the winner. Weights 5,1,1 give
 * a a b a c a a — spread out, never bursts of one backend.
 */
import type { Backend } from '../backend.js';
import type { Algorithm } from './types.js';

export function createWeightedRoundRobin(): Algorithm {
  return {
    pick(backends) {
      let total = 0;
      let best: Backend | undefined;
      for (let i = 0; i < backends.length; i++) {
        const b = backends[i]!;
        if (!b.hasRoom()) continue;
        b.currentWeight += b.weight;
        total += b.weight;
        if (best === undefined || b.currentWeight > best.currentWeight) best = b;
      }
      if (best !== undefined) best.currentWeight -= total;
      return best;
    },
  };
}
