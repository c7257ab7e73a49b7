/**
 * `meridian balance --workers N`: N worker processes share the proxy port (node:cluster); each
 * runs a whole Balancer (its own pools, health checks and counters, as haproxy's nbproc did).
 * The primary owns the admin listener and drives the workers over IPC: it asks each for its
 * health and status and merges them, and broadcasts drain, undrain and reload. The primary
 * also holds the rate-limit buckets for all workers (rate-limit.ts), so a limit is the
 * balancer's, not N times it.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, Registry } from 'prom-client';
import { createBalancerAdmin, type BalancerAdmin, type BalancerControl } from './admin.js';
import { Balancer, type ReloadOutcome } from './balancer.js';
import type { BalancerConfig } from './config.js';
import { RemoteBuckets, SharedBuckets, type LimitsConfig, type TakeAnswer, type TakeBatch } from './rate-limit.js';
import type { HealthReport, StatusReport } from './status.js';

type Op = { op: 'health' } | { op: 'status' } | { op: 'drain'; target: string | null; draining: boolean } | { op: 'reload' } | { op: 'shutdown' };
interface Request {
  readonly kind: 'meridian-l7';
  readonly id: number;
  readonly call: Op;
}
interface Response {
  readonly kind: 'meridian-l7';
  readonly id: number;
  readonly result: unknown;
}
interface Ready {
  readonly kind: 'meridian-l7-ready';
  readonly port: number;
}

const isMessage = (m: unknown, kind: string): boolean => typeof m === 'object' && m !== null && (m as { kind?: unknown }).kind === kind;

/** In a worker: start the balancer without an admin listener and answer the primary. */
export async function runBalancerWorker(config: BalancerConfig, configFile: string, log: Logger): Promise<void> {
  const remoteBuckets = new RemoteBuckets((batch) => void process.send?.(batch));
  const sendLimits = (): void => void process.send?.({ kind: 'meridian-l7-limits', rateLimit: balancer.runtime.config.rateLimit } satisfies LimitsConfig);
  const balancer = await Balancer.start({ ...config, admin: { ...config.admin, listen: null } }, { log, configFile, remoteBuckets });
  sendLimits();
  AggregatorRegistry.setRegistries([balancer.metrics.registry]);
  new AggregatorRegistry(); // constructing one is what makes prom-client answer the primary's metric requests in a worker
  process.on('message', (m: unknown) => {
    if (isMessage(m, 'meridian-l7-tokens')) return remoteBuckets.settle(m as TakeAnswer);
    if (!isMessage(m, 'meridian-l7')) return;
    const { id, call } = m as Request;
    const answer = (result: unknown): void => void process.send?.({ kind: 'meridian-l7', id, result } satisfies Response);
    switch (call.op) {
      case 'health':
        return answer(balancer.health());
      case 'status':
        return answer(balancer.status());
      case 'drain':
        return answer(balancer.setDraining(call.target, call.draining));
      case 'reload':
        return void balancer.reload().then((outcome) => {
          if (outcome.ok) sendLimits();
          answer(outcome);
        });
      case 'shutdown':
        void balancer.close().then(() => {
          answer(true);
          process.disconnect();
        });
    }
  });
  process.send?.({ kind: 'meridian-l7-ready', port: balancer.address.port } satisfies Ready);
}

export interface BalancerCluster {
  readonly port: number;
  readonly adminPort: number | null;
  readonly control: BalancerControl;
  close(): Promise<void>;
}

/** In the primary: fork the workers (re-forking any that dies), then serve the admin listener. */
export async function startBalancerCluster(config: BalancerConfig, workers: number, log: Logger): Promise<BalancerCluster> {
  let nextId = 1;
  let stopping = false;
  const pending = new Map<number, (result: unknown) => void>();
  const buckets = new SharedBuckets();
  buckets.configure(config.rateLimit, Date.now());
  const onMessage = function (this: Worker, m: unknown): void {
    if (isMessage(m, 'meridian-l7-tokens')) return void this.send(buckets.answer(m as TakeBatch, Date.now()));
    if (isMessage(m, 'meridian-l7-limits')) return buckets.configure((m as LimitsConfig).rateLimit, Date.now());
    if (!isMessage(m, 'meridian-l7')) return;
    const { id, result } = m as Response;
    pending.get(id)?.(result);
    pending.delete(id);
  };
  const fork = (): Promise<{ worker: Worker; port: number }> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork();
      worker.on('message', onMessage);
      const onReady = (m: unknown): void => {
        if (!isMessage(m, 'meridian-l7-ready')) return;
        worker.off('message', onReady);
        worker.off('exit', onEarlyExit);
        resolve({ worker, port: (m as Ready).port });
      };
      const onEarlyExit = (code: number): void => reject(new Error(`a balancer worker exited with code ${code} while starting`));
      worker.on('message', onReady);
      worker.once('exit', onEarlyExit);
    });
  const started = await Promise.all(Array.from({ length: workers }, fork));
  const live = new Set(started.map((s) => s.worker));
  // Drains the operator asked for, replayed to a worker that replaces a dead one: else it would
  // serve during a drain and keep /healthz from ever saying drained.
  const drains = new Map<string | null, boolean>();
  const replayDrains = async (w: Worker): Promise<void> => {
    for (const [target, draining] of drains) if (draining) await ask(w, { op: 'drain', target, draining });
  };
  const watch = (worker: Worker): void => {
    worker.once('exit', (code, signal) => {
      live.delete(worker);
      if (stopping) return;
      log.error({ pid: worker.process.pid, code, signal }, 'balancer worker died; starting another');
      fork()
        .then(async ({ worker: w }) => {
          watch(w);
          try {
            await replayDrains(w);
          } catch (err) {
            log.error({ err, pid: w.process.pid }, 'a new balancer worker did not take the drains; replacing it');
            w.kill();
            return;
          }
          live.add(w);
          log.info({ pid: w.process.pid }, 'balancer worker replaced');
        })
        .catch((err: Error) => log.error({ err }, 'could not replace a balancer worker'));
    });
  };
  for (const w of live) watch(w);

  const ask = <T>(worker: Worker, call: Op, timeoutMs = 5000): Promise<T> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`worker ${worker.process.pid} did not answer ${call.op}`));
      }, timeoutMs);
      pending.set(id, (result) => {
        clearTimeout(timer);
        resolve(result as T);
      });
      worker.send({ kind: 'meridian-l7', id, call } satisfies Request);
    });
  const askAll = <T>(call: Op): Promise<T[]> => Promise.all([...live].map((w) => ask<T>(w, call)));

  const aggregator = new AggregatorRegistry();
  const control: BalancerControl = {
    health: async () => mergeHealth(await askAll<HealthReport>({ op: 'health' })),
    status: async () => mergeStatus(await askAll<StatusReport>({ op: 'status' })),
    metrics: async () => ({ contentType: Registry.PROMETHEUS_CONTENT_TYPE, body: await aggregator.clusterMetrics() }),
    setDraining: async (target, draining) => {
      const found = (await askAll<boolean>({ op: 'drain', target, draining })).every(Boolean);
      if (found) drains.set(target, draining);
      return found;
    },
    reload: async () => {
      const outcomes = await askAll<ReloadOutcome>({ op: 'reload' });
      return outcomes.find((o) => !o.ok) ?? { ok: true };
    },
  };
  let admin: BalancerAdmin | null = null;
  if (config.admin.listen !== null) admin = await createBalancerAdmin(control, config.admin, log);
  log.info({ workers, port: started[0]!.port, admin: admin?.address ?? null }, 'balancer workers listening');
  return {
    port: started[0]!.port,
    adminPort: admin?.address.port ?? null,
    control,
    async close() {
      stopping = true;
      await Promise.all(
        [...live].map(async (w) => {
          const exited = new Promise((r) => w.once('exit', r));
          await ask(w, { op: 'shutdown' }, 10_000).catch(() => w.kill());
          await exited;
        }),
      );
      await admin?.close();
    },
  };
}

/** Each worker checks the same backends; the most pessimistic view speaks for the balancer. No worker alive (all being replaced): down. */
export function mergeHealth(reports: readonly HealthReport[]): HealthReport {
  if (reports.length === 0) return { up: false, healthy: 0, total: 0, capacity: 0, draining: false, drained: false };
  const worst = reports.reduce((a, b) => (b.healthy < a.healthy || (!b.up && a.up) ? b : a));
  return { ...worst, up: reports.every((r) => r.up), drained: reports.every((r) => r.drained) };
}

/** Counts are summed over workers; states come from the first worker, drained only when every worker is. */
export function mergeStatus(reports: readonly StatusReport[]): StatusReport {
  if (reports.length === 0) return { ...mergeHealth(reports), pools: [] };
  const [first, ...rest] = reports as [StatusReport, ...StatusReport[]];
  const health = mergeHealth(reports);
  return {
    ...first,
    ...health,
    pools: first.pools.map((pool, pi) => ({
      ...pool,
      inFlight: pool.inFlight + rest.reduce((n, r) => n + (r.pools[pi]?.inFlight ?? 0), 0),
      queued: pool.queued + rest.reduce((n, r) => n + (r.pools[pi]?.queued ?? 0), 0),
      backends: pool.backends.map((b, bi) => {
        const others = rest.map((r) => r.pools[pi]?.backends[bi]).filter((x) => x !== undefined);
        const sum = (f: (x: typeof b) => number): number => f(b) + others.reduce((n, o) => n + f(o), 0);
        return {
          ...b,
          inFlight: sum((x) => x.inFlight),
          requests: sum((x) => x.requests),
          errors: sum((x) => x.errors),
          drained: b.drained && others.every((o) => o.drained),
          responses: { '2xx': sum((x) => x.responses['2xx']), '3xx': sum((x) => x.responses['3xx']), '4xx': sum((x) => x.responses['4xx']), '5xx': sum((x) => x.responses['5xx']) },
        };
      }),
    })),
  };
}
