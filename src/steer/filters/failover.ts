/**
 * failover: the first group, in priority order, that has a live target wins (NS1's
 * `select_first_group` after `up`, gdnsd's failover plugin). A group's own chain runs on its
 * live members; if that chain leaves nothing, the next group is tried. No group with a live
 * target → [] and the policy's whenAllDown decides.
 *
 * Members keep the order the candidates came in, so an earlier sort (proximity, latency)
 * still counts inside the group. Health is checked here, so a `health` step before failover
 * is not needed. No ECS scope of its own (nested chains set theirs).
 *
 * It traces once for the group it settles on; only a group whose chain came back empty adds
 * an entry of its own, so explain shows why the next group was tried.
 */
import type { FailoverConfig, Filter } from '../types.js';
import { inGroupOrder } from './geo.js';

export const failoverFilter: Filter<FailoverConfig> = (candidates, config, ctx) => {
  const skipped: string[] = [];
  for (let g = 0; g < config.groups.length; g++) {
    const group = config.groups[g]!;
    const members = inGroupOrder(candidates, group.targets);
    const live = members.filter((t) => ctx.isUp(t));
    if (live.length === 0) {
      skipped.push(members.length === 0 ? `groups[${g}] has no candidate` : `groups[${g}] all down`);
      continue;
    }
    const before = skipped.length > 0 ? `${skipped.join(', ')}; ` : '';
    const chained = group.chain !== undefined ? ', then its chain' : '';
    ctx.trace(() => ({ filter: 'failover', kept: live.map((t) => t.id), why: `${before}groups[${g}] has ${live.length} live${chained}` }));
    if (group.chain === undefined) return live;
    const result = ctx.runChain(group.chain, live);
    if (result.length > 0) return result;
    skipped.length = 0;
    skipped.push(`groups[${g}]'s chain left nothing`);
  }
  ctx.trace(() => ({ filter: 'failover', kept: [], why: `no group has a live target${skipped.length > 0 ? ` (${skipped.join(', ')})` : ''}` }));
  return [];
};
