/**
 * The primary's side of `--workers N`: forks N DNS workers with node:cluster, feeds each the
 * config and every snapshot the control plane publishes, and stops them in order. With
 * dns.reusePort each worker binds sockets of its own in the port's SO_REUSEPORT group and
 * the kernel spreads queries over them (a port 0 is picked here first: PortReservation);
 * without, cluster shares them: UDP as one socket every worker reads (SharedHandle), TCP
 * accepted here and handed out round robin.
 */
import type { Worker } from 'node:cluster';
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
import { Supervisor } from '../supervisor/supervisor.js';

const WORKER_MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker-main.js');
/** Live latency (probe RTTs, admin samples) reaches the workers within this long. */
const LIVE_PUSH_MS = 1000;
const STOP_TIMEOUT_MS = 10_000;
const START_TIMEOUT_MS = 30_000;

export interface WorkerPoolOptions {
  readonly count: number;
  readonly config: Config;
  readonly monitor: HealthMonitor;
  readonly samples: LatencySamples;
  readonly log: Logger;
}

export class WorkerPool {
  readonly #o: WorkerPoolOptions;
  /** Workers given their config: each takes every published snapshot and live update. */
  readonly #workers = new Set<Worker>();
  readonly #supervisor: Supervisor<readonly BoundAddress[]>;
  readonly #reusePort: boolean;
  /** What the workers bind: dns.listen, with each port 0 resolved by the primary when reusePort. */
  #listen: readonly ListenAddress[];
  #state: SnapshotState | null = null;
  #zones: Snapshot['zones'] | null = null;
  #zonesGeneration = 0;
  #liveText = '';
  #liveTimer: NodeJS.Timeout | null = null;
  readonly #metrics = new WorkerMetrics();

  /** Throws, naming dns.reusePort, when it is `on` where it cannot work. */
  constructor(options: WorkerPoolOptions) {
    this.#o = options;
    this.#reusePort = resolveReusePort(options.config.dns.reusePort, options.count);
    this.#listen = options.config.dns.listen.map(parseListenAddress);
    this.#supervisor = new Supervisor({
      role: 'DNS worker',
      count: options.count,
      exec: WORKER_MAIN,
      serialization: 'advanced',
      log: options.log,
      startTimeoutMs: START_TIMEOUT_MS,
      stopTimeoutMs: STOP_TIMEOUT_MS,
      boot: (worker, slot) => this.#boot(worker, slot),
      requestStop: (worker) => this.#send(worker, { kind: 'stop' }),
      onExit: (worker) => {
        this.#workers.delete(worker);
        this.#metrics.forget(worker);
      },
    });
  }

  /** Whether the workers bind their own SO_REUSEPORT sockets (else cluster shares one). */
  get reusePort(): boolean {
    return this.#reusePort;
  }

  /** Forks the workers with the current snapshot; resolves with the bound addresses once every one listens. */
  async start(current: Snapshot): Promise<readonly BoundAddress[]> {
    this.#state = this.#stateOf(current);
    // Checked free and held until a worker listens (PortReservation): nothing else joins the
    // port's group unnoticed, and a port 0 cannot fall free before the first worker binds it.
    const reservation = this.#reusePort ? await PortReservation.reserve(this.#listen) : null;
    if (reservation !== null) this.#listen = reservation.addresses;
    const forks: Promise<readonly BoundAddress[]>[] = [];
    const starting = this.#supervisor.start((ready) => forks.push(ready));
    // One worker in the group holds the port: the reservation's sockets would only take (and drop) a share from then on.
    if (reservation !== null)
      void Promise.any(forks).then(
        () => reservation.release(),
        () => {},
      );
    let started: (readonly BoundAddress[])[];
    try {
      started = await starting;
    } finally {
      await reservation?.release();
    }
    this.#liveTimer = setInterval(() => this.#pushLive(), LIVE_PUSH_MS);
    this.#liveTimer.unref();
    return started[0]!;
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
    if (this.#liveTimer) clearInterval(this.#liveTimer);
    await this.#supervisor.stop();
  }

  get size(): number {
    return this.#supervisor.workers.length;
  }

  /** Every worker's metrics, for the primary's /metrics; a slow worker counts with its last answer. */
  metrics(timeoutMs?: number): ReturnType<WorkerMetrics['collect']> {
    const send = (w: Worker, id: number): boolean => {
      if (!w.isConnected()) return false;
      w.send({ kind: 'metrics', id } satisfies ToWorker);
      return true;
    };
    return this.#metrics.collect(this.#supervisor.workers, send, timeoutMs);
  }

  /** Process ids of the workers (for tests and logs). */
  get pids(): number[] {
    return this.#supervisor.pids;
  }

  /**
   * One forked worker of `slot` (0 to N-1: its metric label, which a replacement takes over):
   * given the config and the current state once it listens for orders, ready once it listens.
   */
  #boot(worker: Worker, slot: number): Promise<readonly BoundAddress[]> {
    return new Promise<readonly BoundAddress[]>((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.kind === 'started') {
          this.#send(worker, { kind: 'init', config: this.#o.config, slot, listen: this.#listen, reusePort: this.#reusePort });
          this.#send(worker, this.#state!);
          // From now on it takes every published snapshot; one sent before init would be refused.
          this.#workers.add(worker);
        } else if (m.kind === 'ready') {
          resolve(m.addresses);
        } else if (m.kind === 'metrics') {
          this.#metrics.settle(worker, m.id, m.metrics);
        } else if (m.kind === 'failed') {
          this.#o.log.error({ worker: slot, pid: worker.process.pid, error: m.message }, 'DNS worker failed');
          reject(new GslbError(ErrorCode.GSLB_ERR_LISTEN_FAILED, `DNS worker: ${m.message}`));
        }
      });
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
