/**
 * One HTTP(S) request for the http and balancer probes: a fresh connection (no agent reuse,
 * `Connection: close`), phase tracking for timeout details, and a bounded body reader.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { BODY_LIMIT, ProbeFailure, USER_AGENT, type ProbeContext } from './guard.js';

export interface RequestOptions {
  readonly tls: boolean;
  readonly address: string;
  readonly port: number;
  readonly method: string;
  readonly path: string;
  /** Host header value (without port); default the address. */
  readonly host?: string;
  /** TLS server name; omitted from the handshake when it is an IP address. */
  readonly servername?: string;
  readonly verifyTls: boolean;
  readonly tlsMaterial?: Readonly<Pick<ConnectionOptions, 'ca' | 'cert' | 'key'>>;
  /** Extra headers; they override the defaults except `Connection`. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Response {
  readonly status: number;
  /** ms from the start of the probe to the response headers. */
  readonly rttMs: number;
  readonly message: http.IncomingMessage;
}

/** `host[:port]`, bracketing IPv6 literals and leaving out the scheme's default port. */
export function hostHeader(host: string, port: number, tls: boolean): string {
  const name = net.isIPv6(host) ? `[${host}]` : host;
  return port === (tls ? 443 : 80) ? name : `${name}:${port}`;
}

/** Sends the request and resolves at the response headers; rejects with the socket's error. */
export function sendRequest(ctx: ProbeContext, opts: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = {
    host: hostHeader(opts.host ?? opts.address, opts.port, opts.tls),
    'user-agent': USER_AGENT,
  };
  for (const [name, value] of Object.entries(opts.headers ?? {})) headers[name.toLowerCase()] = value;
  headers['connection'] = 'close';

  const name = opts.servername;
  // '' (rather than undefined) stops the agent from deriving an SNI from the Host header.
  const servername = name && net.isIP(name) === 0 ? name : '';
  const common = { host: opts.address, port: opts.port, method: opts.method, path: opts.path, headers, agent: false as const };
  const req = opts.tls ? https.request({ ...common, ...opts.tlsMaterial, servername, rejectUnauthorized: opts.verifyTls }) : http.request(common);
  ctx.own(req);

  return new Promise((resolve, reject) => {
    req.on('error', reject);
    req.on('socket', (socket) => {
      socket.once('connect', () => (ctx.phase = opts.tls ? 'TLS' : 'headers'));
      if (opts.tls) socket.once('secureConnect', () => (ctx.phase = 'headers'));
    });
    req.on('response', (message) => {
      ctx.phase = 'body';
      // Errors after the settle (e.g. the socket destroyed mid-body) must not go unhandled.
      message.on('error', () => {});
      resolve({ status: message.statusCode ?? 0, rttMs: ctx.elapsed(), message });
    });
    req.end();
  });
}

export interface Body {
  readonly text: string;
  /** The body went on past BODY_LIMIT; `text` holds only the first BODY_LIMIT bytes. */
  readonly truncated: boolean;
}

/**
 * Reads up to BODY_LIMIT bytes. `enough`, when given, is checked after each chunk so a
 * matching body need not be read to the end.
 */
export function readBody(message: http.IncomingMessage, enough?: (text: string) => boolean): Promise<Body> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const text = (): string => Buffer.concat(chunks).subarray(0, BODY_LIMIT).toString('utf8');
    message.on('data', (chunk: Buffer) => {
      if (size > BODY_LIMIT) return; // already settled; the socket is about to be destroyed
      chunks.push(chunk);
      size += chunk.length;
      if (size > BODY_LIMIT) resolve({ text: text(), truncated: true });
      else if (enough) {
        const sofar = text();
        if (enough(sofar)) resolve({ text: sofar, truncated: false });
      }
    });
    message.on('end', () => resolve({ text: text(), truncated: false }));
    message.on('close', () => {
      if (!message.complete) reject(new ProbeFailure('reset', `connection closed after ${size} bytes of the body`));
    });
    message.on('error', reject);
  });
}
