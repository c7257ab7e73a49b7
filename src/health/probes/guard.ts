/**
 * Shared probe plumbing: the overall deadline, the caller's abort signal, socket cleanup,
 * and the mapping from socket errors to failure reasons. Every probe runs inside `guarded`,
 * so no probe can reject, outlive its timeout, or leave a socket open.
 */
import type { FailureReason, ProbeResult, ProbeSpec } from '../types.js';

export const USER_AGENT = 'meridian-health/0.1';
/** Bodies are read up to this size: enough for a health page, bounded against huge ones. */
export const BODY_LIMIT = 64 * 1024;

/** What the probe was waiting for, so a timeout can say where it got stuck. */
export type Phase = 'connect' | 'TLS' | 'headers' | 'body';

/** A classified failure; thrown inside a probe, turned into a ProbeResult by `guarded`. */
export class ProbeFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    detail: string,
    readonly rttMs: number | null = null,
    readonly capacity: number | null = null,
  ) {
    super(detail);
  }
}

export interface ProbeContext {
  /** Aborted on timeout, on the caller's abort, and when the probe settles. */
  readonly signal: AbortSignal;
  /** performance.now() when the probe started. */
  readonly started: number;
  phase: Phase;
  /** Destroys `handle` once the probe settles (or right away if it already has). */
  own(handle: { destroy(): unknown }): void;
  /** Milliseconds since the start, rounded to 0.1 ms. */
  elapsed(): number;
}

export function success(detail: string, rttMs: number, capacity: number | null = null): ProbeResult {
  return { ok: true, reason: null, detail, rttMs, capacity, at: Date.now() };
}

export function failure(reason: FailureReason, detail: string, rttMs: number | null = null, capacity: number | null = null): ProbeResult {
  return { ok: false, reason, detail, rttMs, capacity, at: Date.now() };
}

/**
 * Runs `probe` under the spec's timeout and the caller's signal. Whichever comes first wins:
 * the probe's own result, the deadline ("timeout"), or the caller's abort ("error"/"aborted").
 * Afterwards the internal signal is aborted so everything the probe `own`s is destroyed.
 */
export async function guarded(spec: ProbeSpec, signal: AbortSignal, probe: (ctx: ProbeContext) => Promise<ProbeResult>): Promise<ProbeResult> {
  if (signal.aborted) return failure('error', 'aborted');
  const controller = new AbortController();
  const started = performance.now();
  const ctx: ProbeContext = {
    signal: controller.signal,
    started,
    phase: 'connect',
    own(handle) {
      if (controller.signal.aborted) handle.destroy();
      else controller.signal.addEventListener('abort', () => handle.destroy(), { once: true });
    },
    elapsed: () => Math.round((performance.now() - started) * 10) / 10,
  };
  // Registered before the probe starts, so it settles the race before sockets are destroyed.
  const stopped = new Promise<never>((_, reject) => {
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
  });
  const timer = setTimeout(() => {
    controller.abort(new ProbeFailure('timeout', `no answer within ${spec.timeoutMs} ms (waiting for ${ctx.phase})`));
  }, spec.timeoutMs);
  const onAbort = (): void => controller.abort(new ProbeFailure('error', 'aborted'));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([probe(ctx), stopped]);
  } catch (err) {
    return toFailure(err, ctx.phase);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    controller.abort(new ProbeFailure('error', 'probe finished'));
  }
}

const NETWORK_REASONS: Readonly<Record<string, FailureReason>> = {
  ECONNREFUSED: 'refused',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ENETDOWN: 'unreachable',
  ECONNRESET: 'reset', // also Node's "socket hang up"
  EPIPE: 'reset',
  ETIMEDOUT: 'timeout', // the kernel gave up on the connect before our deadline
};

/** OpenSSL verification codes (CERT_HAS_EXPIRED, DEPTH_ZERO_SELF_SIGNED_CERT, …) and Node's TLS errors. */
export const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/** Maps anything thrown by a probe to a failed ProbeResult. */
export function toFailure(err: unknown, phase: Phase): ProbeResult {
  if (err instanceof ProbeFailure) return failure(err.reason, err.message, err.rttMs, err.capacity);
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : '';
  const message = err instanceof Error ? err.message : String(err);
  const detail = code && !message.includes(code) ? `${code}: ${message}` : message;
  const network = NETWORK_REASONS[code];
  if (network) return failure(network, detail);
  // During the handshake any other error is a TLS problem (protocol mismatch, alert, …).
  if (TLS_CODE.test(code) || phase === 'TLS') return failure('tls', detail);
  return failure('error', detail || 'unknown error');
}
