/**
 * Health probing (issue #4): what a probe is, what it reports, and the per-target state.
 * Probes report raw pass/fail with a reason; the state machine (state-machine.ts) alone
 * owns anti-flap thresholds, as in gdnsd.
 */
import type { ConnectionOptions } from 'node:tls';

/** Status ranges such as [200, 299]. */
export type StatusRange = readonly [number, number];

interface ProbeCommon {
  /** Address to probe; when absent, the target's first IPv4 (else IPv6) address. */
  readonly address?: string;
  readonly port: number;
  /** Seconds between probes (>= 1; the scheduler ticks every second). */
  readonly intervalSec: number;
  /** A probe that takes longer fails with reason "timeout". */
  readonly timeoutMs: number;
  /** Consecutive successes to go up. */
  readonly rise: number;
  /** Consecutive failures to go down. */
  readonly fall: number;
  /** Up to this many ms are added at random to each interval, so probes do not march in step. */
  readonly jitterMs: number;
}

export interface HttpProbeSpec extends ProbeCommon {
  readonly type: 'http' | 'https';
  readonly method: string;
  readonly path: string;
  /** Host header; default the probe address. */
  readonly host?: string;
  /** TLS server name (https); default `host`, else none for an IP address. */
  readonly sni?: string;
  /** Expected status ranges; default [[200, 399]]. */
  readonly expect: readonly StatusRange[];
  /** A regular expression the body must match (the first 64 KiB are read). */
  readonly bodyMatch?: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Check the server certificate (https). On by default. */
  readonly verifyTls: boolean;
  /** CAs and client certificate for https (the L7 balancer's backend TLS); absent: the system CAs, no client certificate. */
  readonly tlsMaterial?: Readonly<Pick<ConnectionOptions, 'ca' | 'cert' | 'key'>>;
  /** A response slower than this (but within the timeout) fails with reason "slow". */
  readonly slowMs?: number;
}

export interface TcpProbeSpec extends ProbeCommon {
  readonly type: 'tcp';
}

/**
 * The regional L7 balancer's own health endpoint (issue #6): GET `path` (default /healthz)
 * returning JSON `{ "up": bool, "healthy": n, "total": n, "capacity": 0..1, "draining": bool }`.
 * Up when `up` is true and not draining; `capacity` (else healthy/total) scales the
 * region's weight.
 */
export interface BalancerProbeSpec extends ProbeCommon {
  readonly type: 'balancer';
  readonly path: string;
  readonly https: boolean;
  readonly verifyTls: boolean;
}

export type ProbeSpec = HttpProbeSpec | TcpProbeSpec | BalancerProbeSpec;

export type FailureReason = 'timeout' | 'refused' | 'unreachable' | 'tls' | 'status' | 'body' | 'slow' | 'reset' | 'invalid-response' | 'balancer-down' | 'error';

export interface ProbeResult {
  readonly ok: boolean;
  /** Why it failed; null when ok. */
  readonly reason: FailureReason | null;
  /** Human detail: "HTTP 503 (expected 200-399)", "connect ECONNREFUSED 127.0.0.2:8080". */
  readonly detail: string;
  /** Round-trip time of the probe in ms, when it got an answer. */
  readonly rttMs: number | null;
  /** Remaining capacity 0..1 reported by a balancer probe; null for other types. */
  readonly capacity: number | null;
  /** When the probe finished (ms since the epoch). */
  readonly at: number;
}

/** Runs one probe against one address; never rejects. */
export type Prober = (spec: ProbeSpec, address: string, signal: AbortSignal) => Promise<ProbeResult>;

/**
 * One target to watch: `key` is stable across reloads ("example.com/eu-west"). Targets
 * without a probe are kept too (never probed, UNKNOWN = up), so operators can drain them.
 */
export interface MonitoredTarget {
  readonly key: string;
  readonly region: string;
  readonly address: string;
  readonly probe: ProbeSpec | null;
}

/** Every term in seconds, so `check` can print where the time goes. */
export interface FailoverBound {
  readonly fall: number;
  readonly rise: number;
  readonly intervalSec: number;
  /** The jitter in effect (the policy's, capped at half the interval). */
  readonly jitterSec: number;
  readonly timeoutSec: number;
  /** TTL of an answer given while every target was up. */
  readonly ttlSec: number;
  /** TTL of the degraded answer, given while a target is down: min(ttl, downTtl). */
  readonly downTtlSec: number;
  /** Failure to the last DNS answer naming the target: fall × (interval + jitter) + timeout. */
  readonly detectSec: number;
  /** detectSec + ttl: until the last resolver drops the old answer. */
  readonly failoverSec: number;
  /** Recovery to the first answer naming it again: rise × (interval + jitter) + timeout. */
  readonly recoverDetectSec: number;
  /** recoverDetectSec + min(ttl, downTtl). */
  readonly recoverySec: number;
}
