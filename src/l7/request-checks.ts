/**
 * What the balancer refuses with 400 before any backend sees it: requests whose framing or
 * target two HTTP parsers could read differently (request smuggling, RFC 9112 §6.3 and
 * §11.2), or that would make the backend connection fail on the client's account.
 *
 * Node's parser (llhttp, strict unless --insecure-http-parser) already refuses obs-fold,
 * bare LF, control characters, Content-Length with Transfer-Encoding, a repeated, signed or
 * listed Content-Length, and a Transfer-Encoding that does not end in chunked; those reach
 * the `clientError` handler. This adds what it lets through.
 */
import type { IncomingMessage } from 'node:http';

/** RFC 3986 host (reg-name with sub-delims and %XX, IPv4, or [IPv6]) and an optional port. */
const HOST = /^(?:(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
/** Absolute-form request target (RFC 9112 §3.2.2): scheme, authority, and the rest. */
const ABSOLUTE = /^https?:\/\/([^/?#]*)(.*)$/i;

/**
 * Why `req` must be refused, or null. An absolute-form target whose authority is the Host
 * is turned into origin-form here (req.url changes), so routing and the backend see a path.
 */
export function requestProblem(req: IncomingMessage): string | null {
  const raw = req.rawHeaders;
  let hosts = 0;
  let codings = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const len = raw[i]!.length;
    // Length first: most names are neither, and the compare then costs nothing.
    if (len === 4 && raw[i]!.toLowerCase() === 'host') hosts++;
    else if (len === 17 && raw[i]!.toLowerCase() === 'transfer-encoding') codings++;
  }
  // RFC 9112 §3.2: exactly one Host (HTTP/1.0 may omit it); two would route one way and reach the backend another.
  if (hosts > 1) return 'more than one Host header';
  if (hosts === 0 && req.httpVersionMinor === 1) return 'no Host header (HTTP/1.1 requires one)';
  const host = req.headers.host;
  if (host !== undefined && !HOST.test(host)) return `invalid Host header "${printable(host)}"`;
  if (codings > 0) {
    if (codings > 1) return 'more than one Transfer-Encoding header';
    // RFC 9112 §6.1: a 1.0 message with Transfer-Encoding has faulty framing.
    if (req.httpVersionMinor === 0 && req.httpVersionMajor === 1) return 'Transfer-Encoding in an HTTP/1.0 request';
    // Only chunked: the body is passed on decoded, so any other coding would reach the backend unlabelled.
    const te = req.headers['transfer-encoding']!;
    if (te.length !== 7 || te.toLowerCase() !== 'chunked') return `Transfer-Encoding "${printable(te)}" is not supported (only chunked)`;
  }
  const url = req.url ?? '';
  if (url.charCodeAt(0) === 47 /* / */) return null;
  const abs = ABSOLUTE.exec(url);
  if (abs === null) return `request target "${printable(url)}" is neither a path nor an http(s) URL`;
  const authority = abs[1]!;
  // RFC 9112 §3.2.2 lets a proxy replace Host with the target's authority; refusing a mismatch keeps routing and the backend on one name.
  if (host === undefined || authority.toLowerCase() !== host.toLowerCase()) {
    return `request target authority "${printable(authority)}" differs from the Host header "${printable(host ?? '')}"`;
  }
  const rest = abs[2]!;
  req.url = rest === '' ? '/' : rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
  return null;
}

/** A header value as it may be quoted in an error message. */
export function printable(text: string): string {
  const cut = text.length > 100 ? `${text.slice(0, 100)}…` : text;
  return cut.replace(/[^\x20-\x7e]/g, '?').replace(/"/g, "'");
}
