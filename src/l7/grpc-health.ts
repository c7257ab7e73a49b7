/**
 * The gRPC health check (`healthCheck.type: grpc`): grpc.health.v1.Health/Check over h2c, as
 * Kubernetes' and Envoy's gRPC checks do, or over TLS (as its calls go) to a backend with `tls`.
 * Passes on grpc-status 0 with status SERVING; the message is small and fixed, so it is encoded
 * and read here rather than with a protobuf library.
 */
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { ProbeResult } from '../health/types.js';
import { h2TlsOptions, type BackendTls } from './backend-tls.js';
import { formatListenAddress } from '../net/listen-address.js';

/** HealthCheckRequest { string service = 1; } in one gRPC message frame. */
function requestFrame(service: string): Buffer {
  const name = Buffer.from(service);
  // field 1, wire type 2; names the config allows are under 128 bytes, so the length is one varint byte
  const message = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, name.length]), name]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** HealthCheckResponse { ServingStatus status = 1; } is SERVING (1): frame header, then 0x08 0x01. */
function serving(body: Buffer): boolean {
  return body.length >= 7 && body[0] === 0 && body[5] === 0x08 && body[6] === 0x01;
}

/** One check of `service` ("" for the server as a whole) on host:port; never rejects. */
export function grpcHealthProbe(host: string, port: number, service: string, timeoutMs: number, signal: AbortSignal, tls: BackendTls | null = null): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    let done = false;
    // A certificate that does not verify is an 'error' on the session: the check fails.
    const session = http2.connect(`${tls === null ? 'http' : 'https'}://${formatListenAddress({ host, port })}`, tls === null ? {} : h2TlsOptions(tls));
    const finish = (r: Pick<ProbeResult, 'ok' | 'reason' | 'detail'>, answered: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      session.destroy();
      resolve({ ...r, rttMs: answered ? performance.now() - started : null, capacity: null, at: Date.now() });
    };
    const timer = setTimeout(() => finish({ ok: false, reason: 'timeout', detail: `no answer in ${timeoutMs} ms` }, false), timeoutMs);
    const onAbort = (): void => finish({ ok: false, reason: 'error', detail: 'check cancelled' }, false);
    signal.addEventListener('abort', onAbort);
    session.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, reason: err.code === 'ECONNREFUSED' ? 'refused' : 'error', detail: `connect ${err.message}` }, false));
    const stream = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
    let status: string | undefined;
    const chunks: Buffer[] = [];
    stream.on('error', () => undefined); // the close below reports it
    stream.on('response', (h) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']); // trailers-only
    });
    stream.on('trailers', (t: http2.IncomingHttpHeaders) => (status = String(t['grpc-status'])));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('close', () => {
      if (status === undefined) return finish({ ok: false, reason: 'invalid-response', detail: `no grpc-status (stream closed, HTTP/2 code ${stream.rstCode ?? 'none'})` }, true);
      if (status !== '0') return finish({ ok: false, reason: 'status', detail: `grpc-status ${status}` }, true);
      const body = Buffer.concat(chunks);
      finish(serving(body) ? { ok: true, reason: null, detail: 'SERVING' } : { ok: false, reason: 'body', detail: 'status is not SERVING' }, true);
    });
    stream.end(requestFrame(service));
  });
}
