/** Routing rules: host (exact or *.suffix) and path prefix to a pool; first match wins. */
import type { BalancerConfig } from './config.js';

export interface Route {
  /** Lower-case host without port; "*.example.com" matches any subdomain; undefined matches all. */
  readonly host: string | undefined;
  readonly pathPrefix: string;
  readonly pool: string;
}

export function compileRoutes(config: BalancerConfig): Route[] {
  const routes: Route[] = config.routes.map((r) => ({ host: r.host?.toLowerCase(), pathPrefix: r.pathPrefix, pool: r.pool }));
  if (config.pools.default !== undefined) routes.push({ host: undefined, pathPrefix: '/', pool: 'default' });
  return routes;
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

/** The pool name for a request, or undefined when no rule matches. */
export function matchRoute(routes: readonly Route[], hostHeader: string | undefined, url: string): string | undefined {
  const host = hostOnly(hostHeader);
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if (hostMatches(r.host, host) && url.startsWith(r.pathPrefix)) return r.pool;
  }
  return undefined;
}
