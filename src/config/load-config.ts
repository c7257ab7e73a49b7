import fs from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { ErrorCode, GslbError } from '../errors.js';
import { ConfigSchema, type Config } from './schema.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validate = ajv.compile<Config>(ConfigSchema);

/** Command-line and environment values that win over the file. */
export interface ConfigOverrides {
  listen?: string[];
  zonesDir?: string;
  logLevel?: string;
}

/**
 * Reads a YAML or JSON config (JSON is YAML), fills defaults, validates against the
 * schema, applies overrides, and deep-freezes the result. Errors name file, line and field.
 */
export function loadConfig(file: string | null, overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown = {};
  let lineOf = (_pointer: string): number => 0;
  const label = file ?? '(defaults)';
  if (file !== null) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new GslbError(ErrorCode.CONFIG_INVALID, `${file}:0: cannot read the config file: ${(err as Error).message}`);
    }
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
    if (doc.errors.length > 0) {
      const details = doc.errors.map((e) => `${file}:${e.linePos?.[0]?.line ?? 0}: ${e.message.split('\n')[0]}`);
      throw new GslbError(ErrorCode.CONFIG_INVALID, details.join('\n'), details);
    }
    raw = doc.toJS() ?? {};
    lineOf = (pointer: string): number => {
      const keys = pointer.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
      for (let n = keys.length; n >= 0; n--) {
        const node = doc.getIn(keys.slice(0, n), true);
        if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
      }
      return 1;
    };
  }
  const candidate = structuredClone(raw);
  if (!validate(candidate)) {
    const details = (validate.errors ?? []).map((e) => `${label}:${lineOf(e.instancePath)}: ${describe(e)}`);
    throw new GslbError(ErrorCode.CONFIG_INVALID, details.join('\n'), details);
  }
  const config = candidate;
  if (file !== null) config.zones.directory = path.resolve(path.dirname(file), config.zones.directory);
  const envListen = env.MERIDIAN_LISTEN?.split(',').map((s) => s.trim()).filter(Boolean);
  const listen = overrides.listen?.length ? overrides.listen : envListen?.length ? envListen : null;
  if (listen) config.dns.listen = listen;
  const zonesDir = overrides.zonesDir ?? env.MERIDIAN_ZONES;
  if (zonesDir) config.zones.directory = path.resolve(zonesDir);
  const level = overrides.logLevel ?? env.MERIDIAN_LOG_LEVEL;
  if (level) {
    const allowed = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
    if (!allowed.includes(level)) throw new GslbError(ErrorCode.CONFIG_INVALID, `log level "${level}" is not one of ${allowed.join(', ')}`);
    config.log.level = level as Config['log']['level'];
  }
  return deepFreeze(config);
}

function describe(e: ErrorObject): string {
  const field = e.instancePath === '' ? '(top level)' : e.instancePath.slice(1).replace(/\//g, '.');
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return `${field === '(top level)' ? '' : field + '.'}${extra}: unknown field`;
  }
  return `${field}: ${e.message ?? 'is invalid'}`;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
