/**
 * Policy files: `<zone>.policy.yaml` beside `<zone>.zone`. Parses, validates against the
 * schema, checks references (target ids, addresses, CIDRs) and compiles each steered name
 * into the immutable form the data plane reads. Errors name file, line and field.
 */
import fs from 'node:fs';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { RRType } from '../dns/constants.js';
import { Ajv } from 'ajv';
import { parseYamlSource, schemaProblems } from '../config/yaml-source.js';
import { type Name, type NameSyntaxError, nameKey, parseName, isSubdomain, nameToText } from '../dns/name.js';
import type { FileProblem } from '../problems/types.js';
import { ProblemList } from '../problems/problem-list.js';
import { parseIPv4, parseIPv6 } from '../net/ip-parse.js';
import { parseCidr } from './cidr.js';
import { compileLatencyTable } from './latency-table.js';
import { ID_PATTERN, ID_RULE, PolicyFileSchema, type PolicyFile } from './policy-schema.js';
import type { FilterStep, LatencyTable, SteeredName, Target, WhenAllDown } from './types.js';
import { failoverBound, slowerBound, type FailoverBound } from '../health/failover-bound.js';
import type { MonitoredTarget, ProbeSpec } from '../health/types.js';

export interface CompiledPolicy {
  readonly steered: SteeredName[];
  /** Every target of the file, for the health monitor (unprobed ones can still be drained). */
  readonly monitored: MonitoredTarget[];
  readonly problems: FileProblem[];
}

export const POLICY_SUFFIXES = ['.policy.yaml', '.policy.yml', '.policy.json'] as const;

/** The policy file beside a zone file, if there is one. */
export function policyFileFor(zoneFile: string): string | null {
  const base = zoneFile.replace(/\.zone$/, '');
  for (const suffix of POLICY_SUFFIXES) {
    if (fs.existsSync(base + suffix)) return base + suffix;
  }
  return null;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validatePolicy = ajv.compile<PolicyFile>(PolicyFileSchema);
const HINTS = { [ID_PATTERN]: ID_RULE };

/**
 * Largest policy file read, in bytes: room for a latency table of about 90,000 rows. The
 * YAML parser and the schema's error list take up to about 1 KB of memory per node while
 * they run: 8 MiB of `[1,1,1,…]` (4 million bad items) took 3.9 GB and 40 s of CPU, at the
 * edge of the default heap; 4 MiB stays well inside it.
 */
export const MAX_POLICY_BYTES = 4 * 1024 * 1024;

const failed = (problems: FileProblem[]): CompiledPolicy => ({ steered: [], monitored: [], problems });

/** A policy file as one read saw it: its text, or why there is none. */
export type PolicyRead = { readonly text: string } | { readonly problems: FileProblem[] };

/** Reads a policy file once (its size checked first): a reload hashes and compiles these same bytes. */
export function readPolicyFile(file: string): PolicyRead {
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_POLICY_BYTES) {
      return { problems: [{ file, line: 0, message: `${size} bytes is over the ${MAX_POLICY_BYTES}-byte limit for a policy file`, severity: 'error' }] };
    }
    return { text: fs.readFileSync(file, 'utf8') };
  } catch (err) {
    return { problems: [{ file, line: 0, message: `cannot read: ${(err as Error).message}`, severity: 'error' }] };
  }
}

/** Compiles what readPolicyFile read (its problems when it could not). */
export function compilePolicyRead(read: PolicyRead, file: string, origin: Name): CompiledPolicy {
  return 'text' in read ? compilePolicyText(read.text, file, origin) : failed(read.problems);
}

/** Each problem of the text is a file:line value (at most MAX_PROBLEMS_PER_FILE kept); what passes the schema compiles. */
export function compilePolicyText(text: string, file: string, origin: Name): CompiledPolicy {
  const source = parseYamlSource(text, file);
  if (source.problems.length > 0) return failed([...source.problems]);
  const data = structuredClone(source.value);
  if (!validatePolicy(data)) return failed(schemaProblems(validatePolicy, source, file, HINTS));
  const problems = new ProblemList(file);
  const at = (path: readonly (string | number)[], message: string): void => {
    problems.addAt(file, () => source.lineOf(path), `${path.join('.')}: ${message}`);
  };
  const probes = compileProbes(data, at);
  const targets = compileTargets(data, nameKey(origin), at);
  const monitored = monitoredTargets(data, targets, probes, at);
  const latency = compileLatency(data, at);
  // one map for every name of the file: the same for all, and a name × target copy each adds up
  const rdata: SteeredName['rdata'] = new Map([...targets.values()].map((t) => [t.target.id, t.rdata]));
  const steered: SteeredName[] = [];
  for (const [nameText, def] of Object.entries(data.names)) {
    const path = ['names', nameText];
    let owner: Name;
    try {
      owner = parseName(nameText, origin);
    } catch (err) {
      at(path, (err as NameSyntaxError).message);
      continue;
    }
    if (!isSubdomain(owner, origin)) {
      at(path, `${nameToText(owner)} is outside the zone ${nameToText(origin)}`);
      continue;
    }
    const ids = def.targets ?? [...targets.keys()];
    const known = (id: string, p: (string | number)[]): boolean => {
      if (targets.has(id)) return true;
      at(p, `unknown target "${id}"; the targets section defines ${[...targets.keys()].join(', ') || 'none'}`);
      return false;
    };
    ids.forEach((id, i) => known(id, [...path, 'targets', i]));
    checkChain(def.policy as unknown as FilterStep[], [...path, 'policy'], known, at);
    const whenAllDown = compileWhenAllDown(def.whenAllDown);
    if (whenAllDown.action === 'fallback') whenAllDown.targets.forEach((id, i) => known(id, [...path, 'whenAllDown', 'fallback', i]));
    const transferFallback = def.transferFallback === undefined ? null : compileTransferFallback(def.transferFallback, def.ttl, [...path, 'transferFallback'], at);
    if (problems.size > 0) continue;
    const candidates = ids.map((id) => targets.get(id)!.target);
    // the name's bound is its slowest probed target's
    let bound: FailoverBound | null = null;
    for (const t of candidates) {
      const probe = t.probe === null ? undefined : probes.get(t.probe);
      if (probe !== undefined) bound = slowerBound(bound, failoverBound(probe, def.ttl, def.downTtl ?? null));
    }
    steered.push({
      key: nameKey(owner),
      owner,
      ttl: def.ttl,
      targets: candidates,
      chain: def.policy as unknown as FilterStep[],
      whenAllDown,
      fallback: whenAllDown.action === 'fallback' ? whenAllDown.targets.map((id) => targets.get(id)!.target) : [],
      latency,
      rdata,
      downTtl: def.downTtl ?? null,
      transferFallback,
      failover: bound,
      source: { file, line: source.lineOf(path) },
    });
  }
  return problems.size > 0 ? failed(problems.toArray()) : { steered, monitored, problems: [] };
}

const DEFAULT_PORTS = { http: 80, https: 443, balancer: 80 } as const;

function compileProbes(data: PolicyFile, at: Report): Map<string, ProbeSpec> {
  const out = new Map<string, ProbeSpec>();
  for (const [name, p] of Object.entries(data.probes ?? {})) {
    const path = ['probes', name];
    if (p.address !== undefined && isIP(p.address) === 0) at([...path, 'address'], `"${p.address}" is not an IP address`);
    if (p.type === 'tcp' && p.port === undefined) at([...path, 'port'], 'a tcp probe needs a port');
    if (p.timeout >= p.interval * 1000) at([...path, 'timeout'], `timeout ${p.timeout} ms must be shorter than the interval (${p.interval} s)`);
    if (p.body !== undefined) {
      try {
        new RegExp(p.body);
      } catch (err) {
        at([...path, 'body'], `not a regular expression: ${(err as Error).message}`);
      }
    }
    const expect = p.expect.map((e) => {
      const [lo, hi] = String(e).split('-').map(Number);
      return [lo!, hi ?? lo!] as const;
    });
    expect.forEach(([lo, hi], i) => lo > hi && at([...path, 'expect', i], `range ${lo}-${hi} is empty`));
    const common = {
      address: p.address,
      port: p.port ?? (p.type === 'tcp' ? 0 : DEFAULT_PORTS[p.type]),
      intervalSec: p.interval,
      timeoutMs: p.timeout,
      rise: p.rise,
      fall: p.fall,
      jitterMs: Math.min(p.jitter, p.interval * 500),
    };
    let spec: ProbeSpec;
    if (p.type === 'tcp') spec = { ...common, type: 'tcp' };
    else if (p.type === 'balancer') spec = { ...common, type: 'balancer', path: p.path ?? '/healthz', https: false, verifyTls: p.verifyTls };
    else {
      spec = {
        ...common,
        type: p.type,
        method: p.method,
        path: p.path ?? '/',
        host: p.host,
        sni: p.sni,
        expect,
        bodyMatch: p.body,
        headers: p.headers,
        verifyTls: p.verifyTls,
        slowMs: p.slow,
      };
    }
    out.set(name, Object.freeze(spec));
  }
  return out;
}

function monitoredTargets(data: PolicyFile, targets: Map<string, CompiledTarget>, probes: Map<string, ProbeSpec>, at: Report): MonitoredTarget[] {
  const out: MonitoredTarget[] = [];
  for (const [id, t] of Object.entries(data.targets)) {
    if (t.probe === undefined) {
      if (t.probeAddress !== undefined) at(['targets', id, 'probeAddress'], 'probeAddress without a probe');
      const target = targets.get(id)!.target;
      out.push({ key: target.key, region: target.region, address: t.ipv4[0] ?? t.ipv6[0] ?? '', probe: null });
      continue;
    }
    const spec = probes.get(t.probe);
    if (!spec) {
      at(['targets', id, 'probe'], `unknown probe "${t.probe}"; the probes section defines ${[...probes.keys()].join(', ') || 'none'}`);
      continue;
    }
    if (t.probeAddress !== undefined && isIP(t.probeAddress) === 0) at(['targets', id, 'probeAddress'], `"${t.probeAddress}" is not an IP address`);
    const address = t.probeAddress ?? spec.address ?? t.ipv4[0] ?? t.ipv6[0]!;
    const target = targets.get(id)!.target;
    out.push({ key: target.key, region: target.region, address, probe: spec });
  }
  return out;
}

type Report = (path: readonly (string | number)[], message: string) => void;

interface CompiledTarget {
  target: Target;
  rdata: { a: Buffer[]; aaaa: Buffer[] };
}

function compileTargets(data: PolicyFile, zoneKey: string, at: Report): Map<string, CompiledTarget> {
  const out = new Map<string, CompiledTarget>();
  for (const [id, t] of Object.entries(data.targets)) {
    const path = ['targets', id];
    // The A and AAAA RDATA of the answers: the address octets, parsed as a zone file's A and AAAA are.
    const a = rdataOf(t.ipv4, parseIPv4, (i, text) => at([...path, 'ipv4', i], `"${text}" is not an IPv4 address`));
    const aaaa = rdataOf(t.ipv6, parseIPv6, (i, text) => at([...path, 'ipv6', i], `"${text}" is not an IPv6 address${text.includes('%') ? ' an answer can carry (no %zone index)' : ''}`));
    if (t.ipv4.length + t.ipv6.length === 0) at(path, 'a target needs at least one address in ipv4 or ipv6');
    out.set(id, {
      target: Object.freeze({
        id,
        key: `${zoneKey}/${id}`,
        region: t.region,
        ipv4: Object.freeze([...t.ipv4]),
        ipv6: Object.freeze([...t.ipv6]),
        location: t.location ? Object.freeze({ lat: t.location.lat, lon: t.location.lon }) : null,
        weight: t.weight,
        bias: t.bias,
        probe: t.probe ?? null,
        enabled: t.enabled,
      }),
      rdata: a !== null && aaaa !== null ? { a, aaaa } : { a: [], aaaa: [] },
    });
  }
  return out;
}

/**
 * A name's `transferFallback`: each address of its family, none twice (as written or as
 * encoded: 2001:db8::1 and 2001:DB8:0::1 are one), and at least one: an empty set would
 * make the secondaries answer NODATA, which a transfer never does for a steered name.
 */
function compileTransferFallback(def: NonNullable<PolicyFile['names'][string]['transferFallback']>, ttl: number, path: readonly (string | number)[], at: Report): SteeredName['transferFallback'] {
  const encode = (field: 'ipv4' | 'ipv6', type: number, valid: (a: string) => boolean, other: (a: string) => boolean): Buffer[] => {
    const out: Buffer[] = [];
    def[field].forEach((a, i) => {
      const p = [...path, field, i];
      const octets = valid(a) ? (type === RRType.A ? parseIPv4(a) : parseIPv6(a)) : null;
      if (octets === null)
        return at(
          p,
          `"${a}" is not an ${field === 'ipv4' ? 'IPv4' : 'IPv6'} address${other(a) ? ` (it is an ${field === 'ipv4' ? 'IPv6' : 'IPv4'} one: list it under ${field === 'ipv4' ? 'ipv6' : 'ipv4'})` : ''}`,
        );
      const rdata = Buffer.from(octets.buffer, octets.byteOffset, octets.byteLength);
      const first = out.findIndex((r) => r.equals(rdata));
      if (first >= 0) return at(p, `"${a}" is listed twice (as ${field}.${first} too)`);
      out.push(rdata);
    });
    return out;
  };
  const a = encode('ipv4', RRType.A, isIPv4, isIPv6);
  const aaaa = encode('ipv6', RRType.AAAA, isIPv6, isIPv4);
  if (def.ipv4.length + def.ipv6.length === 0) at(path, 'needs at least one address in ipv4 or ipv6 (leave transferFallback out to send the targets up at the time of the transfer)');
  return { ttl: def.ttl ?? ttl, a, aaaa };
}

/** Each address's octets as RDATA; null (each bad one reported) when any is not an address. */
function rdataOf(texts: readonly string[], parse: (text: string) => Uint8Array | null, bad: (i: number, text: string) => void): Buffer[] | null {
  const out: Buffer[] = [];
  texts.forEach((text, i) => {
    const octets = parse(text);
    if (octets === null) bad(i, text);
    else out.push(Buffer.from(octets.buffer, octets.byteOffset, octets.byteLength));
  });
  return out.length === texts.length ? out : null;
}

function compileLatency(data: PolicyFile, at: Report): LatencyTable {
  const rows = data.latency ?? [];
  rows.forEach((row, i) => {
    const kinds = ['cidr', 'asn', 'country', 'continent'].filter((k) => (row as Record<string, unknown>)[k] !== undefined);
    if (kinds.length !== 1) at(['latency', i], 'each row needs exactly one of cidr, asn, country, continent');
    if (row.cidr !== undefined) {
      try {
        parseCidr(row.cidr);
      } catch (err) {
        at(['latency', i, 'cidr'], (err as Error).message);
      }
    }
  });
  try {
    return compileLatencyTable(rows);
  } catch {
    return compileLatencyTable([]);
  }
}

function compileWhenAllDown(value: PolicyFile['names'][string]['whenAllDown']): WhenAllDown {
  if (value === undefined || value === 'fail-open') return { action: 'fail-open' };
  if (value === 'nodata') return { action: 'nodata' };
  if (value === 'servfail') return { action: 'servfail' };
  return { action: 'fallback', targets: value.fallback };
}

/** Checks target references and CIDRs in a chain, recursing into groups. */
function checkChain(chain: readonly FilterStep[], path: (string | number)[], known: (id: string, p: (string | number)[]) => boolean, at: Report): void {
  chain.forEach((step, i) => {
    const p = [...path, i];
    if ('geo' in step) {
      step.geo.rules.forEach((rule, r) => {
        rule.targets.forEach((id, k) => known(id, [...p, 'geo', 'rules', r, 'targets', k]));
        (rule.cidrs ?? []).forEach((c, k) => {
          try {
            parseCidr(c);
          } catch (err) {
            at([...p, 'geo', 'rules', r, 'cidrs', k], (err as Error).message);
          }
        });
        const criteria = ['continents', 'countries', 'subdivisions', 'asns', 'cidrs'].filter((k) => (rule as unknown as Record<string, unknown>)[k] !== undefined);
        if (criteria.length === 0) at([...p, 'geo', 'rules', r], 'a rule needs at least one of continents, countries, subdivisions, asns, cidrs');
        if (rule.chain) checkChain(rule.chain, [...p, 'geo', 'rules', r, 'chain'], known, at);
      });
      if (step.geo.default) {
        step.geo.default.targets.forEach((id, k) => known(id, [...p, 'geo', 'default', 'targets', k]));
        if (step.geo.default.chain) checkChain(step.geo.default.chain, [...p, 'geo', 'default', 'chain'], known, at);
      }
    } else if ('failover' in step) {
      step.failover.groups.forEach((g, gi) => {
        g.targets.forEach((id, k) => known(id, [...p, 'failover', 'groups', gi, 'targets', k]));
        if (g.chain) checkChain(g.chain, [...p, 'failover', 'groups', gi, 'chain'], known, at);
      });
    }
  });
}
