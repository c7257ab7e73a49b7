/**
 * Balancer probe (issue #6): the regional L7 balancer reports its own pool, and its
 * `capacity` (else healthy/total) scales the region's weight.
 */
import type { BalancerProbeSpec, ProbeResult } from '../types.js';
import { ProbeFailure, failure, success, type ProbeContext } from './guard.js';
import { readBody, sendRequest } from './request.js';

export interface BalancerReport {
  readonly up: boolean;
  readonly healthy: number;
  readonly total: number;
  readonly capacity?: number;
  readonly draining?: boolean;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** Validates the balancer's JSON; throws an "invalid-response" failure naming the bad field. */
export function parseReport(text: string): BalancerReport {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ProbeFailure('invalid-response', `invalid JSON: ${(err as Error).message}`);
  }
  const invalid = (what: string): ProbeFailure => new ProbeFailure('invalid-response', `invalid balancer report: ${what}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('not a JSON object');
  const r = value as Record<string, unknown>;
  if (typeof r.up !== 'boolean') throw invalid('"up" must be a boolean');
  if (!isCount(r.healthy)) throw invalid('"healthy" must be a number >= 0');
  if (!isCount(r.total)) throw invalid('"total" must be a number >= 0');
  if (r.capacity !== undefined && (typeof r.capacity !== 'number' || !Number.isFinite(r.capacity))) {
    throw invalid('"capacity" must be a number');
  }
  if (r.draining !== undefined && typeof r.draining !== 'boolean') throw invalid('"draining" must be a boolean');
  return {
    up: r.up,
    healthy: r.healthy,
    total: r.total,
    ...(r.capacity !== undefined && { capacity: r.capacity }),
    ...(r.draining !== undefined && { draining: r.draining }),
  };
}

/** capacity, else healthy/total (0 when there is no pool), clamped to 0..1. */
export function reportCapacity(report: BalancerReport): number {
  const raw = report.capacity ?? (report.total > 0 ? report.healthy / report.total : 0);
  return Math.min(1, Math.max(0, raw));
}

export async function probeBalancer(ctx: ProbeContext, spec: BalancerProbeSpec, address: string): Promise<ProbeResult> {
  const res = await sendRequest(ctx, {
    tls: spec.https,
    address,
    port: spec.port,
    method: 'GET',
    path: spec.path,
    servername: address,
    verifyTls: spec.verifyTls,
    headers: { accept: 'application/json' },
  });
  if (res.status !== 200) return failure('status', `HTTP ${res.status}, expected 200`, res.rttMs);
  const body = await readBody(res.message);
  if (body.truncated) return failure('invalid-response', 'balancer report larger than 64 KiB', res.rttMs);
  const report = parseReport(body.text);
  const rttMs = ctx.elapsed();
  const capacity = reportCapacity(report);
  const pool = `healthy ${report.healthy}/${report.total}${report.draining ? ', draining' : ''}`;
  // A balancer that is down, draining, or has nothing healthy gets no traffic: capacity 0.
  if (!report.up) return failure('balancer-down', `balancer reports down (${pool})`, rttMs, 0);
  if (report.draining) return failure('balancer-down', `balancer is draining (${pool})`, rttMs, 0);
  if (report.healthy === 0 || capacity === 0) return failure('balancer-down', `balancer has no capacity (${pool})`, rttMs, 0);
  return success(`balancer up (${pool}, capacity ${capacity})`, rttMs, capacity);
}
