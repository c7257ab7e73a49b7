/**
 * The honest failover budget (issue #20 item 5): the worst case, derived from what the
 * scheduler in health-monitor.ts does, from the moment a target fails to the moment the
 * last resolver drops the answer that still names it.
 *
 * Worst phase: the target fails just after a probe started, and that probe still passes.
 * Each next probe starts `interval` s + up to `jitter` ms after the previous one started
 * (nextDue = started + interval + rand × jitter), and the timeout is shorter than the
 * interval, so probes never overlap. The `fall`-th failing probe starts at most
 * fall × (interval + jitter) after the failure and fails at most `timeout` later (one
 * deadline covers connect, request and answer). The state change publishes a snapshot
 * in the same callback (no debounce), so answers change at once. An answer given just
 * before carried the name's `ttl`: downTtl applies only while a target is already down,
 * so it never shortens the first failover, but it bounds how long resolvers keep the
 * degraded answer after the target comes back (recovery, with `rise`).
 *
 *   failover = fall × (interval + jitter) + timeout + ttl
 *   recovery = rise × (interval + jitter) + timeout + min(ttl, downTtl)
 *
 * Assumes the `health.concurrency` cap is not saturated (a probe waiting for a slot starts late).
 */
import { nameToText, type Name } from '../dns/name.js';
import type { FileProblem, SourcePos } from '../problems/types.js';
import type { FailoverBound, ProbeSpec } from './types.js';

export type { FailoverBound } from './types.js';

/** The worst case for one probe spec and a name's TTLs. */
export function failoverBound(probe: Pick<ProbeSpec, 'fall' | 'rise' | 'intervalSec' | 'jitterMs' | 'timeoutMs'>, ttl: number, downTtl: number | null): FailoverBound {
  const jitterSec = probe.jitterMs / 1000;
  const timeoutSec = probe.timeoutMs / 1000;
  const step = probe.intervalSec + jitterSec;
  const detectSec = probe.fall * step + timeoutSec;
  const recoverDetectSec = probe.rise * step + timeoutSec;
  const downTtlSec = downTtl === null ? ttl : Math.min(ttl, downTtl);
  return {
    fall: probe.fall,
    rise: probe.rise,
    intervalSec: probe.intervalSec,
    jitterSec,
    timeoutSec,
    ttlSec: ttl,
    downTtlSec,
    detectSec,
    failoverSec: detectSec + ttl,
    recoverDetectSec,
    recoverySec: recoverDetectSec + downTtlSec,
  };
}

/** The slower of two bounds (by failover, then recovery); a name's worst case is its slowest probed target's. */
export function slowerBound(a: FailoverBound | null, b: FailoverBound): FailoverBound {
  if (a === null) return b;
  if (b.failoverSec !== a.failoverSec) return b.failoverSec > a.failoverSec ? b : a;
  return b.recoverySec > a.recoverySec ? b : a;
}

const s = (x: number): string => `${Number(x.toFixed(3))} s`;

/** "failover ≤ 2 × (1 s interval + 0.25 s jitter) + 0.3 s timeout + 5 s ttl = 7.8 s; recovery ≤ …" */
export function describeBound(b: FailoverBound): string {
  const step = `(${s(b.intervalSec)} interval + ${s(b.jitterSec)} jitter) + ${s(b.timeoutSec)} timeout`;
  return `failover ≤ ${b.fall} fall × ${step} + ${s(b.ttlSec)} ttl = ${s(b.failoverSec)}; ` + `recovery ≤ ${b.rise} rise × ${step} + ${s(b.downTtlSec)} min(ttl, downTtl) = ${s(b.recoverySec)}`;
}

/** The largest term of a failover bound, named by its policy field, so a warning says what to shrink. */
function largestTerm(b: FailoverBound): string {
  const terms: Array<[string, number]> = [
    ['ttl', b.ttlSec],
    ['probe interval × fall', b.fall * b.intervalSec],
    ['probe jitter × fall', b.fall * b.jitterSec],
    ['probe timeout', b.timeoutSec],
  ];
  const [field, sec] = terms.reduce((m, t) => (t[1] > m[1] ? t : m));
  return `the largest term is ${field} (${Number(sec.toFixed(3))} s)`;
}

/**
 * What failoverWarnings reads of a zone (zone/zone.ts Zone and its steered names): zones
 * sit above health (src/README.md "Layers"), so health names only what it reads.
 */
export interface ZoneWithBounds {
  readonly steered: ReadonlyMap<string, { readonly owner: Name; readonly failover: FailoverBound | null; readonly source: SourcePos }>;
}

/** Warns, at the policy's file:line, about steered names whose worst-case failover is over the budget (issue #20). */
export function failoverWarnings(zones: ReadonlyMap<string, ZoneWithBounds>, budgetSec: number): FileProblem[] {
  const out: FileProblem[] = [];
  for (const zone of zones.values()) {
    for (const name of zone.steered.values()) {
      const b = name.failover;
      if (b !== null && b.failoverSec > budgetSec) {
        out.push({
          ...name.source,
          severity: 'warning',
          message:
            `${nameToText(name.owner)} may take ${b.failoverSec.toFixed(1)} s to fail over, over the ${budgetSec} s budget (health.failoverBudgetSec); ` + `${largestTerm(b)}: ${describeBound(b)}`,
        });
      }
    }
  }
  return out;
}
