/**
 * CSRF and DNS-rebinding guard for an admin listener without a token (issue 14 item 7),
 * shared by the admin API and the balancer's admin listener.
 *
 * Without a token a listener trusts whatever reaches loopback, and a web page in a browser
 * on the same machine does: a cross-site form can POST `text/plain` with no preflight, and a
 * page whose name is rebound to 127.0.0.1 talks to us as its own origin. So a request is
 * refused when
 * - its Host is not this listener: the address it arrived on, `localhost` when that is a
 *   loopback address, or a configured extra name, with the listener's port (rebinding sends
 *   `Host: evil.example:5380`);
 * - it carries an Origin other than such a host (a cross-site request; `Origin: null` too);
 * - it is a write with a body, or a Content-Type, that is not `application/json` (the only
 *   bodies a page can send cross-site without a CORS preflight are text/plain, urlencoded
 *   and multipart).
 * A client that is not a browser (curl, scripts) sends a matching Host, no Origin, and JSON
 * or no body, so it is not affected.
 */
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { isLoopbackHost } from '../net/listen-address.js';
import { unmapIPv4 } from '../net/ip-parse.js';
import { ErrorCode, httpStatus, type ErrorCodeValue } from '../errors.js';

export interface GuardRefusal {
  readonly status: number;
  readonly code: ErrorCodeValue;
  /** The header at fault: "host", "origin" or "content-type". */
  readonly field: string;
  readonly message: string;
}

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export class BrowserGuard {
  readonly #extra: ReadonlySet<string>;

  /** `extraHosts`: more names (no port) a browser may use for this listener, e.g. one in /etc/hosts. */
  constructor(extraHosts: readonly string[]) {
    this.#extra = new Set(extraHosts.map(normalizeName));
  }

  /** Why the request must be refused, or null when it may go on. */
  check(req: IncomingMessage): GuardRefusal | null {
    const local = req.socket.localAddress;
    const port = req.socket.localPort;
    // A request that came in cannot lack these; refuse rather than guess if it somehow does.
    if (local === undefined || port === undefined) return refuse('host', 'the listener address is unknown');
    const address = unmapIPv4(local);
    const allowed = (host: string, hostPort: number): boolean => {
      if (hostPort !== port) return false;
      const name = normalizeName(host);
      return name === address || (name === 'localhost' && isLoopbackHost(address)) || this.#extra.has(name);
    };

    const host = req.headers.host;
    // HTTP/1.0 may leave Host out; no browser does.
    if (host !== undefined) {
      const h = splitHost(host, 80);
      if (h === null || !allowed(h.name, h.port)) {
        return refuse(
          'host',
          `Host "${host}" is not this listener; without a token only its own address${isLoopbackHost(address) ? ', localhost' : ''} or a configured allowedHosts name is accepted (DNS rebinding)`,
        );
      }
    }

    const origin = req.headers.origin;
    if (origin !== undefined) {
      const o = parseOrigin(origin);
      if (o === null || !allowed(o.name, o.port)) return refuse('origin', `Origin "${origin}" is another site; without a token the API accepts no cross-site requests`);
    }

    if (!SAFE_METHODS.has(req.method ?? 'GET')) {
      const type = req.headers['content-type'];
      const hasBody = (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined;
      // application/merge-patch+json (PATCH) is no more a form's than JSON: it needs a preflight too.
      if ((type !== undefined || hasBody) && mediaType(type) !== 'application/json' && mediaType(type) !== 'application/merge-patch+json') {
        return refuse('content-type', `a write without a token must send application/json${type === undefined ? '' : `, not "${type}"`}`);
      }
    }
    return null;
  }
}

function refuse(field: 'host' | 'origin' | 'content-type', message: string): GuardRefusal {
  const code = field === 'content-type' ? ErrorCode.GSLB_ERR_API_CONTENT_TYPE : field === 'host' ? ErrorCode.GSLB_ERR_API_HOST_NOT_ALLOWED : ErrorCode.GSLB_ERR_API_CROSS_ORIGIN;
  return { status: httpStatus(code), code, field, message };
}

function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  const bare = lower.startsWith('[') && lower.endsWith(']') ? lower.slice(1, -1) : lower;
  return isIP(bare) === 0 && bare.endsWith('.') ? bare.slice(0, -1) : bare;
}

/** "name:port", "[v6]:port" or "name" → its parts; null when malformed. */
function splitHost(text: string, defaultPort: number): { name: string; port: number } | null {
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) return null;
  return { name: m[1]!, port: m[2] === undefined ? defaultPort : Number(m[2]) };
}

function parseOrigin(text: string): { name: string; port: number } | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null; // "null" (sandboxed pages, file:) among others
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return { name: url.hostname, port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port) };
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';', 1)[0]!.trim().toLowerCase();
}
