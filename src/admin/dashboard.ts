/**
 * What the status page shows, as JSON (GET /v1/dashboard): every region and target with its
 * health and its share of steered answers over the last minutes, and the answer a client on
 * each continent gets now. That last part runs the same decide() the data plane runs, for a
 * real address the GeoIP database places on each continent (GeoDatabase.continentSamples),
 * located as the data plane locates it: the policy, the database and the health of this very
 * moment, as a client there gets them (a country-only database places it at its country's
 * centroid). A continent the database has no address for is shown as such.
 */
import { CONTINENT_NAMES } from '../geoip/continents.js';
import type { HealthMonitor } from '../health/health-monitor.js';
import { isHealthy } from '../health/state-machine.js';
import { steeringEnv, type Snapshot } from '../snapshot/snapshot.js';
import { decide } from '../steer/decide.js';
import type { SteeredName, Target } from '../steer/types.js';
import type { ContinentSample } from '../geoip/geo-database.js';
import { validAddress } from '../net/ip-parse.js';
import { nameToText } from '../dns/name.js';
import type { WindowCounts } from './answer-window.js';
import type { SharedStoreState } from '../cluster/types.js';

/** Steered names shown per continent at most: the page stays readable and cheap to build. */
const MAX_NAMES = 50;
/** Decisions per (name, continent), each with an evenly spaced random draw, so weighted splits show as shares. */
const DRAWS = 20;

export interface DashboardTarget {
  readonly key: string;
  readonly id: string;
  readonly zone: string;
  readonly state: string;
  /** false for a target without a probe: it stays "unknown" and counts as up unless drained. */
  readonly probed: boolean;
  readonly forced: string | null;
  /** Whether answers may use it now: probe state, operator override and the policy's `enabled`. */
  readonly healthy: boolean;
  readonly reason: string | null;
  readonly since: string;
  readonly rttMs: number | null;
  readonly answers: number;
  /** Fraction of all steered answers in the window, 0..1. */
  readonly share: number;
  /** Answers per bucket of the window, oldest first. */
  readonly perBucket: readonly number[];
}

export interface DashboardRegion {
  readonly region: string;
  /** "up" (all targets healthy), "degraded" (some) or "down" (none). */
  readonly state: 'up' | 'degraded' | 'down';
  readonly answers: number;
  readonly share: number;
  readonly targets: readonly DashboardTarget[];
}

export interface ContinentAnswer {
  readonly continent: string;
  readonly continentName: string;
  /** The sample client, e.g. "8.29.109.114 (NG)", or why there is none. */
  readonly client: string;
  /** Its address; null when the database places no address on the continent. */
  readonly address: string | null;
  /** 'no-client': the database has no address on this continent (no answers then). */
  readonly outcome: 'answer' | 'nodata' | 'servfail' | 'no-client';
  /** The answers seen over the draws, most frequent first, with their share of the draws. */
  readonly answers: ReadonlyArray<{ readonly targets: readonly string[]; readonly regions: readonly string[]; readonly addresses: readonly string[]; readonly share: number }>;
  readonly allDown: boolean;
}

/** This node's link to the cluster store (cluster mode), as /v1/status has it, and the other nodes it hears from. */
export interface DashboardCluster {
  readonly node: string;
  readonly servers: readonly string[];
  /** 'in-step': writes are taken; 'catching-up': connected, reading the store again; 'cut-off': no NATS server. */
  readonly link: 'in-step' | 'catching-up' | 'cut-off';
  readonly connected: boolean;
  readonly synced: boolean;
  /** When `synced` last changed: cut off (or back in step) since then. */
  readonly since: string;
  /** Whether admin writes (zones, drains, latency) are taken here; refused with 503 while not in step. */
  readonly writes: 'accepted' | 'refused';
  readonly revision: number;
  readonly lastError: string | null;
  /** The other nodes whose health reports this node holds; `counted`: young enough to count towards quorum. */
  readonly peers: ReadonlyArray<{ readonly node: string; readonly reportedAt: string; readonly ageSec: number; readonly counted: boolean }>;
}

/** What the dashboard needs of the cluster replica. */
export interface ClusterView {
  state(): SharedStoreState;
  peers(now?: number): ReadonlyArray<{ readonly node: string; readonly reportedAt: number; readonly counted: boolean }>;
}

export interface Dashboard {
  readonly generatedAt: string;
  /** null: one node, files only (no `cluster`). */
  readonly cluster: DashboardCluster | null;
  readonly snapshot: number;
  readonly window: { readonly since: string; readonly until: string; readonly bucketSec: number; readonly bucketStarts: readonly string[] };
  readonly totalAnswers: number;
  readonly regions: readonly DashboardRegion[];
  readonly names: ReadonlyArray<{ readonly name: string; readonly type: 'A' | 'AAAA'; readonly continents: readonly ContinentAnswer[] }>;
  readonly namesLeftOut: number;
}

export function buildDashboard(
  snapshot: Snapshot,
  monitor: HealthMonitor,
  window: WindowCounts,
  samples: ReadonlyMap<string, ContinentSample>,
  cluster: ClusterView | null = null,
  now = Date.now(),
): Dashboard {
  const totalAnswers = [...window.total.values()].reduce((n, v) => n + v.count, 0);
  const targets = targetsByKey(snapshot);
  const regions = new Map<string, DashboardTarget[]>();
  for (const [key, { target, health }] of monitor.states()) {
    const answers = window.total.get(key)?.count ?? 0;
    const policyTarget = targets.get(key);
    const row: DashboardTarget = {
      key,
      id: key.slice(key.lastIndexOf('/') + 1),
      zone: key.slice(0, key.lastIndexOf('/')) + '.',
      state: health.status,
      probed: target.probe !== null,
      forced: health.forced,
      healthy: policyTarget ? snapshot.isUp(policyTarget) : isHealthy(health),
      reason: !isHealthy(health) && health.lastFailure ? health.lastFailure.reason : policyTarget && !policyTarget.enabled ? 'disabled' : null,
      since: new Date(health.since).toISOString(),
      rttMs: health.rttMs === null ? null : Math.round(health.rttMs * 10) / 10,
      answers,
      share: totalAnswers === 0 ? 0 : answers / totalAnswers,
      perBucket: window.buckets.map((b) => b.counts.get(key) ?? 0),
    };
    const list = regions.get(target.region) ?? [];
    list.push(row);
    regions.set(target.region, list);
  }
  const steered = [...snapshot.steered.values()];
  return {
    generatedAt: new Date(now).toISOString(),
    cluster: cluster === null ? null : clusterRow(cluster, now),
    snapshot: snapshot.version,
    window: {
      since: new Date(window.since).toISOString(),
      until: new Date(window.until).toISOString(),
      bucketSec: window.buckets.length > 1 ? Math.round((window.buckets[1]!.start - window.buckets[0]!.start) / 1000) : 0,
      bucketStarts: window.buckets.map((b) => new Date(b.start).toISOString()),
    },
    totalAnswers,
    regions: [...regions].sort(([a], [b]) => a.localeCompare(b)).map(([region, list]) => regionRow(region, list, totalAnswers)),
    names: steered.slice(0, MAX_NAMES).map(({ name }) => continentAnswers(snapshot, name, samples, now)),
    namesLeftOut: Math.max(0, steered.length - MAX_NAMES),
  };
}

function clusterRow(cluster: ClusterView, now: number): DashboardCluster {
  const s = cluster.state();
  return {
    node: s.node,
    servers: [...s.servers],
    link: s.synced ? 'in-step' : s.connected ? 'catching-up' : 'cut-off',
    connected: s.connected,
    synced: s.synced,
    since: new Date(s.since).toISOString(),
    writes: s.synced ? 'accepted' : 'refused',
    revision: s.revision,
    lastError: s.lastError,
    peers: cluster.peers(now).map((p) => ({ node: p.node, reportedAt: new Date(p.reportedAt).toISOString(), ageSec: Math.max(0, Math.round((now - p.reportedAt) / 1000)), counted: p.counted })),
  };
}

function regionRow(region: string, targets: DashboardTarget[], totalAnswers: number): DashboardRegion {
  const healthy = targets.filter((t) => t.healthy).length;
  const answers = targets.reduce((n, t) => n + t.answers, 0);
  return {
    region,
    state: healthy === targets.length ? 'up' : healthy === 0 ? 'down' : 'degraded',
    answers,
    share: totalAnswers === 0 ? 0 : answers / totalAnswers,
    targets: targets.sort((a, b) => a.key.localeCompare(b.key)),
  };
}

/** Every policy target by key (a target's `enabled` lives in the policy, not in the monitor). */
function targetsByKey(snapshot: Snapshot): Map<string, Target> {
  const out = new Map<string, Target>();
  for (const { name } of snapshot.steered.values()) for (const t of name.targets) out.set(t.key, t);
  return out;
}

function continentAnswers(snapshot: Snapshot, name: SteeredName, samples: ReadonlyMap<string, ContinentSample>, now: number): { name: string; type: 'A' | 'AAAA'; continents: ContinentAnswer[] } {
  // A for names with IPv4 targets, else AAAA: the page shows the family the name is used with.
  const family: 4 | 6 = name.targets.some((t) => t.ipv4.length > 0) ? 4 : 6;
  const continents = Object.keys(CONTINENT_NAMES).map((code): ContinentAnswer => {
    const continentName = CONTINENT_NAMES[code] ?? code;
    const sample = samples.get(code);
    const a = sample === undefined ? null : validAddress(sample.address);
    if (sample === undefined || a === null) {
      return { continent: code, continentName, client: 'no address on this continent in the GeoIP database', address: null, outcome: 'no-client', answers: [], allDown: false };
    }
    // As the data plane sees a resolver at that address (no ECS).
    const client = snapshot.locate(a.address, a.family, a.family === 4 ? 32 : 128, false);
    const seen = new Map<string, { targets: Target[]; count: number }>();
    let outcome: ContinentAnswer['outcome'] = 'answer';
    let allDown = false;
    for (let i = 0; i < DRAWS; i++) {
      const draw = (i + 0.5) / DRAWS;
      const d = decide(
        name,
        family,
        client,
        steeringEnv(snapshot, () => draw, now),
      );
      outcome = d.outcome;
      allDown ||= d.allDown;
      const key = d.targets.map((t) => t.id).join(',');
      const entry = seen.get(key) ?? { targets: [...d.targets], count: 0 };
      entry.count++;
      seen.set(key, entry);
    }
    const answers = [...seen.values()]
      .sort((a, b) => b.count - a.count)
      .map((e) => ({
        targets: e.targets.map((t) => t.id),
        regions: [...new Set(e.targets.map((t) => t.region))],
        addresses: e.targets.flatMap((t) => (family === 4 ? t.ipv4 : t.ipv6)),
        share: e.count / DRAWS,
      }));
    return { continent: code, continentName, client: `${a.address} (${sample.country ?? code})`, address: a.address, outcome, answers, allDown };
  });
  return { name: nameToText(name.owner), type: family === 4 ? 'A' : 'AAAA', continents };
}
