/**
 * Routing rules: host, path prefix, method, headers and query to a pool, with an optional
 * prefix rewrite; first match wins.
 *
 * Routing sees, and the backend is sent, the normalised path (`normalizePath`): percent-encoded
 * unreserved characters decoded, repeated slashes merged, `.` and `..` segments resolved
 * (RFC 3986 6.2.2 and 5.2.4, as Envoy's normalize_path and merge_slashes). So `//admin`,
 * `/x/../admin` and `/%61dmin` are `/admin` both to the route and to the backend, and a route
 * cannot be bypassed by a spelling the backend resolves differently. An encoded slash or
 * backslash (`%2F`, `%5C`) is refused with 400: a backend that decodes it into a separator
 * would see a path the route never saw.
 */
import type { BalancerConfig } from './config.js';
import { headerOf } from './forwarding.js';

export interface HeaderMatch {
  /** Lower-case. */
  readonly name: string;
  readonly test: (value: string | undefined) => boolean;
}

export interface QueryMatch {
  readonly name: string;
  readonly exact: string | undefined;
  /** true: the parameter must be there; false: it must not. */
  readonly present: boolean;
}

export interface Route {
  /** Lower-case host without port; "*.example.com" matches any subdomain; undefined matches all. */
  readonly host: string | undefined;
  /** "/" matches every path; "/api" matches "/api" and "/api/…", not "/apiary"; "/api/" matches what is below it. */
  readonly pathPrefix: string;
  readonly ignoreCase: boolean;
  /** Upper-case method names; null: any. */
  readonly methods: ReadonlySet<string> | null;
  readonly headers: readonly HeaderMatch[];
  readonly query: readonly QueryMatch[];
  /** What replaces the matched prefix; null: the path is sent as normalised. */
  readonly replacePrefix: string | null;
  readonly pool: string;
}

/** A regex is tried only on values up to this long; longer ones do not match (bounds the worst case, see `regexProblem`). */
export const REGEX_MAX_INPUT = 1024;
export const REGEX_MAX_LENGTH = 256;

export function compileRoutes(config: BalancerConfig): Route[] {
  const routes: Route[] = config.routes.map((r) => {
    const m = r.match ?? {};
    const pathPrefix = m.pathPrefix ?? r.pathPrefix ?? '/';
    const ignoreCase = m.ignoreCase ?? false;
    const rw = r.rewrite;
    return {
      host: (m.host ?? r.host)?.toLowerCase(),
      pathPrefix: ignoreCase ? pathPrefix.toLowerCase() : pathPrefix,
      ignoreCase,
      methods: m.methods === undefined ? null : new Set(m.methods.map((x) => x.toUpperCase())),
      headers: (m.headers ?? []).map((h) => ({ name: h.name.toLowerCase(), test: headerTest(h) })),
      query: (m.query ?? []).map((q) => ({ name: q.name, exact: q.exact, present: q.present ?? true })),
      replacePrefix: rw === undefined ? null : rw.stripPrefix === true ? '' : (rw.replacePrefix ?? null),
      pool: r.pool,
    };
  });
  if (config.pools.default !== undefined) routes.push({ host: undefined, pathPrefix: '/', ignoreCase: false, methods: null, headers: [], query: [], replacePrefix: null, pool: 'default' });
  return routes;
}

type HeaderRule = NonNullable<NonNullable<BalancerConfig['routes'][number]['match']>['headers']>[number];

function headerTest(h: HeaderRule): (value: string | undefined) => boolean {
  const { exact, prefix, regex } = h;
  if (exact !== undefined) return (v) => v === exact;
  if (prefix !== undefined) return (v) => v !== undefined && v.startsWith(prefix);
  if (regex !== undefined) {
    // Anchored: the whole value must match, as Envoy's safe_regex (and no scan from every offset).
    const re = new RegExp(`^(?:${regex})$`, 'u');
    return (v) => v !== undefined && v.length <= REGEX_MAX_INPUT && re.test(v);
  }
  return h.present !== false ? (v) => v !== undefined : (v) => v === undefined;
}

/**
 * Why a header regex may backtrack without bound, or null when it is in the safe subset:
 * at most REGEX_MAX_LENGTH characters; no backreferences or lookaround; no quantifier on a
 * group that holds a quantifier or an alternation (`(a+)+`, `(a|a)*`: exponential); at most
 * two repeating quantifiers and four in all. Anchored and tried on at most REGEX_MAX_INPUT
 * characters, such a regex costs at most about 4 × REGEX_MAX_INPUT² steps (a few ms).
 */
export function regexProblem(source: string): string | null {
  if (source.length > REGEX_MAX_LENGTH) return `is longer than ${REGEX_MAX_LENGTH} characters`;
  try {
    new RegExp(source, 'u');
  } catch (err) {
    return `is not a valid regular expression: ${(err as Error).message}`;
  }
  /** Per open group: whether it holds a quantifier or an alternation. */
  const groups: boolean[] = [];
  let repeating = 0;
  let quantifiers = 0;
  let lastGroupRisky = false;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    const closedGroup = lastGroupRisky;
    lastGroupRisky = false;
    if (c === '\\') {
      const n = source[i + 1] ?? '';
      if (!inClass && (/[1-9]/.test(n) || n === 'k')) return 'uses a backreference, which can backtrack without bound';
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') {
      if (source.startsWith('(?=', i) || source.startsWith('(?!', i) || source.startsWith('(?<=', i) || source.startsWith('(?<!', i)) return 'uses lookaround, which is not in the safe subset';
      groups.push(false);
    } else if (c === ')') {
      lastGroupRisky = groups.pop() ?? false;
      if (lastGroupRisky && groups.length > 0) groups[groups.length - 1] = true;
    } else if (c === '|') {
      if (groups.length > 0) groups[groups.length - 1] = true;
    } else if (c === '*' || c === '+' || c === '?' || c === '{') {
      let repeats = c !== '?';
      if (c === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
        if (m === null) continue; // a literal brace
        repeats = m[2] !== undefined && (m[3] === '' || Number(m[3]) > 1);
        if (m[2] === undefined && Number(m[1]) > 1) repeats = true;
        i += m[0].length - 1;
      }
      if (source[i + 1] === '?') i++; // lazy: the same cost
      if (closedGroup) return 'repeats a group that holds a quantifier or an alternation (nested quantifiers backtrack exponentially)';
      quantifiers++;
      if (repeats) repeating++;
      for (let g = 0; g < groups.length; g++) groups[g] = true;
    }
  }
  if (repeating > 2) return 'has more than two repeating quantifiers (*, +, {n,}); split it or use prefix/exact';
  if (quantifiers > 4) return 'has more than four quantifiers';
  return null;
}

/** "Example.com:8080" → "example.com"; "[::1]:80" → "[::1]". */
export function hostOnly(hostHeader: string | undefined): string {
  if (hostHeader === undefined) return '';
  const h = hostHeader.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

function hostMatches(pattern: string | undefined, host: string): boolean {
  if (pattern === undefined) return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return host === pattern;
}

/** A prefix matches at a segment boundary: "/api" takes "/api" and "/api/x", not "/apix". */
function prefixMatches(prefix: string, path: string): boolean {
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || prefix.endsWith('/') || path.charCodeAt(prefix.length) === 0x2f;
}

export interface RequestView {
  readonly method: string;
  readonly host: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The normalised path, no query. */
  readonly path: string;
  /** After "?", or "" when none. */
  readonly query: string;
}

/** The first route matching the request, or undefined. */
export function matchRoute(routes: readonly Route[], req: RequestView): Route | undefined {
  const host = hostOnly(req.host);
  let lowerPath: string | undefined;
  let params: URLSearchParams | undefined;
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if (!hostMatches(r.host, host)) continue;
    if (r.ignoreCase ? !prefixMatches(r.pathPrefix, (lowerPath ??= req.path.toLowerCase())) : !prefixMatches(r.pathPrefix, req.path)) continue;
    if (r.methods !== null && !r.methods.has(req.method)) continue;
    if (r.headers.length > 0 && !r.headers.every((h) => h.test(headerOf(req.headers, h.name)))) continue;
    if (r.query.length > 0) {
      params ??= new URLSearchParams(req.query);
      if (!r.query.every((q) => queryMatches(q, params!))) continue;
    }
    return r;
  }
  return undefined;
}

/** A repeated parameter is tested on its first value, as Envoy does. */
function queryMatches(q: QueryMatch, params: URLSearchParams): boolean {
  const v = params.get(q.name);
  if (q.exact !== undefined) return v === q.exact;
  return q.present ? v !== null : v === null;
}

/** The path to send: the matched prefix replaced, the query kept as the client sent it. */
export function rewritePath(r: Route, path: string, query: string): string {
  let out = path;
  if (r.replacePrefix !== null) {
    const rest = path.slice(r.pathPrefix.length);
    const join = r.replacePrefix.endsWith('/') && rest.startsWith('/') ? r.replacePrefix + rest.slice(1) : r.replacePrefix + rest;
    out = join.startsWith('/') ? join : `/${join}`;
  }
  return query === '' ? out : `${out}?${query}`;
}

export type NormalizedPath = { readonly ok: true; readonly path: string; readonly query: string; readonly changed: boolean } | { readonly ok: false; readonly problem: string };

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * The request target's path normalised for routing and forwarding (see the file comment), and
 * its query untouched. A path with no "%", no "//" and no dot segment comes back as it is,
 * without allocating beyond the split at "?".
 */
export function normalizePath(url: string): NormalizedPath {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  if (!needsNormalizing(path)) return { ok: true, path, query, changed: false };
  // Decode only unreserved characters (RFC 3986 6.2.2.2); upper-case the hex of the rest.
  let decoded = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c !== '%') {
      decoded += c;
      continue;
    }
    const hex = path.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { ok: false, problem: `the path has a malformed percent-encoding at "${path.slice(i, i + 3)}"` };
    const ch = String.fromCharCode(parseInt(hex, 16));
    if (ch === '/' || ch === '\\')
      return { ok: false, problem: `the path has an encoded ${ch === '/' ? 'slash (%2F)' : 'backslash (%5C)'}, which a backend could read as a separator the route did not see` };
    decoded += UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
    i += 2;
  }
  const out: string[] = [];
  const segments = decoded.split('/');
  // segments[0] is "" (the path starts with "/"; node refuses anything else but "*" and absolute forms request-checks.ts handles).
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '.' || s === '..') {
      if (s === '..') out.pop();
      if (last) out.push(''); // "/a/.." is "/", "/a/b/." is "/a/b/"
    } else if (s === '' && !last) {
      // "//": merged
    } else out.push(s);
  }
  const normal = `/${out.join('/')}`;
  return { ok: true, path: normal, query, changed: normal !== path };
}

function needsNormalizing(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x25) return true; // %
    if (c === 0x2f) {
      const n = path.charCodeAt(i + 1);
      if (n === 0x2f) return true; // //
      if (n === 0x2e) {
        // "/." or "/.." ending a segment
        const n2 = path.charCodeAt(i + 2);
        if (Number.isNaN(n2) || n2 === 0x2f) return true;
        if (n2 === 0x2e) {
          const n3 = path.charCodeAt(i + 3);
          if (Number.isNaN(n3) || n3 === 0x2f) return true;
        }
      }
    }
  }
  return false;
}
