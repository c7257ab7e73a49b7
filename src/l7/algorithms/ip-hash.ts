/**
 * IP hash (as nginx ip_hash): the client address picks a backend by hash modulo the pool, so
 * a client keeps its backend while the pool is unchanged. A full backend passes the client on
 * to the next one. Use consistent-hash when the pool changes often.
 */
import { hashString } from '../hash.js';
import type { Algorithm } from './types.js';

export function createIpHash(): Algorithm {
  return {
    pick(backends, ctx) {
      const n = backends.length;
      if (n === 0) return undefined;
      const start = hashString(ctx.hashKey) % n;
      for (let i = 0; i < n; i++) {
        const b = backends[(start + i) % n]!;
        if (b.hasRoom()) return b;
      }
      return undefined;
    },
  };
}
