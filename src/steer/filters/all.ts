/**
 * all: keeps every candidate, to say in the policy that a multi-address answer is meant
 * (Route 53's multivalue answer without the cap). No ECS scope.
 */
import type { Filter } from '../types.js';

export const allFilter: Filter<Record<string, never>> = (candidates, _config, ctx) => {
  ctx.trace(() => ({ filter: 'all', kept: candidates.map((t) => t.id), why: `all ${candidates.length} candidates` }));
  return candidates;
};
