/**
 * latency: keeps the targets whose estimated RTT from the client's network is within a
 * tolerance of the best, best first (Route 53 latency routing picks the single lowest; the
 * tolerance lets near-equal regions share load, as NS1's shed/latency filters do).
 * The tolerance is the larger of `toleranceMs` and `tolerancePercent` of the best.
 *
 * A target whose region has no estimate is dropped, since it cannot be shown to be close,
 * unless no target has one: then nothing is known and every candidate stays.
 * Scope: the longest scopePrefix among the estimates consulted (each holds for its own row's
 * network; the comparison holds where all of them do).
 */
import { clientNetworkPrefix } from '../cidr.js';
import type { Filter, LatencyConfig, LatencyEstimate, Target } from '../types.js';

export const latencyFilter: Filter<LatencyConfig> = (candidates, config, ctx) => {
  if (candidates.length <= 1) {
    ctx.trace(() => ({ filter: 'latency', kept: candidates.map((t) => t.id), why: 'one candidate: nothing to compare' }));
    return candidates;
  }
  // Several targets often share a region: one lookup per region.
  const byRegion = new Map<string, LatencyEstimate | null>();
  const known: { t: Target; est: LatencyEstimate }[] = [];
  for (const t of candidates) {
    let est = byRegion.get(t.region);
    if (est === undefined) byRegion.set(t.region, (est = ctx.latency(t.region)));
    if (est !== null) known.push({ t, est });
  }
  if (known.length === 0) {
    // Other clients may have estimates: "all kept" holds only for this client's network.
    const prefix = clientNetworkPrefix(ctx.client.family, ctx.client.sourcePrefix);
    ctx.useScope(prefix);
    ctx.trace(() => ({ filter: 'latency', kept: candidates.map((t) => t.id), why: `no latency estimate for any candidate: all kept (scope /${prefix})` }));
    return candidates;
  }
  let best = known[0]!.est;
  let scope = 0;
  for (const { est } of known) {
    if (est.ms < best.ms) best = est;
    if (est.scopePrefix > scope) scope = est.scopePrefix;
  }
  const slack = Math.max(config.toleranceMs ?? 0, (best.ms * (config.tolerancePercent ?? 0)) / 100);
  const limit = best.ms + slack;
  const kept = known.filter(({ est }) => est.ms <= limit).sort((a, b) => a.est.ms - b.est.ms || (a.t.id < b.t.id ? -1 : a.t.id > b.t.id ? 1 : 0));
  if (scope > 0) ctx.useScope(scope);
  const unknown = candidates.length - known.length;
  ctx.trace(() => ({
    filter: 'latency',
    kept: kept.map(({ t }) => t.id),
    why:
      `best ${best.ms} ms (${best.matched}), keeping <= ${limit} ms: ` +
      kept.map(({ t, est }) => `${t.id} ${Math.round(est.ms * 10) / 10} ms (${est.matched})`).join(', ') +
      (unknown > 0 ? `; ${unknown} without an estimate dropped` : '') +
      (scope > 0 ? ` (scope /${scope})` : ''),
  }));
  return kept.map(({ t }) => t);
};
