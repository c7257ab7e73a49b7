/**
 * Weighted least connections: the backend with the fewest requests in flight per unit of
 * weight. The scan starts one place further each time so ties rotate instead of piling on
 * the first backend.
 */
import type { Backend } from '../backend.js';
import type { Algorithm } from './types.js';

export function createLeastConnections(): Algorithm {
  let start = 0;
  return {
    pick(backends) {
      const n = backends.length;
      let best: Backend | undefined;
      let bestLoad = Infinity;
      for (let i = 0; i < n; i++) {
        const b = backends[(start + i) % n]!;
        if (!b.hasRoom()) continue;
        const load = b.inFlight / b.weight;
        if (load < bestLoad) {
          best = b;
          bestLoad = load;
        }
      }
      start = n === 0 ? 0 : (start + 1) % n;
      return best;
    },
  };
}
