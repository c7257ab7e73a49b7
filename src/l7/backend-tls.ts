/**
 * TLS to backends (`pools.*.tls`, `pools.*.backends.*.tls`): the schema, the PEM files read
 * (at load and on every reload, so SIGHUP picks up rotated files), the undici connector that
 * dials them, and the handshake health check. Keys are read into memory only: no message
 * here ever carries a file's content, only its name.
 */
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { Type, type Static } from '@sinclair/typebox';
import { buildConnector, Pool as UndiciPool, type Dispatcher } from 'undici';
import { ErrorCode, GslbError } from '../errors.js';
import { success, type ProbeContext } from '../health/probes/guard.js';
import type { ProbeResult } from '../health/types.js';

const HOSTNAME = '^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.?$';

export const BackendTlsSchema = Type.Object(
  {
    sni: Type.Optional(Type.String({ pattern: HOSTNAME, description: 'server name sent and verified; default the backend host when it is a name, none for an IP address' })),
    ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CAs that verify the backend, relative to the config file; absent: the system CAs' })),
    verify: Type.Optional(Type.Boolean({ description: 'check the backend certificate (chain and name); default true' })),
    cert: Type.Optional(Type.String({ minLength: 1, description: 'PEM client certificate for mTLS (with key)' })),
    key: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key of cert' })),
  },
  { additionalProperties: false, description: 'connect to the backend over TLS' },
);
export type BackendTlsConfig = Static<typeof BackendTlsSchema>;

/** What a backend needs to dial over TLS, read from the files. */
export interface BackendTls {
  readonly options: tls.ConnectionOptions;
  /** SNI and the name the certificate is checked against; null: none sent, the IP checked. */
  readonly servername: string | null;
  /** Hash of the settings and file contents: a reload keeps a backend's connections only when it is unchanged. */
  readonly fingerprint: string;
}

interface PoolLike {
  readonly tls?: BackendTlsConfig | undefined;
  readonly backends: readonly { readonly address: string; readonly tls?: BackendTlsConfig | null | undefined }[];
}

/** A backend's own `tls` wins; `null` there means plain even when the pool has a default. */
export function effectiveTls(pool: { readonly tls?: BackendTlsConfig | undefined }, backend: { readonly tls?: BackendTlsConfig | null | undefined }): BackendTlsConfig | null {
  return backend.tls === undefined ? (pool.tls ?? null) : backend.tls;
}

const FILES = ['ca', 'cert', 'key'] as const;

/** Makes the PEM paths absolute, relative to the config file's folder. */
export function resolveTlsPaths(pools: Record<string, PoolLike>, dir: string): void {
  const resolve = (t: BackendTlsConfig | null | undefined): void => {
    if (t == null) return;
    for (const k of FILES) if (t[k] !== undefined) t[k] = path.resolve(dir, t[k]);
  };
  for (const pool of Object.values(pools)) {
    resolve(pool.tls);
    for (const b of pool.backends) resolve(b.tls);
  }
}

/** Problems with every `tls` block: cert without key, unreadable or unparsable files; `field` names the block. */
export function tlsProblems(pools: Record<string, PoolLike>): { pointer: string; message: string }[] {
  const out: { pointer: string; message: string }[] = [];
  const check = (t: BackendTlsConfig | null | undefined, pointer: string, field: string): void => {
    if (t == null) return;
    try {
      readTls(t, field);
    } catch (err) {
      out.push({ pointer, message: (err as Error).message });
    }
  };
  for (const [name, pool] of Object.entries(pools)) {
    check(pool.tls, `/pools/${name}/tls`, `pools.${name}.tls`);
    pool.backends.forEach((b, i) => check(b.tls, `/pools/${name}/backends/${i}/tls`, `pools.${name}.backends.${i}.tls`));
  }
  return out;
}

/** The TLS material of backend `index` of pool `name`, read from its files; null for plain HTTP. */
export function backendTlsOf(pool: PoolLike, name: string, index: number): BackendTls | null {
  const b = pool.backends[index]!;
  const t = effectiveTls(pool, b);
  if (t === null) return null;
  const host = /^\[([^\]]+)\]:\d+$/.exec(b.address)?.[1] ?? b.address.slice(0, b.address.lastIndexOf(':'));
  return loadBackendTls(t, host, b.tls === undefined ? `pools.${name}.tls` : `pools.${name}.backends.${index}.tls`);
}

/** Reads a backend's TLS material; throws GslbError CONFIG_INVALID naming the field and file. */
export function loadBackendTls(t: BackendTlsConfig, host: string, field: string): BackendTls {
  const { options, hash } = readTls(t, field);
  const servername = t.sni ?? (net.isIP(host) === 0 ? host : null);
  hash.update(`\0${servername ?? ''}`);
  return { options, servername, fingerprint: hash.digest('hex') };
}

function readTls(t: BackendTlsConfig, field: string): { options: tls.ConnectionOptions; hash: ReturnType<typeof createHash> } {
  if ((t.cert === undefined) !== (t.key === undefined)) {
    throw invalid(`${field}: cert and key go together (mTLS); ${t.cert === undefined ? 'cert' : 'key'} is missing`);
  }
  const hash = createHash('sha256').update(JSON.stringify(t));
  const read = (k: (typeof FILES)[number]): Buffer | undefined => {
    const file = t[k];
    if (file === undefined) return undefined;
    let data: Buffer;
    try {
      data = fs.readFileSync(file);
    } catch (err) {
      throw invalid(`${field}.${k}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    hash.update(data);
    return data;
  };
  const options: tls.ConnectionOptions = { rejectUnauthorized: t.verify !== false };
  const ca = read('ca');
  const cert = read('cert');
  const key = read('key');
  if (ca !== undefined) {
    // OpenSSL skips what is not a certificate in a CA bundle, so a wrong file would pass silently.
    const blocks = ca.toString('latin1').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    try {
      if (blocks.length === 0) throw new Error('no PEM certificate in it');
      for (const b of blocks) new X509Certificate(b);
    } catch (err) {
      throw invalid(`${field}.ca: ${t.ca} is not a PEM CA bundle: ${(err as Error).message}`);
    }
    options.ca = ca;
  }
  if (cert !== undefined) options.cert = cert;
  if (key !== undefined) options.key = key;
  try {
    tls.createSecureContext(options); // parses the PEMs and checks the key matches the certificate
  } catch (err) {
    // OpenSSL's reason only (e.g. "KEY_VALUES_MISMATCH"), never the content.
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    const files = FILES.filter((k) => t[k] !== undefined).map((k) => `${k} ${t[k]}`);
    throw invalid(`${field}: the PEM files (${files.join(', ')}) do not load: ${reason}`);
  }
  return { options, hash };
}

function invalid(message: string): GslbError {
  return new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, message, [message]);
}

export interface DispatcherTimeouts {
  readonly connectMs: number;
  readonly headersMs: number;
  readonly idleMs: number;
}

/**
 * The backend's connection pool, over TLS when `t` is given. undici takes the SNI from each
 * request's Host header and reconnects when it changes; the balancer's SNI is the backend's,
 * not the client's, so the connector sets it and every request carries one fixed name.
 */
export function createDispatcher(host: string, hostPort: string, connections: number, timeouts: DispatcherTimeouts, t: BackendTls | null): Dispatcher {
  const common = { connections, pipelining: 1, headersTimeout: timeouts.headersMs, bodyTimeout: timeouts.idleMs, keepAliveTimeout: 30_000 };
  if (t === null) return new UndiciPool(`http://${hostPort}`, { ...common, connect: { timeout: timeouts.connectMs } });
  const base = buildConnector({ ...t.options, timeout: timeouts.connectMs, allowH2: false, ...(t.servername !== null && { servername: t.servername }) });
  const connect: buildConnector.connector = (opts, cb) => base({ ...opts, servername: t.servername ?? '' }, cb);
  const fixed = t.servername ?? host;
  // `servername` is a request option undici reads but does not declare.
  return new UndiciPool(`https://${hostPort}`, { ...common, connect }).compose((dispatch) => (opts, handler) => dispatch({ ...opts, servername: fixed } as Dispatcher.DispatchOptions, handler));
}

/** HTTP/2 over TLS to a backend (requests and the grpc check): ALPN h2 with the same CA, SNI and client certificate as its HTTP/1.1 requests. */
export function h2TlsOptions(t: BackendTls): tls.ConnectionOptions {
  return { ...t.options, ALPNProtocols: ['h2'], ...(t.servername !== null && { servername: t.servername }) };
}

/**
 * The active check of a TLS backend without an HTTP check: a full handshake. With TLS 1.3 the
 * server judges our client certificate only after its own Finished, so the check ends with
 * close_notify and passes on the server's session ticket or clean close, failing on its alert.
 */
export function probeTlsHandshake(ctx: ProbeContext, host: string, port: number, t: BackendTls): Promise<ProbeResult> {
  ctx.phase = 'TLS';
  const socket = tls.connect({ ...t.options, host, port, ...(t.servername !== null && { servername: t.servername }), ALPNProtocols: ['http/1.1'] });
  ctx.own(socket);
  return new Promise<ProbeResult>((resolve, reject) => {
    let rtt = 0;
    const done = (): void => resolve(success(`TLS handshake (${socket.getProtocol() ?? 'TLS'}) in ${rtt} ms`, rtt));
    socket.on('error', reject);
    socket.once('secureConnect', () => {
      rtt = ctx.elapsed();
      if (socket.getProtocol() !== 'TLSv1.3') return done();
      socket.once('session', done);
      socket.once('end', done);
      socket.resume();
      socket.end();
    });
  });
}
