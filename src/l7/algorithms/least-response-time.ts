/**
 * Least response time: the lowest smoothed latency × (in flight + 1), per unit of weight, so
 * a fast backend gets more but not all of the load once its queue grows. A backend with no
 * measurement yet scores 0 and gets tried first.
 */
import type { Backend } from '../backend.js';
import type { Algorithm } from './types.js';

export function createLeastResponseTime(): Algorithm {
  let start = 0;
  return {
    pick(backends) {
      const n = backends.length;
      let best: Backend | undefined;
      let bestScore = Infinity;
      for (let i = 0; i < n; i++) {
        const b = backends[(start + i) % n]!;
        if (!b.hasRoom()) continue;
        const score = (b.latencyMs * (b.inFlight + 1)) / b.weight;
        if (score < bestScore) {
          best = b;
          bestScore = score;
        }
      }
      start = n === 0 ? 0 : (start + 1) % n;
      return best;
    },
  };
}
