/**
 * Everything built from one config: pools, routes, rate limiters and health checks. A reload
 * builds a new Runtime (keeping the backends that stay, with their health and connections)
 * and swaps it whole; requests already running finish on the one they started with.
 */
import type { Logger } from 'pino';
import type { BalancerConfig } from './config.js';
import { closeUpstreams } from './h2-upstream.js';
import { HealthChecks } from './health-checks.js';
import { Pool, type PoolDeps } from './pool.js';
import { KeyedTokenBuckets, TokenBucket } from './rate-limit.js';
import { compileRoutes, type Route } from './routing.js';

export interface Runtime {
  readonly config: BalancerConfig;
  readonly pools: ReadonlyMap<string, Pool>;
  readonly routes: readonly Route[];
  readonly perClient: KeyedTokenBuckets | null;
  readonly global: TokenBucket | null;
  readonly checks: readonly HealthChecks[];
}

export function buildRuntime(config: BalancerConfig, deps: PoolDeps, log: Logger, onHealthChange: () => void, previous?: Runtime): Runtime {
  const now = deps.now();
  const pools = new Map<string, Pool>();
  for (const [name, pc] of Object.entries(config.pools)) {
    pools.set(name, new Pool(name, pc, config.timeouts, deps, previous?.pools.get(name)));
  }
  const checks = [...pools.values()].map((pool) => new HealthChecks(pool, pool.config.healthCheck, log, onHealthChange));
  // Limits keep their buckets when unchanged, so a reload is not a free burst for every client.
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  const rl = config.rateLimit;
  const keepClient = previous !== undefined && same(previous.config.rateLimit.perClient, rl.perClient);
  const keepGlobal = previous !== undefined && same(previous.config.rateLimit.global, rl.global);
  return {
    config,
    pools,
    routes: compileRoutes(config),
    perClient: keepClient ? previous.perClient : rl.perClient === null ? null : new KeyedTokenBuckets(rl.perClient, now),
    global: keepGlobal ? previous.global : rl.global === null ? null : new TokenBucket(rl.global, now),
    checks,
  };
}

/**
 * Checks at once the backends never checked (every one at start-up, the added ones on a
 * reload), waiting at most `waitMs` for them, so the runtime starts serving with settled health.
 * Call `startChecks` once it is the live one.
 */
export async function firstChecks(rt: Runtime, waitMs: number): Promise<void> {
  const first = Promise.all(rt.checks.map((c) => c.firstRound()));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([first, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
  clearTimeout(timer);
}

/** Keeps checking every backend of the live runtime on its timer. */
export function startChecks(rt: Runtime): void {
  for (const c of rt.checks) c.start();
}

/** After a swap: stops the old checks and timers, and closes connections to backends no longer used once idle. */
export function retireRuntime(old: Runtime, next: Runtime | null): void {
  for (const c of old.checks) c.stop();
  for (const [name, pool] of old.pools) {
    pool.stopTimers();
    // Backend keys are "<pool>/<id>", so a backend can only be kept by the pool of the same name.
    for (const b of Pool.dropped(pool, next?.pools.get(name))) {
      void b.dispatcher.close().catch(() => undefined);
      closeUpstreams([b], false);
    }
  }
}
