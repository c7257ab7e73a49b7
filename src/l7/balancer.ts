/**
 * The regional balancer as a whole: the proxy listener, the admin listener, config reload and
 * drain. `startBalancer` is what `meridian balance` and the tests call.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { ErrorCode, GslbError } from '../errors.js';
import { parseListenAddress } from '../net/listen-address.js';
import { AccessLog } from './access-log.js';
import { createBalancerAdmin, type BackendSpec, type BalancerAdmin, type BalancerControl } from './admin.js';
import { checkBalancerConfig, loadBalancerConfig, type BackendConfig, type BalancerConfig } from './config.js';
import { BalancerMetrics } from './metrics.js';
import { createRequestHandler, rawReply, type ProxyState } from './proxy.js';
import { BodyRateMonitor } from './body-rate.js';
import type { RemoteBuckets } from './rate-limit.js';
import { buildRuntime, firstChecks, retireRuntime, startChecks, type Runtime } from './runtime.js';
import { loadListenerTls, useListenerTls, type ListenerTls } from './listener-tls.js';
import { Discovery, withoutDiscovered } from './discovery.js';
import { healthReport, statusReport, type HealthReport, type StatusReport } from './status.js';
import { createUpgradeHandler } from './websocket.js';
import { attachH2, type H2Front } from './h2-front.js';
import { closeUpstreams } from './h2-upstream.js';

export interface BalancerOptions {
  readonly log: Logger;
  /** The file reload() reads again; null when the config was given in memory. */
  readonly configFile: string | null;
  /** How long start-up (and a reload, for added backends) waits for their first health check. */
  readonly startupWaitMs?: number;
  /** Process metrics in /metrics (off in tests that start many balancers). */
  readonly defaultMetrics?: boolean;
  /** A worker of --workers N: rate-limit buckets are the primary's, asked over IPC. */
  readonly remoteBuckets?: RemoteBuckets;
}

/** Default wait for first health checks at start-up and for added backends on a reload. */
const STARTUP_WAIT_MS = 3000;

export type BackendChange = { readonly ok: true; readonly created: boolean } | { readonly ok: false; readonly status: 400 | 404 | 409; readonly errors: readonly string[] };

export type ReloadOutcome = { readonly ok: true } | { readonly ok: false; readonly errors: readonly string[] };

export class Balancer {
  private readonly state: ProxyState;
  private admin: BalancerAdmin | null = null;
  /**
   * Reloads and registrations run one after another, each swapping the runtime the one before
   * left; a registration reads the config in its turn, so it builds on a reload queued before
   * it (no lost update either way).
   */
  private changes: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly server: http.Server,
    state: ProxyState,
    private readonly options: BalancerOptions,
    private readonly discovery: Discovery,
    private readonly h2: H2Front | null,
  ) {
    this.state = state;
  }

  static async start(config: BalancerConfig, options: BalancerOptions): Promise<Balancer> {
    const deps = { now: Date.now, random: Math.random };
    let balancer: Balancer | null = null;
    // Pools with DNS discovery start with what the first resolution found.
    const discovery = new Discovery(
      () => state.runtime.config,
      options.log,
      () => balancer?.rediscover(),
    );
    await discovery.start(config);
    config = discovery.merge(config);
    const runtime = buildRuntime(config, deps, options.log, () => balancer?.logHealth());
    const metrics = new BalancerMetrics(() => state.runtime, options.defaultMetrics ?? true);
    const accessLog = openAccessLog(config, options.log, () => state.runtime.config.trustedHops);
    const state: ProxyState = {
      runtime,
      draining: false,
      proto: config.tls === null ? 'http' : 'https',
      metrics,
      now: Date.now,
      remoteBuckets: options.remoteBuckets ?? null,
      bodyRates: new BodyRateMonitor(() => state.runtime.config.client, Date.now),
      accessLog,
    };
    metrics.accessLog = accessLog;
    metrics.discovery = discovery;
    await firstChecks(runtime, options.startupWaitMs ?? STARTUP_WAIT_MS);
    for (const pool of runtime.pools.values()) pool.skipSlowStart();
    startChecks(runtime);
    const server = createServer(config);
    const onRequest = createRequestHandler(state);
    server.on('request', onRequest);
    const h2 = attachH2(server, config, metrics, onRequest as unknown as Parameters<typeof attachH2>[3], () => state.runtime.config.client.maxConnectionsPerClient);
    // A socket an upgrade did not take (no 101) goes back to the HTTP server to be parsed again.
    const resume = (socket: Duplex): void => void server.emit(config.tls === null ? 'connection' : 'secureConnection', socket);
    server.on('upgrade', createUpgradeHandler(state, resume));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(state, err, socket));
    capConnectionsPerClient(h2?.cleartext == null ? [server] : [server, h2.cleartext], state);
    const listen = parseListenAddress(config.listen);
    await listenOn(server, listen.host, listen.port);
    if (h2?.cleartext != null) {
      const h2c = parseListenAddress(config.http2.cleartextListen!);
      await listenOn(h2.cleartext, h2c.host, h2c.port).catch(async (err: unknown) => {
        await new Promise((resolve) => server.close(resolve));
        throw err;
      });
    }
    balancer = new Balancer(server, state, options, discovery, h2);
    if (config.admin.listen !== null) balancer.admin = await createBalancerAdmin(balancer.control(), config.admin, options.log);
    options.log.info({ listen: balancer.address, admin: balancer.adminAddress, pools: [...runtime.pools.keys()] }, 'balancer listening');
    return balancer;
  }

  get address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** The h2c (prior knowledge) listener's address, when http2.cleartextListen is set. */
  get h2cAddress(): AddressInfo | null {
    return (this.h2?.cleartext?.address() as AddressInfo | undefined) ?? null;
  }

  get adminAddress(): AddressInfo | null {
    return this.admin?.address ?? null;
  }

  get runtime(): Runtime {
    return this.state.runtime;
  }

  get metrics(): BalancerMetrics {
    return this.state.metrics;
  }

  get draining(): boolean {
    return this.state.draining;
  }

  health(now = Date.now()): HealthReport {
    return healthReport(this.state.runtime, this.state.draining, now);
  }

  status(now = Date.now()): StatusReport {
    return statusReport(this.state.runtime, this.state.draining, now);
  }

  /** This balancer as the admin listener drives it. */
  control(): BalancerControl {
    return {
      health: async () => this.health(),
      status: async () => this.status(),
      metrics: async () => ({ contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() }),
      setDraining: async (target, draining) => this.setDraining(target, draining),
      reload: async () => this.reload(),
      setBackend: async (pool, id, spec) => this.setBackend(pool, id, spec),
    };
  }

  /**
   * Adds or replaces (spec) or removes (null) one backend of a pool at run time: the running
   * config with that change, checked as a file is, then applied as a reload applies a file
   * (a backend whose address stays keeps its health, connections and in-flight requests).
   * A later reload reads the file again and replaces what was registered here.
   */
  setBackend(poolName: string, id: string, spec: BackendSpec | null): Promise<BackendChange> {
    return this.inTurn(() => this.changeBackend(poolName, id, spec));
  }

  /** Runs `work` after every change queued before it; one that throws does not stop the later ones. */
  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = this.changes.then(work);
    this.changes = run.catch(() => undefined);
    return run;
  }

  private async changeBackend(poolName: string, id: string, spec: BackendSpec | null): Promise<BackendChange> {
    // Checked as the file would be: discovered backends (dns- ids) are not the file's; swap() merges them in again.
    const change = withBackend(withoutDiscovered(this.state.runtime.config), poolName, id, spec);
    if (!change.ok) return change;
    // applied as a reload: the added backend has its first check before it serves
    const outcome = await this.swap(change.config);
    if (!outcome.ok) return { ok: false, status: 409, errors: outcome.errors };
    this.options.log.info({ pool: poolName, id, change: spec === null ? 'removed' : change.created ? 'added' : 'replaced' }, 'backend registration changed');
    return { ok: true, created: change.created };
  }

  /** Reads the config file again; a bad file leaves the running config untouched. */
  reload(): Promise<ReloadOutcome> {
    if (this.options.configFile === null) return Promise.resolve({ ok: false, errors: ['no config file to reload'] });
    let next: BalancerConfig;
    try {
      next = loadBalancerConfig(this.options.configFile);
    } catch (err) {
      const errors = err instanceof GslbError && err.details.length > 0 ? err.details : [(err as Error).message];
      this.options.log.error({ errors }, 'balancer config reload failed; the previous config keeps serving');
      return Promise.resolve({ ok: false, errors });
    }
    // The listener's certificate is read again too; a bad one keeps the old pair and the old config.
    let pair: ListenerTls | null = null;
    if (next.tls !== null && this.state.runtime.config.tls !== null) {
      try {
        pair = loadListenerTls(next.tls);
      } catch (err) {
        const errors = (err as GslbError).details;
        this.options.log.error({ errors }, 'balancer TLS certificate reload failed; the previous certificate and config keep serving');
        return Promise.resolve({ ok: false, errors });
      }
    }
    return this.apply(next).then((outcome) => {
      if (outcome.ok && pair !== null) {
        useListenerTls(this.server as unknown as tls.Server, pair);
        this.options.log.info({ cert: next.tls?.cert }, 'balancer TLS certificate reloaded');
      }
      return outcome;
    });
  }

  /**
   * Swaps in a new config once its added backends had their first check (kept ones keep their
   * health); in-flight requests finish on the pools they started on.
   */
  apply(next: BalancerConfig): Promise<ReloadOutcome> {
    return this.inTurn(() => this.swap(next));
  }

  private async swap(next: BalancerConfig): Promise<ReloadOutcome> {
    if (this.closed) return { ok: false, errors: ['the balancer is closing'] };
    const old = this.state.runtime;
    // tls files may change (reload() installs them); turning TLS on or off needs a restart
    const same = (k: 'listen' | 'tls' | 'admin' | 'accessLog' | 'http2'): boolean =>
      k === 'tls' ? (old.config.tls === null) === (next.tls === null) : JSON.stringify(old.config[k]) === JSON.stringify(next[k]);
    const fixed = (['listen', 'tls', 'admin', 'accessLog', 'http2'] as const).filter((k) => !same(k));
    if (fixed.length > 0) {
      this.options.log.warn({ fields: fixed }, 'these fields only change on restart; the rest of the new config applies now');
    }
    const merged: BalancerConfig = {
      ...next,
      listen: old.config.listen,
      tls: same('tls') ? next.tls : old.config.tls,
      admin: old.config.admin,
      accessLog: old.config.accessLog,
      http2: old.config.http2,
    };
    applyClientLimits(this.server, merged);
    let runtime: Runtime;
    try {
      runtime = buildRuntime(this.discovery.merge(merged), { now: Date.now, random: Math.random }, this.options.log, () => this.logHealth(), old);
    } catch (err) {
      // a backend TLS file that went away or broke since the config was checked: the running config stays
      const errors = err instanceof GslbError && err.details.length > 0 ? err.details : [(err as Error).message];
      this.options.log.error({ errors }, 'balancer config not applied; the previous config keeps serving');
      return { ok: false, errors };
    }
    await firstChecks(runtime, this.options.startupWaitMs ?? STARTUP_WAIT_MS);
    if (this.closed) {
      retireRuntime(runtime, old); // closes only the backends it added: the kept ones still serve the closing runtime
      return { ok: false, errors: ['the balancer is closing'] };
    }
    // Kept backends' health may have moved during the wait (the old checks ran on): settle the usable lists.
    for (const pool of runtime.pools.values()) pool.refresh();
    this.state.runtime = runtime;
    retireRuntime(old, runtime);
    startChecks(runtime);
    this.discovery.sync(runtime.config);
    this.options.log.info({ pools: [...runtime.pools.keys()] }, 'balancer config reloaded');
    return { ok: true };
  }

  /** A discovered set changed: the running config again, merged with it (added backends checked first, gone ones drained). */
  private rediscover(): void {
    void this.inTurn(() => this.swap(this.state.runtime.config));
  }

  /** Drains one backend ("pool/id") or, without one, the whole balancer. False when no such backend. */
  setDraining(target: string | null, draining: boolean): boolean {
    if (target === null) {
      this.state.draining = draining;
      this.options.log.info({ draining }, draining ? 'balancer draining' : 'balancer undrained');
      return true;
    }
    const slash = target.indexOf('/');
    const pool = this.state.runtime.pools.get(target.slice(0, slash));
    const b = slash < 0 ? undefined : pool?.find(target.slice(slash + 1));
    if (pool === undefined || b === undefined) return false;
    b.draining = draining;
    pool.refresh();
    this.options.log.info({ backend: b.key, draining }, draining ? 'backend draining' : 'backend undrained');
    return true;
  }

  private logHealth(): void {
    const h = this.health();
    this.options.log.info({ healthy: h.healthy, total: h.total, up: h.up }, 'balancer health');
  }

  /** Stops accepting, lets requests in flight finish (up to graceMs), then closes everything. */
  async close(graceMs = 5000): Promise<void> {
    this.closed = true;
    this.discovery.stop();
    const rt = this.state.runtime;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const deadline = setTimeout(() => this.server.closeAllConnections(), graceMs);
    // HTTP/2 sessions are not the HTTP/1.1 server's to close, yet their sockets hold it open.
    await Promise.all([closed, this.h2?.close(graceMs)]);
    clearTimeout(deadline);
    this.state.bodyRates.stop();
    for (const pool of rt.pools.values()) pool.stop();
    retireRuntime(rt, null);
    await Promise.all([...rt.pools.values()].flatMap((p) => p.backends.map((b) => b.dispatcher.destroy().catch(() => undefined))));
    closeUpstreams(
      [...rt.pools.values()].flatMap((p) => p.backends),
      true,
    );
    await this.admin?.close();
    await this.state.accessLog?.close();
  }
}

/** `current` with one backend added or replaced (spec) or removed (null), checked as a file is. */
export function withBackend(
  current: BalancerConfig,
  poolName: string,
  id: string,
  spec: BackendSpec | null,
): { ok: true; config: BalancerConfig; created: boolean } | Extract<BackendChange, { ok: false }> {
  if (!Object.hasOwn(current.pools, poolName)) return { ok: false, status: 404, errors: [`pool: no pool named "${poolName}"`] };
  const next = structuredClone(current);
  const backends = next.pools[poolName]!.backends;
  const i = backends.findIndex((b) => b.id === id);
  if (spec === null) {
    if (i < 0) return { ok: false, status: 404, errors: [`id: no backend "${id}" in pool ${poolName}`] };
    if (backends.length === 1 && next.pools[poolName]!.discovery === undefined) return { ok: false, status: 409, errors: [`id: "${id}" is the last backend of pool ${poolName}; a pool needs one`] };
    backends.splice(i, 1);
  } else if (i < 0) backends.push({ ...spec, id } as BackendConfig);
  else backends[i] = { ...spec, id } as BackendConfig;
  try {
    return { ok: true, config: checkBalancerConfig(next), created: spec !== null && i < 0 };
  } catch (err) {
    return { ok: false, status: 400, errors: err instanceof GslbError && err.details.length > 0 ? err.details : [(err as Error).message] };
  }
}

/** The access log, or null when off; a path that cannot be opened stops start-up with its name. */
function openAccessLog(config: BalancerConfig, log: Logger, trustedHops: () => number): AccessLog | null {
  const o = config.accessLog;
  if (o.path === null || o.sample === 0) return null;
  try {
    return new AccessLog({ ...o, path: o.path }, log, trustedHops);
  } catch (err) {
    throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `accessLog.path: cannot open ${o.path}: ${(err as Error).message}`);
  }
}

function createServer(config: BalancerConfig): http.Server {
  const options: http.ServerOptions = {
    keepAliveTimeout: config.timeouts.clientKeepAliveMs,
    headersTimeout: config.timeouts.clientHeadersMs,
    requestTimeout: config.client.requestMs,
    maxHeaderSize: config.client.maxHeaderBytes,
    requireHostHeader: false, // request-checks.ts answers it, with the balancer's error code
    connectionsCheckingInterval: Math.min(1000, config.timeouts.clientHeadersMs), // node's default (30 s) would let a slow header linger long past its timeout
  };
  if (config.tls === null) return http.createServer(options);
  // h2 first: a client that speaks both gets HTTP/2 (h2-front.ts takes those connections).
  const ALPNProtocols = config.http2.enabled ? ['h2', 'http/1.1'] : ['http/1.1'];
  return https.createServer({ ...options, ...loadListenerTls(config.tls), ALPNProtocols });
}

/** Node reads these per connection (maxHeaderSize) or per check (the timeouts), so a reload applies them to new requests. */
function applyClientLimits(server: http.Server, config: BalancerConfig): void {
  server.headersTimeout = config.timeouts.clientHeadersMs;
  server.requestTimeout = config.client.requestMs;
  server.keepAliveTimeout = config.timeouts.clientKeepAliveMs;
  (server as { maxHeaderSize?: number }).maxHeaderSize = config.client.maxHeaderBytes;
}

/** What node's parser refused, answered with a status and code that say why, then the connection closed. */
function answerClientError(state: ProxyState, err: NodeJS.ErrnoException, socket: Duplex): void {
  const inFlight = (socket as { _httpMessage?: http.ServerResponse | null })._httpMessage;
  if (!socket.writable || err.code === 'ECONNRESET' || (inFlight != null && inFlight.headersSent)) {
    socket.destroy();
    return;
  }
  const client = state.runtime.config.client;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    state.metrics.badRequests++;
    rawReply(socket, 431, ErrorCode.L7_HEADER_TOO_LARGE, `the request header is larger than ${client.maxHeaderBytes} bytes (client.maxHeaderBytes)`);
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    rawReply(socket, 408, ErrorCode.L7_REQUEST_TIMEOUT, `the request was not received whole in time (timeouts.clientHeadersMs, client.requestMs)`);
  } else {
    state.metrics.badRequests++;
    rawReply(socket, 400, ErrorCode.L7_BAD_REQUEST, `malformed request (${err.code ?? err.message})`);
  }
}

/**
 * At most client.maxConnectionsPerClient open connections per peer address; more are closed
 * at once (as haproxy's `tcp-request connection reject` on conn_cur), so one address cannot
 * hold every slot with idle or slow connections.
 */
function capConnectionsPerClient(servers: readonly NetServer[], state: ProxyState): void {
  const open = new Map<string, number>();
  const counted = new WeakSet();
  for (const server of servers)
    server.on('connection', (socket: Socket) => {
      if (counted.has(socket)) return; // a socket handed back after an upgrade was declined
      const cap = state.runtime.config.client.maxConnectionsPerClient;
      const peer = socket.remoteAddress ?? '';
      const n = (open.get(peer) ?? 0) + 1;
      if (cap > 0 && n > cap) {
        state.metrics.connectionsRefused++;
        socket.destroy();
        return;
      }
      counted.add(socket);
      open.set(peer, n);
      socket.once('close', () => {
        const left = open.get(peer)! - 1;
        if (left === 0) open.delete(peer);
        else open.set(peer, left);
      });
    });
}

function listenOn(server: NetServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new GslbError(ErrorCode.GSLB_ERR_LISTEN_FAILED, `cannot listen on ${host}:${port}: ${err.message}`));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
