import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { formatProblem } from '../problems/problem-list.js';
import { describeSchemaError, parseYamlSource, type YamlSource } from './yaml-source.js';
import { ErrorCode, GslbError } from '../errors.js';
import { ConfigSchema, type Config } from './schema.js';

/** The folder holding package.json (dist/src/config/ → three levels up), where the default GeoIP files live. */
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validate = ajv.compile<Config>(ConfigSchema);

/** Command-line and environment values that win over the file. */
export interface ConfigOverrides {
  listen?: string[];
  /** Admin API address; null turns the API off. */
  admin?: string | null;
  zonesDir?: string;
  logLevel?: string;
  /** DNS worker processes (`--workers`, env MERIDIAN_WORKERS). */
  workers?: number;
  /** NATS servers of the cluster store (`--cluster a,b`, env MERIDIAN_CLUSTER). */
  cluster?: string;
}

export const MAX_WORKERS = 256;

/** Parses a worker count as the CLI and the environment give it: a whole number 1..256, else a message saying so. */
export function parseWorkers(text: string, what: string): number {
  const n = /^[0-9]{1,3}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!(n >= 1 && n <= MAX_WORKERS)) throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `${what}: "${text}" is not a whole number from 1 to ${MAX_WORKERS}`);
  return n;
}

/**
 * Reads a YAML or JSON config (JSON is YAML), fills defaults, validates against the
 * schema, applies overrides, and deep-freezes the result. Errors name file, line and field.
 */
export function loadConfig(file: string | null, overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown = {};
  let source: YamlSource | null = null;
  const label = file ?? '(defaults)';
  if (file !== null) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `${file}:0: cannot read the config file: ${(err as Error).message}`);
    }
    source = parseYamlSource(text, file);
    if (source.problems.length > 0) {
      const details = source.problems.map(formatProblem);
      throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, details.join('\n'), details);
    }
    raw = source.value;
  }
  const candidate = structuredClone(raw);
  if (!validate(candidate)) {
    const details = (validate.errors ?? []).map((e) => `${label}:${source?.lineOf(e.instancePath) ?? 0}: ${describeSchemaError(e)}`);
    throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, details.join('\n'), details);
  }
  const config = candidate;
  // A schema cannot say "0 or at least 100" with a readable error; 60 here usually means seconds.
  const scanMs = config.dns.interfaceScanMs;
  if (scanMs > 0 && scanMs < 100) {
    throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `${label}:${source?.lineOf('/dns/interfaceScanMs') ?? 0}: dns.interfaceScanMs: ${scanMs} is in milliseconds; must be 0 (only at start and on SIGHUP) or >= 100`);
  }
  const dnssec = config.dns.dnssec;
  if (dnssec.refreshDays >= dnssec.validityDays) {
    throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `${label}:${source?.lineOf('/dns/dnssec/refreshDays') ?? 0}: dns.dnssec.refreshDays: ${dnssec.refreshDays} must be below validityDays (${dnssec.validityDays})`);
  }
  // Key folders: relative to the config file, else the working folder (as the zones folder).
  for (const zone of Object.values(dnssec.zones)) zone.keyDir = path.resolve(file !== null ? path.dirname(file) : process.cwd(), zone.keyDir);
  // Zones: relative to the config file, else the working folder. A GeoIP path written in the file is relative to the file; a default one to the project.
  const given = (raw as { geoip?: Record<string, unknown> } | null)?.geoip ?? {};
  const baseFor = (field: string): string => (file !== null && given[field] !== undefined ? path.dirname(file) : packageRoot);
  config.zones.directory = path.resolve(file !== null ? path.dirname(file) : process.cwd(), config.zones.directory);
  if (config.geoip.location !== null) config.geoip.location = path.resolve(baseFor('location'), config.geoip.location);
  if (config.geoip.asn !== null) config.geoip.asn = path.resolve(baseFor('asn'), config.geoip.asn);
  const envListen = env.MERIDIAN_LISTEN?.split(',').map((s) => s.trim()).filter(Boolean);
  const listen = overrides.listen?.length ? overrides.listen : envListen?.length ? envListen : null;
  if (listen) config.dns.listen = listen;
  if (overrides.admin !== undefined) config.admin.listen = overrides.admin;
  else if (env.MERIDIAN_ADMIN !== undefined) config.admin.listen = env.MERIDIAN_ADMIN === '' || env.MERIDIAN_ADMIN === 'off' ? null : env.MERIDIAN_ADMIN;
  const envToken = env.MERIDIAN_ADMIN_TOKEN;
  if (envToken) {
    if (envToken.length < 16) throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, 'MERIDIAN_ADMIN_TOKEN: must be at least 16 characters');
    config.admin.tokens = [{ name: 'MERIDIAN_ADMIN_TOKEN', token: envToken, access: 'write' }, ...config.admin.tokens];
  }
  if (overrides.workers !== undefined) config.dns.workers = parseWorkers(String(overrides.workers), '--workers');
  else if (env.MERIDIAN_WORKERS) config.dns.workers = parseWorkers(env.MERIDIAN_WORKERS, 'MERIDIAN_WORKERS');
  const cluster = overrides.cluster ?? env.MERIDIAN_CLUSTER;
  if (cluster !== undefined) config.cluster.servers = parseClusterServers(cluster, overrides.cluster !== undefined ? '--cluster' : 'MERIDIAN_CLUSTER');
  for (const [i, url] of config.cluster.servers.entries()) checkNatsUrl(url, `${label}:${source?.lineOf(`/cluster/servers/${i}`) ?? 0}: cluster.servers[${i}]`);
  const tls = config.cluster.tls;
  if ((tls.certFile === null) !== (tls.keyFile === null)) {
    throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `${label}:${source?.lineOf('/cluster/tls') ?? 0}: cluster.tls: certFile and keyFile go together`);
  }
  if (config.cluster.password !== null && config.cluster.user === null) {
    throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `${label}:${source?.lineOf('/cluster/password') ?? 0}: cluster.password: needs cluster.user`);
  }
  const zonesDir = overrides.zonesDir ?? env.MERIDIAN_ZONES;
  if (zonesDir) config.zones.directory = path.resolve(zonesDir);
  const level = overrides.logLevel ?? env.MERIDIAN_LOG_LEVEL;
  if (level) {
    const allowed = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
    if (!allowed.includes(level)) throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `log level "${level}" is not one of ${allowed.join(', ')}`);
    config.log.level = level as Config['log']['level'];
  }
  return deepFreeze(config);
}

/** `nats://a:4222,nats://b:4222` as `--cluster` and MERIDIAN_CLUSTER give it; "" or "off": one node. */
export function parseClusterServers(text: string, what: string): string[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0 || (list.length === 1 && list[0] === 'off')) return [];
  for (const url of list) checkNatsUrl(url, what);
  return list;
}

/** A server URL the NATS client takes: nats:// or tls://, a host, a port from 1 to 65535, nothing else. */
function checkNatsUrl(url: string, what: string): void {
  const m = /^(nats|tls):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(url);
  if (m === null || Number(m[3]) < 1 || Number(m[3]) > 65_535) {
    throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `${what}: "${url}" is not a NATS server URL (nats://HOST:PORT or tls://HOST:PORT)`);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
