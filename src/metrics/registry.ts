/**
 * The Prometheus registry (issue #5). Every meridian_ metric fills itself, when scraped,
 * from plain counters (QueryStats, the answer cache, the health monitor): the data plane
 * never calls prom-client.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import { nameKey, type Name } from '../dns/name.js';
import type { GeoDbInfo } from '../geoip/geo-database.js';
import type { HealthMonitor } from '../health/health-monitor.js';
import { isHealthy } from '../health/state-machine.js';
import type { FailureReason } from '../health/types.js';
import type { FileProblem } from '../problems/types.js';
import type { QueryStats } from './query-stats.js';
import { precountedHistogram } from './precounted-histogram.js';
import { selfFillingMetrics } from './self-filling.js';

/**
 * What the registry reads of one zone file's status (control/zone-directory.ts ZoneFileStatus,
 * which has more): metrics sits below the control plane, so it names only what it reads.
 */
export interface ZoneFileMetrics {
  readonly file: string;
  readonly origin: Name;
  /** The zone version served, if any. */
  readonly zone: { readonly serial: number } | null;
  readonly problems: readonly { readonly severity: FileProblem['severity'] }[];
  readonly loadedAt: Date | null;
}

/** What the registry reads of a cache of the data plane (src/answer): plain counters, so metrics imports none of it. */
export interface CacheCounters {
  readonly hits: number;
  readonly misses: number;
  readonly size: number;
}

export interface MetricsSources {
  readonly queryStats: QueryStats;
  /** The encoded-answer cache. */
  readonly cache: CacheCounters;
  /** The steering decision cache (issue #7); absent in tests that do not have one. */
  readonly decisions?: CacheCounters;
  /** null when nothing is probed: the health metrics are then left out. */
  readonly health: HealthMonitor | null;
  /** Left out in a DNS worker, which numbers its snapshots itself. */
  readonly snapshotVersion?: () => number;
  /** meridian_build_info's labels; left out when absent. */
  readonly build?: { readonly version: string; readonly node: string };
  /** The zones folder (ZoneDirectory), read at scrape time for the per-zone reload metrics. */
  readonly zones?: { readonly statuses: readonly ZoneFileMetrics[]; loadErrors(file: string): number };
  /** The open GeoIP databases, read at each scrape (a reload changes them). */
  readonly geoDatabases?: () => readonly GeoDbInfo[];
  /** Cluster mode: this node's link to the cluster store; absent on a single node. */
  readonly cluster?: () => { readonly connected: boolean; readonly synced: boolean; readonly revision: number; readonly since: number };
  /** The native UDP layer's counters (DnsServer.udpCounters); null on node:dgram, absent where no server answers. */
  readonly udpNative?: () => NativeUdpDrops | null;
  /** Internet-facing protection (Responder.protection): each part's counters, when it is on. */
  readonly protection?: {
    readonly cookies: { readonly clientOnly: number; readonly valid: number; readonly invalid: number } | null;
    readonly rrl: { readonly passed: number; readonly dropped: number; readonly slipped: number } | null;
    readonly queryLog: { readonly written: number; readonly dropped: number } | null;
  };
  /** The online DNSSEC signer (Responder.dnssec); null or absent when no zone is signed. */
  readonly dnssec?: { readonly signatures: number; readonly size: number } | null;
}

/** What the native UDP layer's sockets have counted (src/server/native-udp.ts, NativeUdpCounters). */
export interface NativeUdpDrops {
  readonly truncated: number;
  readonly sendErrors: number;
  readonly badLengths: number;
  readonly recvErrors: number;
  readonly sendWaits: number;
}

export interface MetricsRegistryOptions {
  /** Add prom-client's default process and Node.js metrics (process_*, nodejs_*). Default true. */
  readonly defaultMetrics?: boolean;
}

/** A fresh registry (never prom-client's global one); serve `registry.metrics()` with `registry.contentType`. */
export function createMetricsRegistry(src: MetricsSources, options: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const { counter, gauge, unlabelled } = selfFillingMetrics(registry);

  const stats = src.queryStats;
  counter('meridian_dns_queries_total', 'DNS queries answered, by zone, query type and response code', ['zone', 'type', 'rcode'], (set) =>
    stats.forEachQuery((zone, type, rcode, n) => set({ zone: zoneLabel(zone), type, rcode }, n)),
  );
  registry.registerMetric(
    precountedHistogram('meridian_dns_query_duration_seconds', 'time to answer one DNS query, from packet in to answer built', () => [{ labels: {}, histogram: stats.latency() }]),
  );
  counter(
    'meridian_dns_dropped_total',
    'packets dropped without an answer (responses, runts, unreadable headers)',
    [],
    unlabelled(() => stats.dropped),
  );
  const udpNative = src.udpNative;
  if (udpNative !== undefined) {
    counter(
      'meridian_dns_udp_native_dropped_total',
      'datagrams the native UDP layer dropped: longer than 4096 octets (truncated), answers the kernel refused (send_error), answer lengths out of range (bad_length), failed reads (recv_error)',
      ['reason'],
      (set) => {
        const c = udpNative();
        if (c === null) return;
        set({ reason: 'truncated' }, c.truncated);
        set({ reason: 'send_error' }, c.sendErrors);
        set({ reason: 'bad_length' }, c.badLengths);
        set({ reason: 'recv_error' }, c.recvErrors);
      },
    );
    counter(
      'meridian_dns_udp_native_send_waits_total',
      'times the native UDP layer found its send buffer full and waited to write (nothing dropped)',
      [],
      unlabelled(() => udpNative()?.sendWaits ?? 0),
    );
  }

  const cache = src.cache;
  counter(
    'meridian_answer_cache_hits_total',
    'answers served from the encoded-answer cache',
    [],
    unlabelled(() => cache.hits),
  );
  counter(
    'meridian_answer_cache_misses_total',
    'answers that had to be resolved and encoded',
    [],
    unlabelled(() => cache.misses),
  );
  gauge(
    'meridian_answer_cache_entries',
    'encoded answers held for the current snapshot',
    [],
    unlabelled(() => cache.size),
  );
  const decisions = src.decisions;
  if (decisions !== undefined) {
    counter(
      'meridian_decision_cache_hits_total',
      'steering decisions served from the decision cache (no GeoIP lookup, no filter chain)',
      [],
      unlabelled(() => decisions.hits),
    );
    counter(
      'meridian_decision_cache_misses_total',
      'steering decisions made afresh',
      [],
      unlabelled(() => decisions.misses),
    );
    gauge(
      'meridian_decision_cache_entries',
      'steering decisions held for the current snapshot',
      [],
      unlabelled(() => decisions.size),
    );
  }

  counter('meridian_steered_answers_total', 'steering decisions that answered with the target', ['target', 'region'], (set) => stats.forEachAnswer((target, region, n) => set({ target, region }, n)));
  counter('meridian_fail_open_total', 'steering decisions made while every target of the name was down, by what the policy did (whenAllDown)', ['name', 'action'], (set) =>
    stats.forEachFailOpen((name, action, n) => set({ name: `${name}.`, action }, n)),
  );

  const health = src.health;
  if (health !== null) {
    counter(
      'meridian_health_probes_total',
      'health probes run',
      [],
      unlabelled(() => health.counters.probes),
    );
    counter(
      'meridian_health_probe_failures_total',
      'health probes that failed',
      [],
      unlabelled(() => health.counters.failures),
    );
    counter(
      'meridian_health_transitions_total',
      'health status transitions (unknown, up, down)',
      [],
      unlabelled(() => health.counters.transitions),
    );
    gauge('meridian_health_target_up', '1 when answers may use the target (probe status and operator override), else 0', ['target', 'region', 'forced'], (set) => {
      for (const [key, { target, health: h }] of health.states()) set({ target: key, region: target.region, forced: h.forced ?? '' }, isHealthy(h) ? 1 : 0);
    });
    counter('meridian_probes_total', 'health probes run, by target and probe type', ['target', 'probe'], (set) => {
      for (const [target, c] of health.probeCounts) set({ target, probe: c.probe }, c.runs);
    });
    counter('meridian_probe_failures_total', 'health probes that failed, by target, probe type and reason', ['target', 'probe', 'reason'], (set) => {
      for (const [target, c] of health.probeCounts) for (const [reason, n] of c.failures) set({ target, probe: c.probe, reason: probeFailureLabel(reason) }, n);
    });
    gauge('meridian_health_probe_rtt_seconds', 'smoothed probe round-trip time (EWMA), once a probe has answered', ['target'], (set) => {
      for (const [key, { health: h }] of health.states()) if (h.rttMs !== null) set({ target: key }, h.rttMs / 1000);
    });
  }

  const dnssec = src.dnssec ?? null;
  if (dnssec !== null) {
    counter(
      'meridian_dnssec_signatures_total',
      'RRSIGs made by the online signer (a cached answer or a cached signature costs none)',
      [],
      unlabelled(() => dnssec.signatures),
    );
    gauge(
      'meridian_dnssec_signature_cache_entries',
      'RRset signatures kept for reuse',
      [],
      unlabelled(() => dnssec.size),
    );
  }

  const { cookies, rrl, queryLog } = src.protection ?? { cookies: null, rrl: null, queryLog: null };
  if (cookies !== null) {
    counter('meridian_dns_cookies_total', 'queries with a DNS cookie, by what it was (RFC 7873)', ['cookie'], (set) => {
      set({ cookie: 'client_only' }, cookies.clientOnly);
      set({ cookie: 'valid' }, cookies.valid);
      set({ cookie: 'invalid' }, cookies.invalid);
    });
  }
  if (rrl !== null) {
    counter('meridian_rrl_responses_total', 'UDP answers counted by response rate limiting, by what it did (sent, dropped, sent truncated or BADCOOKIE)', ['action'], (set) => {
      set({ action: 'pass' }, rrl.passed);
      set({ action: 'drop' }, rrl.dropped);
      set({ action: 'slip' }, rrl.slipped);
    });
  }
  if (queryLog !== null) {
    counter('meridian_query_log_lines_total', 'query log lines written, and dropped because the sink was behind or failing', ['outcome'], (set) => {
      set({ outcome: 'written' }, queryLog.written);
      set({ outcome: 'dropped' }, queryLog.dropped);
    });
  }

  const build = src.build;
  if (build !== undefined) gauge('meridian_build_info', 'always 1; the labels say which meridian and Node.js run', ['version', 'node'], (set) => set(build, 1));

  const zones = src.zones;
  if (zones !== undefined) {
    // read at scrape time: the reload path only bumps the error count
    const label = (s: ZoneFileMetrics): string => (s.origin.length === 0 ? '.' : `${nameKey(s.origin)}.`);
    gauge('meridian_zone_serial', 'SOA serial of the zone version being served (absent while none is)', ['zone'], (set) => {
      for (const s of zones.statuses) if (s.zone !== null) set({ zone: label(s) }, s.zone.serial);
    });
    gauge('meridian_zone_last_reload_success', '1 when the last load of the zone file succeeded; 0 when it failed and an older version (or nothing) is served', ['zone'], (set) => {
      for (const s of zones.statuses) set({ zone: label(s) }, s.problems.some((p) => p.severity === 'error') ? 0 : 1);
    });
    gauge('meridian_zone_last_reload_timestamp_seconds', 'when the zone version being served was loaded (Unix time)', ['zone'], (set) => {
      for (const s of zones.statuses) if (s.loadedAt !== null) set({ zone: label(s) }, s.loadedAt.getTime() / 1000);
    });
    counter('meridian_zone_reload_errors_total', 'loads of the zone file that failed (its previous version, if any, kept serving)', ['zone'], (set) => {
      for (const s of zones.statuses) set({ zone: label(s) }, zones.loadErrors(s.file));
    });
  }

  const geo = src.geoDatabases;
  if (geo !== undefined) {
    gauge('meridian_geoip_build_timestamp_seconds', 'build time of each open GeoIP database, from its metadata (Unix time)', ['database'], (set) => {
      for (const db of geo()) set({ database: db.label }, db.buildEpoch.getTime() / 1000);
    });
  }

  const cluster = src.cluster;
  if (cluster !== undefined) {
    gauge(
      'meridian_cluster_connected',
      'cluster mode: 1 while connected to a NATS server',
      [],
      unlabelled(() => (cluster().connected ? 1 : 0)),
    );
    gauge(
      'meridian_cluster_synced',
      'cluster mode: 1 while in step with the cluster store (writes taken); 0: serving the last state, writes refused',
      [],
      unlabelled(() => (cluster().synced ? 1 : 0)),
    );
    gauge(
      'meridian_cluster_revision',
      'cluster mode: the highest store revision this node has seen',
      [],
      unlabelled(() => cluster().revision),
    );
    gauge(
      'meridian_cluster_synced_change_seconds',
      'cluster mode: when meridian_cluster_synced last changed (seconds since the epoch)',
      [],
      unlabelled(() => cluster().since / 1000),
    );
  }
  const version = src.snapshotVersion;
  if (version !== undefined) gauge('meridian_snapshot_version', 'version of the snapshot being served', [], unlabelled(version));
  return registry;
}

/**
 * A probe's failure reason as the metric's label: a fixed set, in Prometheus label style, so
 * dashboards can group on it (timeout, refused, reset, unreachable, tls, http_status,
 * body_mismatch, slow, invalid_response, balancer_down, other).
 */
export function probeFailureLabel(reason: FailureReason): string {
  return PROBE_FAILURE_LABELS[reason];
}

const PROBE_FAILURE_LABELS: Readonly<Record<FailureReason, string>> = {
  timeout: 'timeout',
  refused: 'refused',
  reset: 'reset',
  unreachable: 'unreachable',
  tls: 'tls',
  status: 'http_status',
  body: 'body_mismatch',
  slow: 'slow',
  'invalid-response': 'invalid_response',
  'balancer-down': 'balancer_down',
  error: 'other',
};

/** Zone origin key → label: "example.com." ("" stays "": the query matched no zone). */
function zoneLabel(zoneKey: string): string {
  return zoneKey === '' ? '' : `${zoneKey}.`;
}
