/**
 * `meridian balance --workers N`: N worker processes share the proxy port (node:cluster); each
 * runs a whole Balancer (its own pools, health checks and counters, as haproxy's nbproc did).
 * The primary owns the admin listener and drives the workers over IPC: it asks each for its
 * health and status and merges them, and broadcasts drain, undrain, reload and runtime
 * registrations (kept, and replayed to a worker that replaces a dead one). The primary
 * also holds the rate-limit buckets for all workers (rate-limit.ts), so a limit is the
 * balancer's, not N times it.
 */
import type { Worker } from 'node:cluster';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { AggregatorRegistry, Registry } from 'prom-client';
import { createBalancerAdmin, type BackendSpec, type BalancerAdmin, type BalancerControl } from './admin.js';
import { Balancer, withBackend, type BackendChange, type ReloadOutcome } from './balancer.js';
import type { BalancerConfig } from './config.js';
import { RemoteBuckets, SharedBuckets, type LimitsConfig, type TakeAnswer, type TakeBatch } from './rate-limit.js';
import type { HealthReport, StatusReport } from './status.js';
import { Supervisor } from '../supervisor/supervisor.js';

type Op =
  | { op: 'health' }
  | { op: 'status' }
  | { op: 'drain'; target: string | null; draining: boolean }
  | { op: 'reload' }
  | { op: 'register'; pool: string; id: string; spec: BackendSpec | null }
  | { op: 'shutdown' };
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
type RegisterOp = Extract<Op, { op: 'register' }>;
/** The primary's answer to a starting worker: the registrations made since the last reload, in order. */
interface Boot {
  readonly kind: 'meridian-l7-boot';
  readonly registrations: RegisterOp[];
}
interface Ready {
  readonly kind: 'meridian-l7-ready';
  readonly port: number;
}

/** How long every worker has to apply a runtime registration (its first health check included) before it is replaced. */
const REGISTER_TIMEOUT_MS = 10_000;

const isMessage = (m: unknown, kind: string): boolean => typeof m === 'object' && m !== null && (m as { kind?: unknown }).kind === kind;

function bootRegistrations(): Promise<RegisterOp[]> {
  return new Promise((resolve) => {
    const onBoot = (m: unknown): void => {
      if (!isMessage(m, 'meridian-l7-boot')) return;
      process.off('message', onBoot);
      resolve((m as Boot).registrations);
    };
    process.on('message', onBoot);
    process.send?.({ kind: 'meridian-l7-boot' });
  });
}

/** In a worker: start the balancer without an admin listener and answer the primary. */
export async function runBalancerWorker(fileConfig: BalancerConfig, configFile: string, log: Logger): Promise<void> {
  let config = fileConfig;
  const remoteBuckets = new RemoteBuckets((batch) => void process.send?.(batch));
  const sendLimits = (): void => void process.send?.({ kind: 'meridian-l7-limits', rateLimit: balancer.runtime.config.rateLimit } satisfies LimitsConfig);
  // A worker replacing a dead one starts with the registrations made so far, so it never serves without them.
  for (const call of await bootRegistrations()) {
    const change = withBackend(config, call.pool, call.id, call.spec);
    if (change.ok) config = change.config;
    else log.error({ pool: call.pool, id: call.id, errors: change.errors }, "a registration does not apply to this worker's config");
  }
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
      case 'register':
        return void balancer.setBackend(call.pool, call.id, call.spec).then(answer);
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

export interface BalancerClusterOptions {
  /** The config file, which each worker reads when it starts. */
  readonly configFile: string;
  /** The workers' log level. */
  readonly logLevel: string;
}

/** The entry of a balancer worker process (worker-main.ts), run by the Supervisor. */
const WORKER_MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker-main.js');
/** A worker asked to shut down lets its requests in flight finish (5 s at most) first. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * How long a worker may take to serve: it resolves its discovery names (each up to the pool's
 * timeoutMs) and waits for its first round of health checks before it is ready.
 */
export function workerStartTimeoutMs(config: BalancerConfig): number {
  const discovery = Object.values(config.pools).reduce((n, p) => n + (p.discovery?.timeoutMs ?? 0), 0);
  return 30_000 + discovery;
}

/** In the primary: fork the workers (the Supervisor replaces any that dies), then serve the admin listener. */
export async function startBalancerCluster(config: BalancerConfig, workers: number, log: Logger, options: BalancerClusterOptions): Promise<BalancerCluster> {
  let nextId = 1;
  const pending = new Map<number, (result: unknown) => void>();
  const buckets = new SharedBuckets();
  buckets.configure(config.rateLimit, Date.now());
  // Runtime registrations since the last reload, in order, for workers that start later.
  // Every one, not the last per backend: a replay must go through the same states (a pool's last backend removed only once another was added).
  const registrations: RegisterOp[] = [];
  /** Reloads applied so far; and, for each starting worker, how many there had been and how many registrations it was given at boot. */
  let reloads = 0;
  const booted = new WeakMap<Worker, { readonly reloads: number; readonly registrations: number }>();
  const onMessage = function (this: Worker, m: unknown): void {
    if (isMessage(m, 'meridian-l7-boot')) {
      booted.set(this, { reloads, registrations: registrations.length });
      return void this.send({ kind: 'meridian-l7-boot', registrations } satisfies Boot);
    }
    if (isMessage(m, 'meridian-l7-tokens')) return void this.send(buckets.answer(m as TakeBatch, Date.now()));
    if (isMessage(m, 'meridian-l7-limits')) return buckets.configure((m as LimitsConfig).rateLimit, Date.now());
    if (!isMessage(m, 'meridian-l7')) return;
    const { id, result } = m as Response;
    pending.get(id)?.(result);
    pending.delete(id);
  };
  const boot = (worker: Worker): Promise<number> =>
    new Promise((resolve) => {
      worker.on('message', onMessage);
      const onReady = (m: unknown): void => {
        if (!isMessage(m, 'meridian-l7-ready')) return;
        worker.off('message', onReady);
        resolve((m as Ready).port);
      };
      worker.on('message', onReady);
    });
  /** Workers that serve: ready, and a replacement only once it has taken the registrations and drains. */
  const live = new Set<Worker>();
  // Drains the operator asked for, replayed to a worker that replaces a dead one: else it would
  // serve during a drain and keep /healthz from ever saying drained.
  const drains = new Map<string | null, boolean>();
  let registering: Promise<unknown> = Promise.resolve();
  const inRegistrationTurn = <T>(work: () => Promise<T>): Promise<T> => {
    const run = registering.then(work);
    registering = run.catch(() => undefined);
    return run;
  };
  const replay = async (w: Worker): Promise<void> => {
    // A reload it was not live for: it read the file before, so it reloads (dropping what it was given at boot) and takes every registration since.
    const boot = booted.get(w);
    const missedReload = boot?.reloads !== reloads;
    if (missedReload) {
      const outcome = await ask<ReloadOutcome>(w, { op: 'reload' });
      if (!outcome.ok) throw new Error(`reload refused: ${outcome.errors.join('; ')}`);
    }
    // Registrations made after its boot (before the drains, which may name a registered backend).
    for (const call of registrations.slice(missedReload ? 0 : boot.registrations)) {
      const outcome = await ask<BackendChange>(w, call, REGISTER_TIMEOUT_MS);
      if (!outcome.ok) throw new Error(`registration ${call.pool}/${call.id} refused: ${outcome.errors.join('; ')}`);
    }
    for (const [target, draining] of drains) if (draining) await ask(w, { op: 'drain', target, draining });
  };
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
  const supervisor = new Supervisor<number>({
    role: 'balancer worker',
    count: workers,
    exec: WORKER_MAIN,
    args: [options.configFile, options.logLevel],
    log,
    startTimeoutMs: workerStartTimeoutMs(config),
    stopTimeoutMs: STOP_TIMEOUT_MS,
    boot,
    requestStop: (w) => void ask(w, { op: 'shutdown' }, STOP_TIMEOUT_MS).catch(() => w.kill()),
    // In the registrations' turn, so none is made between its replay and it joining the live set.
    onReplacement: (w, slot) =>
      inRegistrationTurn(async () => {
        try {
          await replay(w);
        } catch (err) {
          throw new Error(`it did not take the registrations and drains: ${(err as Error).message}`, { cause: err });
        }
        live.add(w);
        log.info({ worker: slot, pid: w.process.pid }, 'balancer worker replaced');
      }),
    onExit: (w) => live.delete(w),
  });
  const ports = await supervisor.start();
  for (const w of supervisor.workers) live.add(w);

  const askAll = <T>(call: Op): Promise<T[]> => Promise.all([...live].map((w) => ask<T>(w, call)));

  /**
   * One registration on every live worker, one after another. Each worker checks it against
   * the same config, so they agree; one that does not answer within REGISTER_TIMEOUT_MS is
   * replaced (its successor gets every registration replayed before it serves), so an
   * acknowledged change holds on every worker that serves.
   */
  const register = async (call: RegisterOp): Promise<BackendChange> => {
    const workersNow = [...live];
    const outcomes = await Promise.all(
      workersNow.map((w) =>
        ask<BackendChange>(w, call, REGISTER_TIMEOUT_MS).catch((err: unknown) => {
          log.error({ err, pid: w.process.pid, pool: call.pool, id: call.id }, 'a balancer worker did not apply a registration in time; replacing it');
          w.kill();
          return null;
        }),
      ),
    );
    const answered = outcomes.filter((o) => o !== null);
    const refused = answered.find((o) => !o.ok);
    if (refused !== undefined) return refused;
    if (answered.length === 0) return { ok: false, status: 409, errors: ['no balancer worker applied the change in time; retry'] };
    registrations.push(call);
    return answered[0]!;
  };
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
    // In the registrations' turn: the file replaces what was registered before it, as in one process.
    reload: () =>
      inRegistrationTurn(async () => {
        const outcomes = await askAll<ReloadOutcome>({ op: 'reload' });
        const failed = outcomes.find((o) => !o.ok);
        if (failed === undefined) {
          reloads++;
          registrations.length = 0;
        }
        return failed ?? { ok: true };
      }),
    setBackend: (pool, id, spec) => inRegistrationTurn(() => register({ op: 'register', pool, id, spec })),
  };
  let admin: BalancerAdmin | null = null;
  if (config.admin.listen !== null) admin = await createBalancerAdmin(control, config.admin, log);
  log.info({ workers, port: ports[0]!, admin: admin?.address ?? null }, 'balancer workers listening');
  return {
    port: ports[0]!,
    adminPort: admin?.address.port ?? null,
    control,
    async close() {
      await supervisor.stop();
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
