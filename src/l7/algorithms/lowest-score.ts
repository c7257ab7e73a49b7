/**
 * The scan the "least" algorithms share: the backend with room and the lowest score, starting
 * one place further on each call so that ties rotate instead of piling on the first backend.
 */
import type { Backend } from '../backend.js';
import type { Algorithm } from './types.js';

export function lowestScore(score: (b: Backend) => number): Algorithm {
  let start = 0;
  return {
    pick(backends) {
      const n = backends.length;
      let best: Backend | undefined;
      let bestScore = Infinity;
      for (let i = 0; i < n; i++) {
        const b = backends[(start + i) % n]!;
        if (!b.hasRoom()) continue;
        const s = score(b);
        if (s < bestScore) {
          best = b;
          bestScore = s;
        }
      }
      start = n === 0 ? 0 : (start + 1) % n;
      return best;
    },
  };
}
