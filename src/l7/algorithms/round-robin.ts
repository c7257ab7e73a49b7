/** Round robin: each backend in turn, skipping those at their request limit. */
import type { Algorithm } from './types.js';

export function createRoundRobin(): Algorithm {
  let next = 0;
  return {
    pick(backends) {
      const n = backends.length;
      for (let i = 0; i < n; i++) {
        const b = backends[(next + i) % n]!;
        if (b.hasRoom()) {
          next = (next + i + 1) % n;
          return b;
        }
      }
      return undefined;
    },
  };
}
