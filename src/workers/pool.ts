/**
 * The primary's side of `--workers N`: forks N DNS workers with node:cluster, feeds each the
 * config and every snapshot the control plane publishes, and stops them in order. With
 * dns.reusePort each worker binds sockets of its own in the port's SO_REUSEPORT group and
 * the kernel spreads queries over them (a port 0 is picked here first: PortReservation);
 * without, cluster shares them: UDP as one socket every worker reads (SharedHandle), TCP
 * accepted here and handed out round robin.
 */
import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { ErrorCode, GslbError } from '../errors.js';
import type { HealthMonitor } from '../health/health-monitor.js';
import type { BoundAddress } from '../server/dns-server.js';
import { parseListenAddress, type ListenAddress } from '../net/listen-address.js';
import { PortReservation, resolveReusePort } from '../server/reuse-port.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { LatencySamples } from '../steer/latency-samples.js';
import type { FromWorker, LiveLatency, SnapshotState, ToWorker } from './messages.js';
import { zoneDelta, type ZoneDelta } from '../zone/zone-transfer.js';
import { WorkerMetrics } from './metrics.js';

const WORKER_MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker-main.js');
/** Live latency (probe RTTs, admin samples) reaches the workers within this long. */
const LIVE_PUSH_MS = 1000;
const STOP_TIMEOUT_MS = 10_000;
const START_TIMEOUT_MS = 30_000;
/** A worker that dies is replaced after this long, so a crash loop does not spin. */
const RESTART_DELAY_MS = 1000;

export interface WorkerPoolOptions {
  readonly count: number;
  readonly config: Config;
  readonly monitor: HealthMonitor;
  readonly samples: LatencySamples;
  readonly log: Logger;
}

export class WorkerPool {
  readonly #o: WorkerPoolOptions;
  readonly #workers = new Set<Worker>();
  readonly #reusePort: boolean;
  /** What the workers bind: dns.listen, with each port 0 resolved by the primary when reusePort. */
  #listen: readonly ListenAddress[];
  #state: SnapshotState | null = null;
  #zones: Snapshot['zones'] | null = null;
  #zonesGeneration = 0;
  #liveText = '';
  #liveTimer: NodeJS.Timeout | null = null;
  #stopping = false;
  readonly #metrics = new WorkerMetrics();

  /** Throws, naming dns.reusePort, when it is `on` where it cannot work. */
  constructor(options: WorkerPoolOptions) {
    this.#o = options;
    this.#reusePort = resolveReusePort(options.config.dns.reusePort, options.count);
    this.#listen = options.config.dns.listen.map(parseListenAddress);
  }

  /** Whether the workers bind their own SO_REUSEPORT sockets (else cluster shares one). */
  get reusePort(): boolean {
    return this.#reusePort;
  }

  /** Forks the workers with the current snapshot; resolves with the bound addresses once every one listens. */
  async start(current: Snapshot): Promise<readonly BoundAddress[]> {
    cluster.setupPrimary({ exec: WORKER_MAIN, args: [], serialization: 'advanced' });
    this.#state = this.#stateOf(current);
    // Checked free and held until a worker listens (PortReservation): nothing else joins the
    // port's group unnoticed, and a port 0 cannot fall free before the first worker binds it.
    const reservation = this.#reusePort ? await PortReservation.reserve(this.#listen) : null;
    if (reservation !== null) this.#listen = reservation.addresses;
    const forks = Array.from({ length: this.#o.count }, (_, slot) => this.#fork(slot));
    // One worker in the group holds the port: the reservation's sockets would only take (and drop) a share from then on.
    if (reservation !== null) void Promise.any(forks).then(() => reservation.release(), () => {});
    const started = await Promise.allSettled(forks);
    await reservation?.release();
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      await this.stop();
      throw (failed as PromiseRejectedResult).reason;
    }
    this.#liveTimer = setInterval(() => this.#pushLive(), LIVE_PUSH_MS);
    this.#liveTimer.unref();
    return (started[0] as PromiseFulfilledResult<readonly BoundAddress[]>).value;
  }

  /** Sends a newly published snapshot to every worker. */
  publish(snapshot: Snapshot): void {
    const state = this.#stateOf(snapshot);
    for (const w of this.#workers) this.#send(w, state);
    // A worker forked later reads the files, which hold every change: it needs no deltas.
    this.#state = { ...state, deltas: [] };
  }

  /** Asks every worker to re-read the interface addresses (each also does so on its own timer). */
  rescan(): void {
    for (const w of this.#workers) this.#send(w, { kind: 'rescan' });
  }

  /** Asks every worker to finish and exit; kills those that do not within the timeout. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#liveTimer) clearInterval(this.#liveTimer);
    await Promise.all([...this.#workers].map((w) => this.#stopOne(w)));
  }

  get size(): number {
    return this.#workers.size;
  }

  /** Every worker's metrics, for the primary's /metrics; a slow worker counts with its last answer. */
  metrics(timeoutMs?: number): ReturnType<WorkerMetrics['collect']> {
    const send = (w: Worker, id: number): boolean => {
      if (!w.isConnected()) return false;
      w.send({ kind: 'metrics', id } satisfies ToWorker);
      return true;
    };
    return this.#metrics.collect(this.#workers, send, timeoutMs);
  }

  /** Process ids of the workers (for tests and logs). */
  get pids(): number[] {
    return [...this.#workers].map((w) => w.process.pid!);
  }

  /** Forks the worker of `slot` (0 to N-1: its metric label, which a replacement takes over). */
  #fork(slot: number): Promise<readonly BoundAddress[]> {
    const worker = cluster.fork();
    this.#workers.add(worker);
    const ready = new Promise<readonly BoundAddress[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new GslbError(ErrorCode.LISTEN_FAILED, `DNS worker ${worker.process.pid} did not start in ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      worker.on('message', (m: FromWorker) => {
        if (m.kind === 'started') {
          this.#send(worker, { kind: 'init', config: this.#o.config, slot, listen: this.#listen, reusePort: this.#reusePort });
          this.#send(worker, this.#state!);
        } else if (m.kind === 'ready') {
          clearTimeout(timer);
          resolve(m.addresses);
        } else if (m.kind === 'metrics') {
          this.#metrics.settle(worker, m.id, m.metrics);
        } else if (m.kind === 'failed') {
          clearTimeout(timer);
          this.#o.log.error({ worker: worker.process.pid, error: m.message }, 'DNS worker failed');
          reject(new GslbError(ErrorCode.LISTEN_FAILED, `DNS worker: ${m.message}`));
        }
      });
      worker.once('exit', (code, signal) => {
        clearTimeout(timer);
        this.#workers.delete(worker);
        this.#metrics.forget(worker);
        reject(new GslbError(ErrorCode.LISTEN_FAILED, `DNS worker ${worker.process.pid} exited (${signal ?? code}) before it was ready`));
        if (!this.#stopping) this.#replace(worker, slot, code, signal);
      });
    });
    return ready;
  }

  #replace(dead: Worker, slot: number, code: number | null, signal: string | null): void {
    this.#o.log.error({ worker: dead.process.pid, slot, code, signal }, 'DNS worker exited; starting another');
    setTimeout(() => {
      if (this.#stopping) return;
      // With reusePort it binds the resolved port, which the other workers still hold.
      this.#fork(slot).catch((err: unknown) => this.#o.log.error({ err }, 'replacement DNS worker failed'));
    }, RESTART_DELAY_MS).unref();
  }

  #stopOne(worker: Worker): Promise<void> {
    return new Promise((resolve) => {
      if (worker.isDead()) return resolve();
      const timer = setTimeout(() => worker.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.#send(worker, { kind: 'stop' });
    });
  }

  #send(worker: Worker, message: ToWorker): void {
    if (worker.isConnected()) worker.send(message);
  }

  #stateOf(snapshot: Snapshot): SnapshotState {
    let deltas: ZoneDelta[] = [];
    if (snapshot.zones !== this.#zones) {
      const changed = this.#zones === null ? null : deltasBetween(this.#zones, snapshot.zones);
      this.#zones = snapshot.zones;
      if (changed === null) this.#zonesGeneration++;
      else deltas = changed;
    }
    const serials = new Map<string, number>();
    for (const [origin, zone] of snapshot.zones) serials.set(origin, zone.serial);
    return { kind: 'snapshot', version: snapshot.version, zonesGeneration: this.#zonesGeneration, geoGeneration: snapshot.geoGeneration, serials, deltas, health: snapshot.health, live: this.#live() };
  }

  #live(): LiveLatency {
    const regionRtt = new Map<string, number>();
    for (const { target } of this.#o.monitor.states().values()) {
      if (regionRtt.has(target.region)) continue;
      const rtt = this.#o.monitor.regionRtt(target.region);
      if (rtt !== null) regionRtt.set(target.region, rtt);
    }
    return { regionRtt, samples: this.#o.samples.list() };
  }

  /** Sends live latency when it changed since the last push (probe RTTs move without a new snapshot). */
  #pushLive(): void {
    const live = this.#live();
    const text = JSON.stringify([[...live.regionRtt], live.samples]);
    if (text === this.#liveText) return;
    this.#liveText = text;
    for (const w of this.#workers) this.#send(w, { kind: 'live', live });
  }
}

/**
 * The admin writes between two sets of zones as node deltas; null when the change is more
 * than that (a zone added or removed, a policy or a file reloaded), which the workers follow
 * by re-reading the files.
 */
function deltasBetween(before: Snapshot['zones'], after: Snapshot['zones']): ZoneDelta[] | null {
  if (before.size !== after.size) return null;
  const out: ZoneDelta[] = [];
  for (const [origin, zone] of after) {
    const old = before.get(origin);
    if (old === undefined) return null;
    if (old === zone) continue;
    const delta = zoneDelta(old, zone);
    if (delta === null) return null;
    out.push(delta);
  }
  return out;
}
