/**
 * The one place that wires the server together: config → zones → snapshot → responder →
 * listeners, plus the reload triggers. Everything else receives its dependencies.
 */
import type { Logger } from 'pino';
import { DEFAULT_HEALTH_STATE_FILE, type Config } from './config/schema.js';
import { ZoneReloader } from './control/zone-reloader.js';
import type { Responder } from './answer/responder.js';
import { ErrorCode, GslbError } from './errors.js';
import { createDataPlane, type BoundAddress } from './server/dns-server.js';
import type { NativeUdpCounters, UdpSocketKind } from './server/native-udp.js';
import { parseListenAddress } from './net/listen-address.js';
import type { GeoView } from './geoip/geo-database.js';
import { GeoReloader } from './control/geo-reloader.js';
import { clientLocator, openGeo } from './geoip/open-geo.js';
import { formatProblem } from './problems/problem-list.js';
import { startZoneLoadProcess, ZoneLoadThread } from './control/zone-load-thread-pool.js';
import { ZoneDirectory, type LoadOutcome } from './control/zone-directory.js';
import path from 'node:path';
import { SnapshotPublisher } from './control/publisher.js';
import { catalogName } from './transfer/catalog.js';
import { SnapshotBuilder } from './control/snapshot-builder.js';
import type { SnapshotStore } from './snapshot/snapshot.js';
import { removeStaleTemps } from './storage/atomic-write.js';
import { HealthMonitor } from './health/health-monitor.js';
import { runProbe } from './health/probes/index.js';
import { HealthStateWriter, loadHealthState } from './storage/health-state.js';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createAdminServer } from './admin/server.js';
import { warmWritePath } from './admin/warm-up.js';
import { makeToken, requireTokenOffLoopback } from './admin/auth.js';
import { ZoneEditor } from './control/zone-editor.js';
import { startCompactor } from './storage/journal-compaction.js';
import { AuditLog, type AuditOptions } from './admin/audit-log.js';
import { LatencySamples } from './steer/latency-samples.js';
import { createMetricsRegistry } from './metrics/registry.js';
import { aggregateMetrics } from './workers/metrics.js';
import { WorkerPool } from './workers/pool.js';
import { resolveReusePort } from './server/reuse-port.js';
import { withCookieSecret } from './protect/protection.js';
import { failoverWarnings } from './health/failover-bound.js';
import type { Zone } from './zone/zone.js';
import { VERSION } from './version.js';
import { Notifier } from './transfer/notifier.js';
import { ClusterReplica } from './admin/cluster-replica.js';
import { KvStore } from './cluster/kv-store.js';
import type { SharedStoreState } from './cluster/types.js';

export interface RunningServer {
  readonly addresses: readonly BoundAddress[];
  /** Process ids of the DNS workers (`dns.workers` > 1); empty when this process answers itself. */
  readonly workerPids: readonly number[];
  /** This process's UDP socket layer (`dns.udpSocket` resolved) and its native sockets' counters; null with workers (each has its own). */
  readonly udp: { readonly socket: UdpSocketKind; counters(): NativeUdpCounters | null } | null;
  readonly store: SnapshotStore;
  readonly zones: ZoneDirectory;
  readonly responder: Responder;
  readonly health: HealthMonitor;
  /** Cluster mode: this node's link to the cluster store (null on a single node). */
  readonly cluster: { state(): SharedStoreState; ready(): Promise<void> } | null;
  /** Where the admin API listens; null when it is off. */
  readonly adminAddress: { host: string; port: number } | null;
  /** Re-reads the zones folder (`force` re-reads unchanged files too); true when answers changed. */
  reload(force?: boolean): boolean;
  /** Re-reads the DNSSEC keys as SIGHUP does (this process's; workers on their own); the zones whose keys changed. */
  reloadKeys(): string[];
  close(): Promise<void>;
}

/** The health monitor with its state restored from disk, saving on every change. */
function startHealth(config: Config, log: Logger, onChange: () => void): { monitor: HealthMonitor; writer: HealthStateWriter | null } {
  const file = config.health.stateFile === null ? null : path.resolve(config.health.stateFile);
  const writer = file === null ? null : new HealthStateWriter(file, 250, log);
  const monitor: HealthMonitor = new HealthMonitor({
    prober: runProbe,
    restored: file === null ? undefined : loadHealthState(file, Date.now(), log),
    concurrency: config.health.concurrency,
    log,
    onChange: () => {
      onChange();
      writer?.schedule(() => monitor.view());
    },
  });
  return { monitor, writer };
}

function warnSlowFailover(zones: ReadonlyMap<string, Zone>, budgetSec: number, log: Logger): void {
  for (const p of failoverWarnings(zones, budgetSec)) log.warn(formatProblem(p));
}

interface AdminParts {
  editor: ZoneEditor;
  cluster: ClusterReplica | null;
  zones: ZoneDirectory;
  store: SnapshotStore;
  monitor: HealthMonitor;
  samples: LatencySamples;
  /** The GeoIP databases serving now (a reload swaps them). */
  geo: GeoView;
  reload: (force: boolean) => boolean;
  /** The same, on the reload thread (POST /v1/reload, a hand edit found before an admin write): a large zone never holds the answers. */
  reloadInBackground: (force: boolean) => Promise<boolean>;
  /** Reopens the GeoIP files that changed (POST /v1/reload re-reads every file). */
  reloadGeo: () => void;
  publishZones: (zones: ReadonlyMap<string, Zone>) => void;
  responder: Responder;
  /** With --workers: /metrics sums the workers' figures with this process's. */
  pool: WorkerPool | null;
  /** This process's native UDP counters (null on node:dgram or with workers, whose /metrics carry their own). */
  udpNative: () => NativeUdpCounters | null;
  log: Logger;
}

/** The admin API, refusing a non-loopback address without a token (issue #5). */
async function startAdmin(config: Config, p: AdminParts): Promise<FastifyInstance> {
  const address = parseListenAddress(config.admin.listen!);
  requireTokenOffLoopback(config.admin.listen!, config.admin.tokens.length > 0, 'the admin API', 'set MERIDIAN_ADMIN_TOKEN or admin.tokens, or listen on loopback');
  if (config.admin.tokens.length === 0) p.log.warn('admin API without tokens: anyone on this machine can change zones (loopback only)');
  const metrics = createMetricsRegistry({
    queryStats: p.responder.stats,
    cache: p.responder.cache,
    decisions: p.responder.decisions,
    health: p.monitor,
    snapshotVersion: () => p.store.current.version,
    protection: p.responder.protection,
    dnssec: p.responder.dnssec,
    udpNative: p.udpNative,
    build: { version: VERSION, node: process.version },
    zones: p.zones,
    geoDatabases: () => p.geo.databases,
    ...(p.cluster !== null && { cluster: () => p.cluster!.state() }),
  });
  const { file, maxBytes, keep } = config.admin.audit;
  // by default in the folder the server already keeps its state in
  const auditFile = file === undefined ? path.join(path.dirname(config.health.stateFile ?? DEFAULT_HEALTH_STATE_FILE), 'audit.log') : file;
  const audit = auditFile === null ? null : openAudit({ file: auditFile, maxBytes, keep });
  const app = await createAdminServer({
    editor: p.editor,
    cluster: p.cluster,
    zones: p.zones,
    store: p.store,
    monitor: p.monitor,
    samples: p.samples,
    geo: p.geo,
    tokens: config.admin.tokens.map((t) => makeToken(t.name, t.token, t.access)),
    allowedHosts: config.admin.allowedHosts,
    audit,
    reload: () => {
      p.reloadGeo();
      return p.reloadInBackground(true);
    },
    metrics: async () => ({ contentType: metrics.contentType, body: p.pool === null ? await metrics.metrics() : await aggregateMetrics(metrics, await p.pool.metrics()) }),
    answerTotals: () => p.responder.stats.answerTotals(),
    startedAt: new Date(),
    version: VERSION,
    log: p.log,
  });
  app.addHook('onClose', async () => {
    audit?.close();
  });
  await app.listen({ host: address.host, port: address.port });
  // With a token configured, a request of ours would need one; the editor's part is warmed anyway.
  const listener = config.admin.tokens.length === 0 ? (app.server.address() as AddressInfo) : null;
  const warmed = await warmWritePath(p.editor, p.zones, { listener });
  p.log.debug({ dryRuns: warmed }, 'admin: write path warmed up with dry runs');
  return app;
}

/**
 * The first load. As Knot does, a zone whose files have errors is logged (file:line, each
 * file's problems capped) and left out, and the server starts with the others: a typo in one
 * zone must not take every zone down, nor send systemd into a restart loop. The zone is
 * REFUSED until a fixed file is picked up by the watch or SIGHUP. Only an unreadable folder
 * stops the start.
 */
async function loadFirstZones(zones: ZoneDirectory, log: Logger): Promise<LoadOutcome> {
  let first: LoadOutcome | null;
  // On the reload thread, as every later load: the objects a parse builds (millions for a
  // large zone) never reach this thread's heap, whose collector would trace them while serving.
  const thread = new ZoneLoadThread(undefined, false);
  try {
    first = await zones.loadAsync(true, (file, origin, previous) => thread.load(file, origin, previous));
  } catch (err) {
    throw new GslbError(ErrorCode.GSLB_ERR_ZONE_INVALID, `${zones.directory}: cannot load the zones: ${(err as Error).message}`);
  } finally {
    void thread.close();
  }
  if (first === null) throw new GslbError(ErrorCode.GSLB_ERR_ZONE_INVALID, `${zones.directory}: the first load was overtaken`);
  if (first.folderProblem) throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, formatProblem(first.folderProblem));
  for (const p of first.problems) {
    if (p.severity === 'error') log.error({ file: p.file, line: p.line }, formatProblem(p));
    else log.warn({ file: p.file, line: p.line }, formatProblem(p));
  }
  const failed = first.statuses.filter((s) => s.zone === null).map((s) => s.file);
  if (failed.length > 0) log.error({ files: failed }, `${failed.length} zone file(s) did not load and are not served (REFUSED) until fixed; the other zones are`);
  return first;
}

function openAudit(opts: AuditOptions): AuditLog {
  const file = path.resolve(opts.file);
  try {
    return new AuditLog({ ...opts, file });
  } catch (err) {
    throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `admin.audit.file: cannot open ${file}: ${(err as Error).message}`);
  }
}

/** Cluster mode: the replica (admin/) and the store it follows (cluster/), started once the editor exists. */
function clusterParts(
  config: Config,
  zones: ZoneDirectory,
  monitor: HealthMonitor,
  samples: LatencySamples,
  log: Logger,
): { replica: ClusterReplica; store: KvStore; start(editor: ZoneEditor): void } {
  const replica = new ClusterReplica(zones, monitor, log, { reportMs: config.cluster.healthReportMs, quorum: config.health.quorum }, samples);
  let store: KvStore | null = null;
  return {
    replica,
    get store(): KvStore {
      return store!;
    },
    start(editor) {
      store = new KvStore(config.cluster, replica, log);
      replica.attach(editor, store);
      replica.startReporting();
    },
  };
}

export interface StartOptions {
  /** Install SIGHUP for reloads (the CLI does; tests call reload() instead). */
  readonly handleSignals?: boolean;
  /** Tests only (no config or flag sets it): the DNSSEC signer's clock, in milliseconds, to run a key rollover over simulated days; one process (no workers). */
  readonly clock?: () => number;
}

export async function startServer(given: Config, log: Logger, options: StartOptions = {}): Promise<RunningServer> {
  // Before the data plane and its workers start, so they share one cookie secret.
  const config = withCookieSecret(given);
  const listen = config.dns.listen.map(parseListenAddress);
  // dns.reusePort "on" where it cannot work is refused before anything starts (WorkerPool uses it).
  const reusePort = resolveReusePort(config.dns.reusePort, config.dns.workers);
  if (config.dns.udpSocket === 'native' && config.dns.workers > 1 && !reusePort) {
    // Workers sharing one socket through node:cluster read it with node:dgram.
    throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, 'dns.udpSocket: "native" with dns.workers > 1 needs dns.reusePort (each worker its own socket); set it to "auto" or "dgram"');
  }
  const stale = removeStaleTemps(config.zones.directory);
  if (stale.length > 0) log.warn({ files: stale }, 'removed temp files left by an interrupted write');
  // Forked before the zones load: a fork copies page tables, and those of a large zone stall the answering thread.
  startCompactor(log);
  startZoneLoadProcess(log);
  const zones = new ZoneDirectory(config.zones.directory);
  const first = await loadFirstZones(zones, log);
  const geo = openGeo(config, log);
  const builder = new SnapshotBuilder(config.dns.chaos, clientLocator(geo));
  const store = builder.store(1, { zones: first.zones });
  // In a cluster a change of this node's view is reported to the others, and the verdicts decided again.
  const health = startHealth(config, log, () => {
    publisher.publish();
    cluster?.replica.healthChanged();
  });
  const samples = new LatencySamples();
  const cluster = config.cluster.servers.length === 0 ? null : clusterParts(config, zones, health.monitor, samples, log);
  const publisher = new SnapshotPublisher(store, builder, health.monitor, samples, catalogName(config.dns.transfer.catalog));
  warnSlowFailover(first.zones, config.health.failoverBudgetSec, log);
  publisher.setZones(first.zones);
  health.monitor.start();
  // Deterministic start-up: answer steered names only after the first probe round (bounded).
  if (health.monitor.states().size > 0) {
    const complete = await health.monitor.firstRound(config.health.startupWaitMs);
    log.info({ complete, targets: health.monitor.states().size }, complete ? 'first probe round complete' : 'first probe round not complete in time; unknown targets count as up');
  }
  // One process answers by itself; with workers, they answer and this process only feeds them.
  let dataPlane: ReturnType<typeof createDataPlane>;
  try {
    dataPlane = createDataPlane(config.dns, store, log, false, options.clock);
  } catch (err) {
    // A query log path that cannot be opened, say: nothing may keep running.
    await health.monitor.stop();
    throw err;
  }
  const responder = dataPlane.responder;
  const server = config.dns.workers > 1 ? null : dataPlane.server;
  const pool = config.dns.workers > 1 ? new WorkerPool({ count: config.dns.workers, config, monitor: health.monitor, samples, log }) : null;
  const unfeed = pool === null ? () => {} : store.onPublish((s) => pool.publish(s));
  const stopDataPlane = async (): Promise<void> => {
    dataPlane.keys?.stop();
    unfeed();
    await pool?.stop();
    await server?.close();
  };
  const addresses = await (server !== null ? server.listen(listen) : pool!.start(store.current)).catch(async (err: unknown) => {
    await health.monitor.stop();
    await stopDataPlane();
    throw err;
  });
  const reloader = new ZoneReloader(zones, publisher, log);
  const geoReloader = new GeoReloader(config, publisher, log, geo);
  const editor = new ZoneEditor(
    zones,
    () => reloader.reload(false),
    (z) => publisher.setZones(z),
    { reloadInBackground: () => reloader.reloadInBackground(false), journal: config.zones.journal, log, ...(cluster !== null && { shared: cluster.replica }) },
  );
  let admin: FastifyInstance | null = null;
  if (config.admin.listen !== null) {
    try {
      admin = await startAdmin(config, {
        editor,
        cluster: cluster?.replica ?? null,
        zones,
        store,
        monitor: health.monitor,
        samples,
        geo: geoReloader,
        reloadGeo: () => geoReloader.reload(),
        reload: (force) => reloader.reload(force),
        reloadInBackground: (force) => reloader.reloadInBackground(force),
        publishZones: (z) => publisher.setZones(z),
        responder,
        pool,
        udpNative: () => server?.udpCounters() ?? null,
        log,
      });
    } catch (err) {
      await health.monitor.stop();
      await stopDataPlane();
      throw err;
    }
  }
  const notifier = new Notifier(store, config.dns.transfer.notify.map(parseListenAddress), log);
  notifier.start();
  // In a cluster the store is followed from here on (in the background: the files serve meanwhile).
  if (cluster !== null) cluster.start(editor);
  if (config.zones.watch) reloader.watch(config.zones.debounceMs);
  if (config.geoip.watch) geoReloader.watch(config.geoip.debounceMs);
  const onHup = (): void => {
    log.info('SIGHUP: reloading zones, GeoIP databases and DNSSEC keys, re-reading the interface addresses');
    geoReloader.reload();
    dataPlane.keys?.reload();
    void reloader.reloadInBackground(true);
    void server?.rescan();
    pool?.rescan();
  };
  if (options.handleSignals) process.on('SIGHUP', onHup);
  const adminAddress = admin ? (admin.server.address() as AddressInfo) : null;
  log.info(
    {
      zones: [...first.zones.keys()].map((k) => k + '.'),
      listen: addresses,
      udpSocket: server?.udpSocket,
      workers: pool?.pids,
      reusePort: pool?.reusePort,
      admin: adminAddress && { host: adminAddress.address, port: adminAddress.port },
    },
    'meridian is serving',
  );
  return {
    addresses,
    workerPids: pool?.pids ?? [],
    udp: server && { socket: server.udpSocket, counters: () => server.udpCounters() },
    adminAddress: adminAddress && { host: adminAddress.address, port: adminAddress.port },
    store,
    zones,
    responder,
    health: health.monitor,
    cluster: cluster && { state: () => cluster.store.state(), ready: () => cluster.store.ready() },
    reload: (force = true) => reloader.reload(force),
    reloadKeys: () => dataPlane.keys?.reload() ?? [],
    async close() {
      process.off('SIGHUP', onHup);
      notifier.close();
      reloader.stop();
      geoReloader.stop();
      await admin?.close();
      cluster?.replica.stopReporting();
      await cluster?.store.close();
      // Clean shutdown: every zone's journal goes into its zone file.
      await editor.close();
      await health.monitor.stop();
      health.writer?.flush();
      await stopDataPlane();
    },
  };
}
