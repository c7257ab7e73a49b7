/**
 * first n: keeps the first n candidates in the order the previous filters left them (NS1's
 * `select_first_n`), e.g. after proximity or latency sorted them best first. No ECS scope:
 * any client dependence is in the order, which the earlier filters already scoped.
 */
import type { Filter } from '../types.js';

export const firstFilter: Filter<number> = (candidates, n, ctx) => {
  const count = Math.max(0, Math.floor(n));
  const kept = candidates.slice(0, count);
  ctx.trace(() => ({ filter: 'first', kept: kept.map((t) => t.id), why: `the first ${count} of ${candidates.length}` }));
  return kept;
};
