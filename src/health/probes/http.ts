/** HTTP and HTTPS probes: status ranges, an optional body pattern, and a slow-answer threshold. */
import type { HttpProbeSpec, ProbeResult, StatusRange } from '../types.js';
import { failure, success, type ProbeContext } from './guard.js';
import { readBody, sendRequest } from './request.js';

/** "200-399" or "200, 204" for details. */
export function describeRanges(ranges: readonly StatusRange[]): string {
  return ranges.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(', ');
}

const DEFAULT_EXPECT: readonly StatusRange[] = [[200, 399]];

export async function probeHttp(ctx: ProbeContext, spec: HttpProbeSpec, address: string): Promise<ProbeResult> {
  let pattern: RegExp | null = null;
  if (spec.bodyMatch !== undefined) {
    try {
      pattern = new RegExp(spec.bodyMatch);
    } catch (err) {
      return failure('error', `invalid bodyMatch: ${(err as Error).message}`);
    }
  }
  const tls = spec.type === 'https';
  const res = await sendRequest(ctx, {
    tls,
    address,
    port: spec.port,
    method: spec.method,
    path: spec.path,
    host: spec.host,
    servername: spec.sni ?? spec.host,
    verifyTls: spec.verifyTls,
    ...(spec.tlsMaterial !== undefined && { tlsMaterial: spec.tlsMaterial }),
    headers: spec.headers,
  });
  const { status, rttMs } = res;

  const expect = spec.expect.length > 0 ? spec.expect : DEFAULT_EXPECT;
  if (!expect.some(([lo, hi]) => status >= lo && status <= hi)) {
    return failure('status', `HTTP ${status}, expected ${describeRanges(expect)}`, rttMs);
  }
  if (pattern) {
    const re = pattern;
    const body = await readBody(res.message, (text) => re.test(text));
    if (!re.test(body.text)) {
      const read = body.truncated ? 'the first 64 KiB of the body' : 'the body';
      return failure('body', `HTTP ${status}: ${read} does not match /${spec.bodyMatch}/`, rttMs);
    }
  }
  // Slowness is judged on the time to headers, the same figure reported as rttMs.
  if (spec.slowMs !== undefined && rttMs > spec.slowMs) {
    return failure('slow', `HTTP ${status} in ${rttMs} ms, slower than ${spec.slowMs} ms`, rttMs);
  }
  return success(`HTTP ${status} in ${rttMs} ms`, rttMs);
}
