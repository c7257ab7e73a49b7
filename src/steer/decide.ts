/**
 * One steering decision: run a steered name's chain for a client and settle what to
 * answer, including what happens when every target is down. Pure: everything that varies
 * (client, health, randomness, time) comes in as arguments.
 */
import { runChain } from './chain.js';
import type { ClientInfo, FilterContext, FilterStep, LatencyEstimate, SteeredName, Target, TraceEntry } from './types.js';

export interface DecisionEnv {
  readonly isUp: (target: Target) => boolean;
  /**
   * Whether an operator drained the target (admin API or status page): it is then out of
   * every answer, fail-open and fallback included. `enabled: false` in the file is "down",
   * not drained (fail-open may still answer it). Absent: nothing is drained.
   */
  readonly isDrained?: (target: Target) => boolean;
  readonly rand: () => number;
  /** The what-if simulation's hook for random steps (FilterContext.branch); absent when answering. */
  readonly branch?: FilterContext['branch'];
  readonly now: number;
  /** Measured estimates (admin samples, else probe RTTs), ranked against the policy file's table by `bestEstimate`. */
  readonly latency?: (client: ClientInfo, region: string) => LatencyEstimate | null;
  /** Widens a scope to keep clear of more specific live samples that do not hold the client. */
  readonly latencyScope?: (client: ClientInfo, region: string, scope: number) => number;
  /** Remaining capacity 0..1 of a target (balancer probes); 1 when absent. */
  readonly capacity?: (target: Target) => number;
}

export interface Decision {
  readonly outcome: 'answer' | 'nodata' | 'servfail';
  readonly targets: readonly Target[];
  /** ECS SCOPE PREFIX-LENGTH: how far the decision holds (0 = the same for every client). */
  readonly scope: number;
  /** Distinguishes decisions in the answer cache. */
  readonly key: string;
  /** True when every target was down and the policy answered anyway (fail-open or fallback). */
  readonly allDown: boolean;
  /** True when any of the name's targets is down: the answer then uses the name's downTtl. */
  readonly anyDown: boolean;
  readonly trace: readonly TraceEntry[] | null;
}

export function decide(name: SteeredName, family: 4 | 6, client: ClientInfo, env: DecisionEnv, withTrace = false): Decision {
  const trace: TraceEntry[] | null = withTrace ? [] : null;
  let scope = 0;
  const hasFamily = (t: Target): boolean => (family === 4 ? t.ipv4.length > 0 : t.ipv6.length > 0);
  const isDrained = env.isDrained ?? ((): boolean => false);
  const withFamily = name.targets.filter(hasFamily);
  // A drain is an operator's explicit intent, not a probe's guess: unlike a down target it
  // is never answered, not even by fail-open (issue #20). So it leaves before the chain.
  const candidates = withFamily.filter((t) => !isDrained(t));
  const anyDown = name.downTtl !== null && name.targets.some((t) => !env.isUp(t));
  if (withFamily.length === 0) {
    trace?.push({ filter: 'targets', kept: [], why: `no target has an ${family === 4 ? 'IPv4' : 'IPv6'} address: NODATA` });
    return { outcome: 'nodata', targets: [], scope: 0, key: 'nodata', allDown: false, anyDown, trace };
  }
  if (trace !== null) {
    const drained = withFamily.filter(isDrained).map((t) => t.id);
    const why = `the name's targets with ${family === 4 ? 'IPv4' : 'IPv6'} addresses`;
    trace.push({ filter: 'targets', kept: candidates.map((t) => t.id), why: drained.length === 0 ? why : `${why}; drained, never answered: ${drained.join(', ')}` });
  }
  let fence: ReadonlySet<string> | null = null;
  const ctx: FilterContext = {
    client,
    isUp: env.isUp,
    latency: (region) => {
      // Whichever wins, its scope keeps clear of the more specific table rows and samples that do not hold the client.
      const best = name.latency.narrow(client, region, bestEstimate(name.latency.lookupRow(client, region), env.latency?.(client, region) ?? null));
      if (best === null || env.latencyScope === undefined) return best;
      const scopePrefix = env.latencyScope(client, region, best.scopePrefix);
      return scopePrefix === best.scopePrefix ? best : { ...best, scopePrefix };
    },
    rand: env.rand,
    branch: env.branch,
    capacity: env.capacity ?? (() => 1),
    now: env.now,
    useScope: (prefix) => {
      if (prefix > scope) scope = prefix;
    },
    fence: (ids) => {
      fence = ids;
    },
    trace: (entry) => {
      if (trace !== null) trace.push(entry());
    },
    runChain: (chain: readonly FilterStep[], c: readonly Target[]) => runChain(chain, c, ctx),
  };
  let chosen = candidates.length > 0 ? runChain(name.chain, candidates, ctx) : candidates;
  scope = Math.min(scope, client.sourcePrefix);
  if (chosen.length > 0) {
    return { outcome: 'answer', targets: chosen, scope, key: keyOf(chosen, anyDown), allDown: false, anyDown, trace };
  }
  // Never an accidental empty answer: the policy says what to do (issue #3). A geofence that
  // left nothing keeps whenAllDown inside it: data residency outranks answering (issue #20).
  const inFence = (t: Target): boolean => fence === null || fence.has(t.id);
  const rule = name.whenAllDown;
  switch (rule.action) {
    case 'nodata':
      trace?.push({ filter: 'whenAllDown', kept: [], why: 'no target left: NODATA, as the policy says' });
      return { outcome: 'nodata', targets: [], scope, key: 'down-nodata', allDown: true, anyDown, trace };
    case 'servfail':
      trace?.push({ filter: 'whenAllDown', kept: [], why: 'no target left: SERVFAIL, as the policy says' });
      return { outcome: 'servfail', targets: [], scope, key: 'down-servfail', allDown: true, anyDown, trace };
    case 'fallback':
      chosen = name.fallback.filter((t) => hasFamily(t) && !isDrained(t) && inFence(t));
      trace?.push({ filter: 'whenAllDown', kept: chosen.map((t) => t.id), why: `no target left: the fallback pool${chosen.length === 0 ? ' has no undrained target: NODATA' : ''}` });
      break;
    default:
      chosen = candidates.filter(inFence);
      trace?.push({
        filter: 'whenAllDown',
        kept: chosen.map((t) => t.id),
        why:
          (chosen.length > 0 ? 'no target left: fail open, answering every undrained target' : 'no target left and no undrained target to fail open to: NODATA') +
          (fence !== null ? ' inside the geofence' : ''),
      });
  }
  if (chosen.length === 0) return { outcome: 'nodata', targets: [], scope, key: 'down-nodata', allDown: true, anyDown, trace };
  return { outcome: 'answer', targets: chosen, scope, key: keyOf(chosen, anyDown), allDown: true, anyDown, trace };
}

function keyOf(targets: readonly Target[], anyDown: boolean): string {
  let key = anyDown ? '!' : '';
  for (const t of targets) key += key.length === 0 || key === '!' ? t.id : ',' + t.id;
  return key;
}

/**
 * Measured beats guessed (issue #20): the estimate for the most specific client network wins
 * (a /24 sample over a continent row, a /24 table row over a /16 sample), then the freshest
 * (a sample over a static row for the same network). Stale samples never get here: they
 * age out of LatencySamples at their TTL.
 */
export function bestEstimate(a: LatencyEstimate | null, b: LatencyEstimate | null): LatencyEstimate | null {
  if (a === null || b === null) return a ?? b;
  const sa = a.specificity ?? 0;
  const sb = b.specificity ?? 0;
  if (sa !== sb) return sa > sb ? a : b;
  return (b.measuredAt ?? -Infinity) > (a.measuredAt ?? -Infinity) ? b : a;
}
