/**
 * Admin writes to zones and policies. Each change is validated in full (the same parser,
 * RDATA codecs, zone checks and policy schema as the files), written atomically with the
 * SOA serial bumped, reloaded and published before the caller answers 2xx. Writes run one
 * at a time; If-Match on the serial turns a stale write into 412.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { RRType, typeFromText, typeToText } from '../dns/constants.js';
import { isSubdomain, nameKey, nameToText, parseName, type Name } from '../dns/name.js';
import { compilePolicyText, policyFileFor } from '../steer/policy-file.js';
import { syncDir, writeFileAtomic, writeFileAtomicAsync } from '../storage/atomic-write.js';
import { encodeRdataText, RdataError, rdataToText } from '../zone/rdata/index.js';
import { tokenizeText } from '../zone/tokenizer.js';
import { parseYamlSource } from '../config/yaml-source.js';
import { formatProblem } from '../problems/problem-list.js';
import type { ZoneRecord } from '../zone/record.js';
import { bumpSerial, serializeZone, serializeZoneSliced, zoneRecords } from '../zone/serialize.js';
import { buildZone, type Zone } from '../zone/zone.js';
import { updateZoneSliced, type RRsetChange } from '../zone/zone-update.js';
import { TimeSlicer } from '../zone/time-slice.js';
import { originFromFileName, ZONE_FILE_SUFFIX, type ZoneDirectory, type ZoneFileStatus } from '../zone/zone-directory.js';
import { AdminError, badRequest, conflict, notFound, stale } from './errors.js';

export interface RRsetBody {
  readonly ttl: number;
  readonly rdata: readonly string[];
}

export type BatchOp =
  | { readonly op: 'put'; readonly name: string; readonly type: string; readonly ttl: number; readonly rdata: readonly string[] }
  | { readonly op: 'delete'; readonly name: string; readonly type: string };

export interface WriteResult {
  readonly zone: string;
  readonly serial: number;
  readonly previousSerial: number | null;
}

const API_SOURCE = { file: '(admin API)', line: 0 };
const NOTE = 'written by the meridian admin API; edit through the API or by hand, comments are not kept';

export class ZoneEditor {
  readonly #dir: ZoneDirectory;
  readonly #reload: () => void;
  readonly #publish: (zones: ReadonlyMap<string, Zone>) => void;

  /**
   * `reload` re-reads changed files and publishes a snapshot (the zone reloader); `publish`
   * publishes zones an incremental write built.
   */
  constructor(dir: ZoneDirectory, reload: () => void, publish: (zones: ReadonlyMap<string, Zone>) => void) {
    this.#dir = dir;
    this.#reload = reload;
    this.#publish = publish;
  }

  /**
   * Runs writes one after another, and never during an off-thread reload, so If-Match checks
   * and writes never interleave. Each starts by re-reading changed files, so a hand edit not
   * yet picked up is built upon, not overwritten.
   */
  #serial<T>(work: () => T | Promise<T>): Promise<T> {
    return this.#dir.exclusive(() => {
      this.#reload();
      return work();
    });
  }

  status(zoneName: string): ZoneFileStatus {
    const key = nameKey(parseOrigin(zoneName));
    const s = this.#dir.statuses.find((st) => nameKey(st.origin) === key);
    if (!s) throw notFound(`zone ${zoneName}`);
    return s;
  }

  zone(zoneName: string): Zone {
    const s = this.status(zoneName);
    if (!s.zone) throw new AdminError(409, 'GSLB_ERR_ZONE_INVALID', `zone ${zoneName} has no valid version loaded`, null, s.problems.map(formatProblem));
    return s.zone;
  }

  /** The RRsets of a zone, optionally only those owned by `name` / of `type`. */
  records(zoneName: string, name?: string, type?: string): Array<{ name: string; type: string; ttl: number; rdata: string[] }> {
    const zone = this.zone(zoneName);
    const owner = name === undefined ? null : nameKey(parseOwner(name, zone.origin));
    const qtype = type === undefined ? null : parseType(type);
    const out = new Map<string, { name: string; type: string; ttl: number; rdata: string[] }>();
    for (const r of zoneRecords(zone)) {
      if (owner !== null && nameKey(r.owner) !== owner) continue;
      if (qtype !== null && r.type !== qtype) continue;
      const k = `${nameKey(r.owner)}|${r.type}`;
      const entry = out.get(k) ?? { name: nameToText(r.owner), type: typeToText(r.type), ttl: r.ttl, rdata: [] };
      entry.rdata.push(rdataToText(r.type, r.rdata));
      out.set(k, entry);
    }
    return [...out.values()];
  }

  putRRset(zoneName: string, name: string, type: string, body: RRsetBody, ifMatch: string | undefined): Promise<WriteResult> {
    return this.batch(zoneName, [{ op: 'put', name, type, ttl: body.ttl, rdata: body.rdata }], ifMatch);
  }

  deleteRRset(zoneName: string, name: string, type: string, ifMatch: string | undefined): Promise<WriteResult> {
    return this.batch(zoneName, [{ op: 'delete', name, type }], ifMatch);
  }

  /** Applies every operation or none. */
  batch(zoneName: string, ops: readonly BatchOp[], ifMatch: string | undefined): Promise<WriteResult> {
    return this.#serial(() => {
      const status = this.status(zoneName);
      const zone = this.zone(zoneName);
      checkIfMatch(ifMatch, zone.serial);
      const changes: RRsetChange[] = [];
      // Whether each RRset exists after the operations so far, for a delete's 404.
      const present = new Map<string, boolean>();
      ops.forEach((op, i) => {
        const field = ops.length === 1 ? '' : `operations[${i}].`;
        const owner = parseOwner(op.name, zone.origin, `${field}name`);
        const type = parseType(op.type, `${field}type`);
        if (type === RRType.SOA && op.op === 'delete') throw badRequest(`${field}type`, 'the SOA cannot be deleted');
        const key = `${nameKey(owner)}|${type}`;
        const exists = present.get(key) ?? zone.nodes.get(nameKey(owner))?.rrsets.has(type) ?? false;
        if (op.op === 'delete' && !exists) throw notFound(`${typeToText(type)} records at ${nameToText(owner)}`);
        present.set(key, op.op === 'put');
        if (op.op === 'delete') {
          changes.push({ owner, type, class: 1, ttl: 0, rdatas: null, source: API_SOURCE });
          return;
        }
        if (op.rdata.length === 0) throw badRequest(`${field}rdata`, 'needs at least one record; use DELETE to remove the RRset');
        if (type === RRType.SOA && op.rdata.length !== 1) throw badRequest(`${field}rdata`, 'a zone has exactly one SOA');
        const rdatas = op.rdata.map((text, j) => {
          try {
            return encodeApiRdata(type, text, zone.origin);
          } catch (err) {
            throw badRequest(`${field}rdata[${j}]`, (err as Error).message);
          }
        });
        changes.push({ owner, type, class: 1, ttl: op.ttl, rdatas, source: API_SOURCE });
      });
      return this.#writeChanges(status, zone, changes);
    });
  }

  /**
   * The write path of record changes, as Knot applies a zone update: the new zone is built
   * from the old by copy-on-write (zone-update.ts), written to disk in time slices and with
   * the file I/O off the event loop, then served as built. Nothing is acknowledged before the
   * file is renamed into place and synced.
   */
  async #writeChanges(status: ZoneFileStatus, zone: Zone, changes: RRsetChange[]): Promise<WriteResult> {
    const lastSoa = changes.filter((c) => c.type === RRType.SOA && nameKey(c.owner) === zone.originKey).pop();
    const soaRdata = lastSoa?.rdatas?.[0] ?? zone.soa.rdatas[0]!;
    const previous = zone.serial;
    const bumped = bumpSerial(soaRdata, Math.max(previous, soaSerial(soaRdata)));
    changes.push({ owner: zone.soa.owner, type: RRType.SOA, class: 1, ttl: lastSoa?.ttl ?? zone.soa.ttl, rdatas: [bumped], source: lastSoa?.source ?? zone.soa.source });
    const slicer = new TimeSlicer();
    const built = await updateZoneSliced(zone, changes, slicer);
    rejectProblems(built.problems);
    const next = built.zone!;
    await writeFileAtomicAsync(status.file, await serializeZoneSliced(next, NOTE, slicer));
    this.#publish(this.#dir.adopt(status.file, next));
    return { zone: nameToText(zone.origin), serial: next.serial, previousSerial: previous };
  }

  /** Creates `<name>.zone` with an SOA and NS records (and any extra records). */
  createZone(body: { name: string; ttl: number; soa: { mname: string; rname: string; refresh: number; retry: number; expire: number; minimum: number }; ns: string[]; records?: Array<{ name: string; type: string; ttl?: number; rdata: string[] }> }): Promise<WriteResult> {
    return this.#serial(() => {
      const origin = parseOrigin(body.name, 'name');
      if (this.#dir.statuses.some((s) => nameKey(s.origin) === nameKey(origin))) throw conflict(`zone ${nameToText(origin)} exists`);
      const base = `${nameToText(origin).replace(/\.$/, '') || 'root'}${ZONE_FILE_SUFFIX}`;
      // The file name must load back as this very zone, inside the zones folder.
      if (base.includes('/') || base.includes('\\') || base.startsWith('.') || !loadsAs(base, origin)) {
        throw badRequest('name', `"${body.name}" cannot be stored as a zone file name; use letters, digits, "-" and "_" in labels`);
      }
      const file = path.join(this.#dir.directory, base);
      const records: ZoneRecord[] = [];
      const add = (owner: Name, type: number, ttl: number, text: string, field: string): void => {
        try {
          records.push({ owner, type, class: 1, ttl, rdata: encodeApiRdata(type, text, origin), source: API_SOURCE });
        } catch (err) {
          throw badRequest(field, (err as Error).message);
        }
      };
      const s = body.soa;
      add(origin, RRType.SOA, body.ttl, `${s.mname} ${s.rname} 1 ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`, 'soa');
      body.ns.forEach((ns, i) => add(origin, RRType.NS, body.ttl, ns, `ns[${i}]`));
      (body.records ?? []).forEach((r, i) => {
        const owner = parseOwner(r.name, origin, `records[${i}].name`);
        const type = parseType(r.type, `records[${i}].type`);
        r.rdata.forEach((text, j) => add(owner, type, r.ttl ?? body.ttl, text, `records[${i}].rdata[${j}]`));
      });
      const built = buildZone(origin, file, records);
      rejectProblems(built.problems);
      writeFileAtomic(file, serializeZone(origin, records, NOTE));
      this.#reload();
      if (!this.#dir.statuses.some((st) => st.file === file && st.zone !== null)) {
        throw new AdminError(500, 'GSLB_ERR_API_RELOAD', 'the zone was written but did not load');
      }
      return { zone: nameToText(origin), serial: 1, previousSerial: null };
    });
  }

  deleteZone(zoneName: string, ifMatch: string | undefined): Promise<WriteResult> {
    return this.#serial(() => {
      const status = this.status(zoneName);
      if (status.zone) checkIfMatch(ifMatch, status.zone.serial);
      const policy = policyFileFor(status.file);
      fs.rmSync(status.file, { force: true });
      if (policy) fs.rmSync(policy, { force: true });
      syncDir(path.dirname(status.file));
      this.#reload();
      return { zone: nameToText(status.origin), serial: 0, previousSerial: status.zone?.serial ?? null };
    });
  }

  /** The policy file as data (null when the zone has none). */
  policy(zoneName: string): unknown {
    const status = this.status(zoneName);
    const file = policyFileFor(status.file);
    if (!file) return null;
    return parseYamlSource(fs.readFileSync(file, 'utf8'), file).value ?? null;
  }

  /** Replaces the policy (null deletes it), validated by the policy schema against the zone. */
  putPolicy(zoneName: string, policy: unknown | null, ifMatch: string | undefined): Promise<WriteResult> {
    return this.#serial(() => {
      const status = this.status(zoneName);
      const zone = this.zone(zoneName);
      checkIfMatch(ifMatch, zone.serial);
      const existing = policyFileFor(status.file);
      if (policy === null && existing === null) throw notFound(`a policy for ${zoneName}`);
      const target = existing ?? status.file.replace(/\.zone$/, '.policy.yaml');
      return this.#writeZone(status, zone, zoneRecords(zone), { file: target, policy });
    });
  }

  /** One part of the policy (targets.<id>, names.<name>, probes.<id>), or undefined. */
  policyEntry(zoneName: string, section: PolicySection, id: string): unknown {
    const part = sectionOf(this.policy(zoneName), section);
    // own keys only: "constructor" or "toString" must not find Object.prototype's
    return Object.hasOwn(part, id) ? part[id] : undefined;
  }

  /** Read-modify-write of one part of the policy (targets.<id>, names.<name>, probes.<id>). */
  patchPolicy(zoneName: string, section: PolicySection, id: string, value: unknown | null, ifMatch: string | undefined): Promise<WriteResult> {
    if (RESERVED_KEYS.has(id)) throw badRequest('id', `"${id}" is reserved and cannot name a policy entry`);
    const doc = (this.policy(zoneName) ?? { targets: {}, names: {} }) as Record<string, unknown>;
    // A null-prototype copy: any id is a plain own key here, never a prototype or a method.
    const part: Record<string, unknown> = Object.assign(Object.create(null) as Record<string, unknown>, sectionOf(doc, section));
    if (value === null) {
      if (!Object.hasOwn(part, id)) throw notFound(`${section}.${id} in the policy of ${zoneName}`);
      delete part[id];
    } else {
      part[id] = value;
    }
    return this.putPolicy(zoneName, { ...doc, [section]: { ...part } }, ifMatch);
  }

  /** Validates everything, then writes the policy (if given) and the zone with a bumped serial, then reloads. */
  #writeZone(status: ZoneFileStatus, zone: Zone, records: ZoneRecord[], policy: { file: string; policy: unknown | null } | null): WriteResult {
    const soa = records.find((r) => r.type === RRType.SOA && nameKey(r.owner) === zone.originKey);
    if (!soa) throw badRequest('type', 'the zone needs its SOA');
    const previous = zone.serial;
    const bumped = { ...soa, rdata: bumpSerial(soa.rdata, Math.max(previous, soaSerial(soa.rdata))) };
    const next = records.map((r) => (r === soa ? bumped : r));

    let policyText: string | null = null;
    let compiled;
    if (policy) {
      if (policy.policy !== null) {
        checkDepth(policy.policy);
        policyText = `# ${NOTE}\n` + toYaml(policy.policy);
        try {
          compiled = compilePolicyText(policyText, policy.file, zone.origin);
        } catch (err) {
          // The compiler is meant to report problems, not throw; if it throws anyway, the
          // input is what it could not take: refuse it and keep the file as it was.
          throw badRequest('policy', `cannot be compiled: ${(err as Error).message}`);
        }
        rejectProblems(compiled.problems, 'policy');
      }
    } else {
      const file = policyFileFor(status.file);
      compiled = file ? compilePolicyText(fs.readFileSync(file, 'utf8'), file, zone.origin) : undefined;
    }
    const built = buildZone(zone.origin, status.file, next, compiled?.steered ?? [], compiled?.monitored ?? []);
    rejectProblems(built.problems);

    if (policy) {
      if (policyText !== null) writeFileAtomic(policy.file, policyText);
      else if (fs.existsSync(policy.file)) {
        fs.rmSync(policy.file);
        syncDir(path.dirname(policy.file));
      }
    }
    writeFileAtomic(status.file, serializeZone(zone.origin, next, NOTE));
    this.#reload();
    const after = this.status(nameToText(zone.origin));
    if (after.zone?.serial !== soaSerial(bumped.rdata)) {
      throw new AdminError(500, 'GSLB_ERR_API_RELOAD', 'the change was written but did not load', null, after.problems.map(formatProblem));
    }
    return { zone: nameToText(zone.origin), serial: after.zone.serial, previousSerial: previous };
  }
}

export type PolicySection = 'targets' | 'names' | 'probes';

/** Keys that JavaScript objects give a meaning of their own (a YAML or JSON map key `__proto__` sets the prototype). */
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__']);

function sectionOf(doc: unknown, section: PolicySection): Record<string, unknown> {
  const part = doc !== null && typeof doc === 'object' && Object.hasOwn(doc, section) ? (doc as Record<string, unknown>)[section] : undefined;
  return part !== null && typeof part === 'object' ? (part as Record<string, unknown>) : {};
}

/** Far deeper than any policy needs (names.<n>.policy[i].failover.groups[j].targets is 7). */
const MAX_POLICY_DEPTH = 32;

/** Refuses a policy nested deeper than MAX_POLICY_DEPTH, before anything recursive (YAML) meets it. */
function checkDepth(value: unknown, depth = 0, field = 'policy'): void {
  if (value === null || typeof value !== 'object') return;
  if (depth >= MAX_POLICY_DEPTH) throw badRequest(field, `is nested more than ${MAX_POLICY_DEPTH} levels deep`);
  for (const [k, v] of Object.entries(value)) checkDepth(v, depth + 1, `${field}.${k}`);
}

/**
 * An rdata field of the API: one record's RDATA in presentation form (encodeRdataText), with
 * one more refusal. Unquoted TXT/SPF text with blank space is several character-strings, and
 * readers join them without the space (RFC 7208 §3.3): `v=spf1 -all` would publish
 * "v=spf1-all". A field that mixes strings so must quote them.
 */
function encodeApiRdata(type: number, text: string, origin: Name): Buffer {
  const rdata = encodeRdataText(type, text, origin);
  if (type === RRType.TXT || type === RRType.SPF) {
    const { tokens } = tokenizeText(text);
    if (tokens.length > 1 && tokens.some((t) => !t.quoted)) {
      throw new RdataError(`${typeToText(type)}: unquoted text with blank space makes ${tokens.length} strings, which readers join without the space; quote the whole value ("v=spf1 -all"), or quote each string to mean several ("part one" "part two")`);
    }
  }
  return rdata;
}

function soaSerial(rdata: Buffer): number {
  return rdata.readUInt32BE(rdata.length - 20);
}

function checkIfMatch(ifMatch: string | undefined, serial: number): void {
  if (ifMatch === undefined || ifMatch === '*') return;
  const current = `"${serial}"`;
  const wanted = ifMatch.split(',').map((s) => s.trim().replace(/^W\//, ''));
  if (!wanted.includes(current)) throw stale(ifMatch, current);
}

function rejectProblems(problems: readonly { severity: string; message: string; file: string; line: number }[], field = 'records'): void {
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) throw badRequest(field, errors.map((e) => e.message).join('; '), errors.map((e) => formatProblem(e as never)));
}

function parseOrigin(text: string, field = 'zone'): Name {
  try {
    return parseName(text.endsWith('.') ? text : text + '.', null);
  } catch (err) {
    throw badRequest(field, (err as Error).message);
  }
}

/**
 * A name in a URL or body: "@" for the apex; absolute with a final dot; a full name without
 * the dot when it ends in the zone's name ("www.example.com"); otherwise relative ("www").
 */
function parseOwner(text: string, origin: Name, field = 'name'): Name {
  let owner: Name;
  try {
    if (text === '@') return origin;
    const asAbsolute = parseName(text.endsWith('.') ? text : text + '.', null);
    owner = text.endsWith('.') || isSubdomain(asAbsolute, origin) ? asAbsolute : parseName(text, origin);
  } catch (err) {
    throw badRequest(field, (err as Error).message);
  }
  if (!isSubdomain(owner, origin)) throw badRequest(field, `${nameToText(owner)} is outside the zone ${nameToText(origin)}`);
  return owner;
}

function parseType(text: string, field = 'type'): number {
  const t = typeFromText(text);
  if (t === undefined || t === RRType.ANY || t === RRType.OPT || t === RRType.AXFR || t === RRType.IXFR) throw badRequest(field, `"${text}" is not a record type`);
  return t;
}

function loadsAs(fileName: string, origin: Name): boolean {
  try {
    return nameKey(originFromFileName(fileName)) === nameKey(origin);
  } catch {
    return false;
  }
}
