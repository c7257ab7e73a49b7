import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { formatProblem } from '../problems/problem-list.js';
import { parseAddressAsWritten } from '../net/ip-parse.js';
import { parseName, ROOT } from '../dns/name.js';
import { parseListenAddress } from '../net/listen-address.js';
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
    throw new GslbError(
      ErrorCode.GSLB_ERR_CONFIG_INVALID,
      `${label}:${source?.lineOf('/dns/interfaceScanMs') ?? 0}: dns.interfaceScanMs: ${scanMs} is in milliseconds; must be 0 (only at start and on SIGHUP) or >= 100`,
    );
  }
  config.dns.transfer.allow.forEach((text, i) => {
    const why = prefixProblem(text);
    if (why !== null) throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `${label}:${source?.lineOf(`/dns/transfer/allow/${i}`) ?? 0}: dns.transfer.allow[${i}]: ${why}`);
  });
  config.dns.transfer.notify.forEach((text, i) => {
    try {
      parseListenAddress(text);
    } catch (err) {
      throw new GslbError(
        ErrorCode.GSLB_ERR_CONFIG_INVALID,
        `${label}:${source?.lineOf(`/dns/transfer/notify/${i}`) ?? 0}: dns.transfer.notify[${i}]: ${(err as Error).message.replace(/^listen address/, 'secondary')}`,
      );
    }
  });
  const catalog = config.dns.transfer.catalog;
  if (catalog !== null) {
    try {
      parseName(catalog, ROOT);
    } catch (err) {
      throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `${label}:${source?.lineOf('/dns/transfer/catalog') ?? 0}: dns.transfer.catalog: ${(err as Error).message}`);
    }
    if (catalog === '.') throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `${label}:${source?.lineOf('/dns/transfer/catalog') ?? 0}: dns.transfer.catalog: the root cannot be a catalog zone`);
  }
  const transferKeys = new Set<string>();
  config.dns.transfer.keys.forEach((key, i) => {
    const at = (field: string): string => `${label}:${source?.lineOf(`/dns/transfer/keys/${i}${field === '' ? '' : `/${field}`}`) ?? 0}: dns.transfer.keys[${i}]${field === '' ? '' : `.${field}`}`;
    const why = keyProblem(key, file);
    if (why !== null) throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `${at(why.field)}: ${why.message}`);
    const name = key.name.toLowerCase().replace(/\.$/, '');
    if (transferKeys.has(name)) throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `${at('name')}: "${key.name}" is listed twice`);
    transferKeys.add(name);
  });
  const dnssec = config.dns.dnssec;
  if (dnssec.refreshDays >= dnssec.validityDays) {
    throw new GslbError(
      ErrorCode.GSLB_ERR_CONFIG_INVALID,
      `${label}:${source?.lineOf('/dns/dnssec/refreshDays') ?? 0}: dns.dnssec.refreshDays: ${dnssec.refreshDays} must be below validityDays (${dnssec.validityDays})`,
    );
  }
  // Key folders: relative to the config file, else the working folder (as the zones folder).
  for (const zone of Object.values(dnssec.zones)) zone.keyDir = path.resolve(file !== null ? path.dirname(file) : process.cwd(), zone.keyDir);
  // Zones: relative to the config file, else the working folder. A GeoIP path written in the file is relative to the file; a default one to the project.
  const given = (raw as { geoip?: Record<string, unknown> } | null)?.geoip ?? {};
  const baseFor = (field: string): string => (file !== null && given[field] !== undefined ? path.dirname(file) : packageRoot);
  config.zones.directory = path.resolve(file !== null ? path.dirname(file) : process.cwd(), config.zones.directory);
  if (config.geoip.location !== null) config.geoip.location = path.resolve(baseFor('location'), config.geoip.location);
  if (config.geoip.asn !== null) config.geoip.asn = path.resolve(baseFor('asn'), config.geoip.asn);
  const envListen = env.MERIDIAN_LISTEN?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
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

type TransferKey = Config['dns']['transfer']['keys'][number];

/**
 * Why a TSIG key is unusable, naming the field; null when it is fine. A secretFile is read
 * here and its content becomes `secret`, so the rest of the server sees one form. The
 * messages never quote a secret.
 */
function keyProblem(key: TransferKey, file: string | null): { field: string; message: string } | null {
  try {
    parseName(key.name, ROOT);
  } catch (err) {
    return { field: 'name', message: `"${key.name}" is not a domain name: ${(err as Error).message}` };
  }
  if ((key.secret === undefined) === (key.secretFile === undefined)) return { field: '', message: 'give exactly one of secret and secretFile' };
  if (key.secretFile !== undefined) {
    const where = path.resolve(file !== null ? path.dirname(file) : process.cwd(), key.secretFile);
    let text: string;
    try {
      text = fs.readFileSync(where, 'utf8').trim();
    } catch (err) {
      return { field: 'secretFile', message: `cannot read ${where}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` };
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length > 1024) return { field: 'secretFile', message: `${where} does not hold one base64 secret` };
    (key as { secret?: string }).secret = text;
  }
  if (Buffer.from(key.secret!, 'base64').length === 0) return { field: 'secret', message: 'the secret is empty' };
  return null;
}

/** Why an address or address/prefix is not one (as `ip route` does, host bits past the prefix are refused: a typo, usually); null when it is. */
export function prefixProblem(text: string): string | null {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseAddressAsWritten(addressText);
  if (address === null) return `"${addressText}" is not an IPv4 or IPv6 address`;
  if (slash < 0) return null;
  const bits = address.family === 4 ? 32 : 128;
  const prefixText = text.slice(slash + 1);
  const prefix = /^[0-9]{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix <= bits)) return `"${text}": the prefix length must be a number from 0 to ${bits}`;
  const hostBits = (1n << BigInt(bits - prefix)) - 1n;
  if ((address.value & hostBits) !== 0n) return `"${text}" has host bits set beyond the /${prefix} prefix`;
  return null;
}

/** `nats://a:4222,nats://b:4222` as `--cluster` and MERIDIAN_CLUSTER give it; "" or "off": one node. */
export function parseClusterServers(text: string, what: string): string[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
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
