/**
 * Builds the data plane's Internet-facing protection from `dns` config: each part null when
 * off, so the responder pays one test per query for it. The query log, which the responder
 * also holds, is opened beside it (openQueryLog in src/log/query-log.ts).
 */
import type { Config } from '../config/schema.js';
import { ErrorCode, GslbError } from '../errors.js';
import { generateSecret, parseSecret, ServerCookies } from './cookies.js';
import { nsidOption } from './nsid.js';
import { ResponseRateLimiter } from './rrl.js';

export interface Protection {
  readonly cookies: ServerCookies | null;
  readonly nsid: Buffer | null;
  readonly rrl: ResponseRateLimiter | null;
}

export function createProtection(dns: Config['dns']): Protection {
  const c = dns.cookies;
  if (c.enabled && c.secret === null) throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, 'dns.cookies.secret: missing (withCookieSecret fills it before the data plane starts)');
  const cookies = c.enabled ? new ServerCookies({ secret: parseSecret(c.secret!), previous: c.previousSecret === null ? null : parseSecret(c.previousSecret) }) : null;
  const rrl = dns.rrl.enabled ? new ResponseRateLimiter(dns.rrl) : null;
  return { cookies, nsid: nsidOption(dns.nsid), rrl };
}

/**
 * The config with a random cookie secret when cookies are on without one. Called once by the
 * process that starts the DNS workers, so they all share it: a cookie one worker hands out
 * is valid at every other.
 */
export function withCookieSecret(config: Config): Config {
  if (!config.dns.cookies.enabled || config.dns.cookies.secret !== null) return config;
  const dns = { ...config.dns, cookies: Object.freeze({ ...config.dns.cookies, secret: generateSecret() }) };
  return Object.freeze({ ...config, dns: Object.freeze(dns) });
}
