/**
 * One backend of a pool and everything the request path reads about it. A plain mutable
 * object with a stable shape (as undici keeps its hot objects): the request path bumps
 * counters; health, ejection and drain are set by the pool's control side.
 */
import type { Dispatcher } from 'undici';
import { initialHealth, type TargetHealth } from '../health/state-machine.js';
import type { BackendConfig } from './config.js';
import { parseBackendAddress } from './config.js';
import { formatListenAddress } from '../net/listen-address.js';
import { createDispatcher, type BackendTls } from './backend-tls.js';

/** Latency smoothing for least-response-time: each response moves the average this far. */
const EWMA_ALPHA = 0.2;

export interface BackendTimeouts {
  readonly connectMs: number;
  readonly headersMs: number;
  readonly idleMs: number;
}

export class Backend {
  /** "<pool>/<id>": stable across reloads, used in cookies, metrics and the API. */
  readonly key: string;
  readonly id: string;
  readonly host: string;
  readonly port: number;
  weight: number;
  maxRequests: number;
  readonly maxConnections: number;
  dispatcher: Dispatcher;
  /** TLS material when the backend is dialled over TLS (backend-tls.ts); null: plain HTTP. */
  readonly tls: BackendTls | null;
  /** How requests reach it: undici's HTTP/1.1 pool, or HTTP/2 (h2-upstream.ts). */
  readonly protocol: 'http1' | 'h2c';

  /** Requests (and WebSocket tunnels) in flight now. */
  inFlight = 0;
  /** Smoothed response-header latency in ms; 0 until the first response. */
  latencyMs = 0;
  requests = 0;
  errors = 0;
  responses2xx = 0;
  responses3xx = 0;
  responses4xx = 0;
  responses5xx = 0;

  /** Active-check state (rise/fall); see passedChecks. */
  health: TargetHealth;
  /** Passive checks: errors in a row, when the current ejection ends, ejections so far. */
  consecutiveErrors = 0;
  ejectedUntil = 0;
  ejectedAt = 0;
  ejections = 0;
  /** Operator drain: no new requests; in-flight ones finish. */
  draining = false;
  /** When the backend last became usable, while slow start ramps it; 0 once at full share. */
  usableSince = 0;

  /** Scratch for smooth weighted round robin (nginx's current_weight). */
  currentWeight = 0;
  /** Set for the length of one pick to keep an algorithm off this backend (slow start, retry elsewhere). */
  skipped = false;

  constructor(poolName: string, config: BackendConfig, timeouts: BackendTimeouts, now: number, tls: BackendTls | null = null) {
    this.key = `${poolName}/${config.id}`;
    this.id = config.id;
    const { host, port } = parseBackendAddress(config.address);
    this.host = host;
    this.port = port;
    this.weight = config.weight;
    this.maxRequests = config.maxRequests;
    this.maxConnections = config.maxConnections;
    this.tls = tls;
    this.protocol = config.protocol ?? 'http1';
    this.dispatcher = createDispatcher(host, formatListenAddress({ host, port }), config.maxConnections, timeouts, tls);
    this.health = initialHealth(now);
  }

  /** Whether `config` names this backend's connection pool as it is (a reload may then keep it, with its health). */
  sameEndpoint(config: BackendConfig, tls: BackendTls | null = null): boolean {
    const { host, port } = parseBackendAddress(config.address);
    return host === this.host && port === this.port && config.maxConnections === this.maxConnections && tls?.fingerprint === this.tls?.fingerprint && (config.protocol ?? 'http1') === this.protocol;
  }

  /** Whether one more request fits under its circuit breaker. */
  hasRoom(): boolean {
    return !this.skipped && this.inFlight < this.maxRequests;
  }

  /**
   * Whether active checks say it is up. Unlike a DNS target (fail-open), UNKNOWN does not
   * count: a backend is healthy only once a check passed, so /healthz never vouches for one
   * nobody has reached.
   */
  passedChecks(): boolean {
    return this.health.status === 'up';
  }

  isEjected(now: number): boolean {
    return this.ejectedUntil > now;
  }

  recordLatency(ms: number): void {
    this.latencyMs = this.latencyMs === 0 ? ms : this.latencyMs + EWMA_ALPHA * (ms - this.latencyMs);
  }

  countStatus(status: number): void {
    if (status >= 500) this.responses5xx++;
    else if (status >= 400) this.responses4xx++;
    else if (status >= 300) this.responses3xx++;
    else this.responses2xx++;
  }
}
