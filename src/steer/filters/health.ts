/**
 * health: keeps the targets that are up (NS1's `up` filter). It may return nothing: what to
 * answer when every target is down is the policy's `whenAllDown`, not this filter's call.
 * The answer does not depend on the client's address, so no ECS scope.
 */
import type { Filter, Target } from '../types.js';

export const healthFilter: Filter<Record<string, never>> = (candidates, _config, ctx) => {
  const kept: Target[] = [];
  const down: string[] = [];
  for (const t of candidates) {
    if (ctx.isUp(t)) kept.push(t);
    else down.push(t.id);
  }
  ctx.trace(() => ({
    filter: 'health',
    kept: kept.map((t) => t.id),
    why: down.length === 0 ? `all ${candidates.length} up` : `down: ${down.join(', ')}`,
  }));
  return kept;
};
