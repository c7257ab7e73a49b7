/**
 * The one place that owns anti-flap (as gdnsd's core does): UNKNOWN → UP / DOWN through
 * rise and fall thresholds, with admin-forced states on top. Pure: (state, event) → state.
 */
import type { FailureReason, ProbeResult } from './types.js';

export type HealthStatus = 'unknown' | 'up' | 'down';
/** An operator's override: drain (forced down) or forced up. */
export type ForcedState = 'up' | 'down' | null;

export interface Transition {
  readonly at: number;
  readonly from: HealthStatus;
  readonly to: HealthStatus;
  /** What caused it: a probe reason, "rise", "restored", "forced up" … */
  readonly why: string;
}

export interface TargetHealth {
  readonly status: HealthStatus;
  readonly forced: ForcedState;
  /** Consecutive successes / failures of the current streak. */
  readonly successes: number;
  readonly failures: number;
  readonly lastResult: ProbeResult | null;
  /** Reason of the newest failure, kept while down so state says why. */
  readonly lastFailure: { readonly reason: FailureReason; readonly detail: string; readonly at: number } | null;
  /** When `status` last changed (ms since the epoch). */
  readonly since: number;
  /** Smoothed probe RTT (EWMA, α = 0.3), null until a probe answered. */
  readonly rttMs: number | null;
  /** Remaining capacity 0..1 from a balancer probe; null when unknown. */
  readonly capacity: number | null;
  /** Newest first, at most HISTORY entries. */
  readonly history: readonly Transition[];
  /** Set when the state was loaded from disk at start-up: its age then, in ms. */
  readonly restoredAgeMs: number | null;
}

export interface Thresholds {
  readonly rise: number;
  readonly fall: number;
}

const HISTORY = 20;
const RTT_ALPHA = 0.3;

export function initialHealth(now: number): TargetHealth {
  return { status: 'unknown', forced: null, successes: 0, failures: 0, lastResult: null, lastFailure: null, since: now, rttMs: null, capacity: null, history: [], restoredAgeMs: null };
}

/** Whether answers may use the target: forced states win; UNKNOWN counts as up (fail-open until the first result). */
export function isHealthy(h: TargetHealth): boolean {
  if (h.forced !== null) return h.forced === 'up';
  return h.status !== 'down';
}

/**
 * Applies one probe result. From UNKNOWN the first result decides at once, so start-up is
 * settled by one probe round; after that a change needs `rise` successes or `fall` failures
 * in a row.
 */
export function applyResult(h: TargetHealth, r: ProbeResult, t: Thresholds): TargetHealth {
  const successes = r.ok ? h.successes + 1 : 0;
  const failures = r.ok ? 0 : h.failures + 1;
  const rttMs = r.rttMs === null ? h.rttMs : h.rttMs === null ? r.rttMs : h.rttMs + RTT_ALPHA * (r.rttMs - h.rttMs);
  const lastFailure = r.ok ? h.lastFailure : { reason: r.reason ?? 'error', detail: r.detail, at: r.at };
  let status = h.status;
  let why = '';
  if (h.status === 'unknown') {
    status = r.ok ? 'up' : 'down';
    why = r.ok ? 'first probe passed' : `first probe failed: ${r.reason}: ${r.detail}`;
  } else if (h.status === 'down' && successes >= t.rise) {
    status = 'up';
    why = `${successes} probe(s) in a row passed (rise ${t.rise})`;
  } else if (h.status === 'up' && failures >= t.fall) {
    status = 'down';
    why = `${failures} probe(s) in a row failed (fall ${t.fall}), last: ${r.reason}: ${r.detail}`;
  }
  const base = { ...h, successes, failures, lastResult: r, lastFailure, rttMs, capacity: r.capacity ?? h.capacity };
  if (status === h.status) return base;
  return withTransition(base, status, why, r.at);
}

/** Drain (forced down), force up, or clear the override. */
export function force(h: TargetHealth, forced: ForcedState, now: number): TargetHealth {
  if (forced === h.forced) return h;
  const why = forced === null ? 'override cleared' : forced === 'down' ? 'drained by an operator' : 'forced up by an operator';
  return { ...h, forced, history: [{ at: now, from: h.status, to: h.status, why }, ...h.history].slice(0, HISTORY) };
}

function withTransition(h: TargetHealth, to: HealthStatus, why: string, at: number): TargetHealth {
  return { ...h, status: to, since: at, history: [{ at, from: h.status, to, why }, ...h.history].slice(0, HISTORY) };
}

/** A state loaded from disk: kept as it was, marked with its age, counters reset. */
export function restored(h: TargetHealth, now: number, savedAt: number): TargetHealth {
  return { ...h, successes: 0, failures: 0, restoredAgeMs: Math.max(0, now - savedAt) };
}
