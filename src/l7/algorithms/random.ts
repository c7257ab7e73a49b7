/** Random, in proportion to weight, among the backends with room. */
import type { Backend } from '../backend.js';
import type { Algorithm, AlgorithmOptions } from './types.js';

export function createRandom(opts: AlgorithmOptions): Algorithm {
  return {
    pick(backends) {
      let total = 0;
      for (let i = 0; i < backends.length; i++) if (backends[i]!.hasRoom()) total += backends[i]!.weight;
      if (total === 0) return undefined;
      let point = opts.random() * total;
      let last: Backend | undefined;
      for (let i = 0; i < backends.length; i++) {
        const b = backends[i]!;
        if (!b.hasRoom()) continue;
        last = b;
        point -= b.weight;
        if (point < 0) return b;
      }
      return last;
    },
  };
}
