/**
 * What a proxy changes in the headers it passes on (RFC 9110 §7.6): hop-by-hop headers
 * dropped; X-Forwarded-For, X-Real-IP and Forwarded (RFC 7239) rewritten from the
 * connection and the trusted part of the chain; X-Forwarded-Proto/-Host and Via set; and
 * which address is the client's when trusted proxies stand in front.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { unmapIPv4 } from '../net/ip-parse.js';

/** Headers that describe one connection, never passed on (RFC 9110 §7.6.1, plus the legacy ones proxies still see); Expect is answered here (node sends 100 Continue). */
const HOP_BY_HOP = new Set(['expect', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization', 'http2-settings']);

export const VIA = '1.1 meridian';

/**
 * The client address: the socket peer, or with `trustedHops` proxies in front, the entry of
 * X-Forwarded-For that many places from its right end (proxies append, so entries further
 * left were written by parties we do not trust).
 */
export function clientAddress(peer: string, forwardedFor: string | undefined, trustedHops: number): string {
  if (trustedHops === 0 || forwardedFor === undefined) return unmapIPv4(peer);
  const chain = forwardedFor.split(',');
  const index = Math.max(0, chain.length - trustedHops);
  const entry = withoutPort(unmapIPv4(chain[index]!.trim()));
  // Not an address (a proxy wrote "unknown", or garbage): the peer is the best we know.
  return isIP(entry) === 0 ? unmapIPv4(peer) : entry;
}

/** clientAddress() of a request as it arrived: the request path and the access log read it alike. */
export function requestClient(req: IncomingMessage, trustedHops: number): string {
  return clientAddress(req.socket.remoteAddress ?? '', headerText(req.headers['x-forwarded-for']), trustedHops);
}

/** A repeated header as node joins it ("a, b"). */
function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The value of a header the client sent; a name only inherited (`__proto__`, `constructor`) reads as absent. */
export function headerOf(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  return Object.hasOwn(headers, name) ? headerText(headers[name]) : undefined;
}

/** Some proxies write "203.0.113.7:41234" or "[2001:db8::7]:41234"; the address is what identifies the client. */
function withoutPort(entry: string): string {
  if (entry.charCodeAt(0) === 91 /* [ */) {
    const end = entry.indexOf(']');
    return end < 0 ? entry : entry.slice(1, end);
  }
  const colon = entry.indexOf(':');
  return colon > 0 && colon === entry.lastIndexOf(':') ? entry.slice(0, colon) : entry;
}

/**
 * The X-Forwarded-For entries written by trusted proxies (the last `trustedHops`), oldest
 * first; entries further left came from the client and are dropped, not passed on.
 */
function trustedChain(forwardedFor: string | undefined, trustedHops: number): string[] {
  if (trustedHops === 0 || forwardedFor === undefined) return [];
  const chain = forwardedFor.split(',');
  const out: string[] = [];
  for (let i = Math.max(0, chain.length - trustedHops); i < chain.length; i++) out.push(unmapIPv4(chain[i]!.trim()));
  return out;
}

/** One RFC 7239 `for=` node: IPv6 bracketed and quoted, anything not an address "unknown". */
function forwardedNode(entry: string): string {
  const addr = withoutPort(entry);
  const kind = isIP(addr);
  return kind === 4 ? addr : kind === 6 ? `"[${addr}]"` : 'unknown';
}

/** "::ffff:10.0.0.1" → "10.0.0.1", so IPv4 clients of a dual-stack socket look the same everywhere. */
/** Names listed in a Connection header are hop-by-hop too. */
function connectionTokens(value: string | string[] | undefined): Set<string> | null {
  // The common values name no other header: answer without splitting.
  if (value === undefined || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close') return null;
  const text = Array.isArray(value) ? value.join(',') : value;
  const tokens = text
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== 'close' && t !== 'keep-alive' && t !== '');
  return tokens.length > 0 ? new Set(tokens) : null;
}

export interface ForwardInfo {
  readonly peer: string;
  /** The client address as clientAddress() found it (written as X-Real-IP). */
  readonly client: string;
  /** How many X-Forwarded-For entries (from the right) came from proxies we trust. */
  readonly trustedHops: number;
  readonly proto: 'http' | 'https';
  /** Keep Upgrade/Connection (a WebSocket handshake passes them on). */
  readonly upgrade: boolean;
}

/**
 * Request headers for the backend as a flat [name, value, …] list (undici's cheapest form),
 * built from the client's raw headers so names keep their case and order.
 */
export function requestHeaders(raw: readonly string[], headers: IncomingHttpHeaders, info: ForwardInfo): string[] {
  const extra = connectionTokens(headers.connection);
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let via: string | undefined;
  let authority: string | undefined;
  let sawHost = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // HTTP/2 pseudo-headers (h2-front.ts): :authority is the Host, the rest the backend request itself carries.
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':authority') authority = raw[i + 1]!;
      continue;
    }
    const lower = name.toLowerCase();
    if (lower === 'host') sawHost = true;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? raw[i + 1]! : `${forwardedFor}, ${raw[i + 1]!}`;
      continue;
    }
    if (lower === 'via') {
      via = via === undefined ? raw[i + 1]! : `${via}, ${raw[i + 1]!}`;
      continue;
    }
    // What the client says of itself is never passed on; ours are written below (issue 15 item 6).
    if (lower === 'x-forwarded-proto' || lower === 'x-forwarded-host' || lower === 'x-real-ip' || lower === 'forwarded') continue;
    const handshake = info.upgrade && (lower === 'upgrade' || lower === 'connection');
    if (!handshake && (HOP_BY_HOP.has(lower) || (extra !== null && extra.has(lower)))) continue;
    out.push(name, raw[i + 1]!);
  }
  if (!sawHost && authority !== undefined) out.push('host', authority);
  const peer = unmapIPv4(info.peer);
  const chain = trustedChain(forwardedFor, info.trustedHops);
  chain.push(peer);
  out.push('x-forwarded-for', chain.join(', '));
  out.push('x-real-ip', info.client);
  let forwarded = '';
  for (let i = 0; i < chain.length; i++) forwarded += `${i === 0 ? '' : ', '}for=${forwardedNode(chain[i]!)}`;
  forwarded += `;proto=${info.proto}`;
  if (headers.host !== undefined) forwarded += `;host="${headers.host}"`; // request-checks.ts let only RFC 3986 host characters through
  out.push('forwarded', forwarded);
  out.push('x-forwarded-proto', info.proto);
  if (headers.host !== undefined) out.push('x-forwarded-host', headers.host);
  out.push('via', via === undefined ? VIA : `${via}, ${VIA}`);
  return out;
}

/** Response headers for the client: hop-by-hop ones dropped, Via added. */
export function responseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const extra = connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || (extra !== null && extra.has(name))) continue;
    out[name] = value;
  }
  const via = out.via;
  out.via = via === undefined ? VIA : `${Array.isArray(via) ? via.join(', ') : via}, ${VIA}`;
  return out;
}

/** Whether a request has a body to stream (a retry is only safe without one). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method);
}

/** The value of one cookie in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
