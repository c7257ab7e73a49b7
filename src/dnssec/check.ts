/**
 * What `meridian check` says about a signed zone's keys (issue #16): every key file read on
 * its own (one bad file does not hide the others), each problem as file:line with a stable
 * code (src/errors.ts); then the zone's key timeline from now through every coming timing
 * event, so a key that goes inactive or is deleted with no successor signing is found before
 * the zone goes bogus; and, given the parent's DS records, whether they match the keys.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Name, nameKey, nameToText, parseName } from '../dns/name.js';
import type { ErrorCodeValue } from '../errors.js';
import { ALGORITHMS, algorithmName, canonicalName, FLAGS_SEP, KeyFileError, readKey, type KeyProblem, type SigningKey, timeText, zoneKeyBases } from './keys.js';
import type { ZoneConfig } from './load.js';
import { keysAt, type ZoneKeys } from './signer.js';

export interface KeyCheckProblem {
  readonly file: string;
  readonly line: number;
  readonly code: ErrorCodeValue;
  readonly severity: 'error' | 'warning';
  readonly message: string;
}

export function formatKeyProblem(p: KeyCheckProblem): string {
  return `${p.file}:${p.line}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.code}: ${p.message}`;
}

const CODES: Record<KeyProblem, ErrorCodeValue> = {
  invalid: 'GSLB_ERR_DNSSEC_KEY_INVALID',
  unreadable: 'GSLB_ERR_DNSSEC_KEY_UNREADABLE',
  algorithm: 'GSLB_ERR_DNSSEC_KEY_ALGORITHM',
  'private-missing': 'GSLB_ERR_DNSSEC_KEY_NO_PRIVATE',
  mode: 'GSLB_ERR_DNSSEC_KEY_MODE',
};

/** The line of `Field:` in a .private file (0 when it is not there), for a timing problem's location. */
function fieldLine(key: SigningKey, field: string): number {
  try {
    const lines = fs.readFileSync(`${key.base}.private`, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.toLowerCase().startsWith(`${field.toLowerCase()}:`));
    return i + 1;
  } catch {
    return 0;
  }
}

const date = (t: number): string => `${timeText(t)} (${new Date(t * 1000).toISOString()})`;

/** A zone's keys as serve would use them, with every problem found on the way; `zone` null when no key could be read. */
export function checkZoneKeys(zoneText: string, z: ZoneConfig, now: number): { zone: ZoneKeys | null; problems: KeyCheckProblem[] } {
  const origin = parseName(zoneText.endsWith('.') ? zoneText : `${zoneText}.`, null);
  const problems: KeyCheckProblem[] = [];
  const add = (file: string, line: number, code: ErrorCodeValue, message: string, severity: 'error' | 'warning' = 'error'): void => {
    problems.push({ file, line, code, severity, message });
  };
  const algorithm = ALGORITHMS[z.algorithm];
  let bases: string[];
  try {
    bases = zoneKeyBases(z.keyDir, origin, algorithm);
  } catch (err) {
    const e = err as KeyFileError;
    add(e.file, 0, CODES[e.kind], e.reason);
    return { zone: null, problems };
  }
  // Key files of this zone that serve passes over: another algorithm, supported or not.
  const zonePrefix = `k${nameToText(origin).toLowerCase()}+`;
  for (const file of fs.readdirSync(z.keyDir).sort()) {
    const m = /\+(\d{3})\+\d{5}\.key$/.exec(file);
    if (m === null || !file.toLowerCase().startsWith(zonePrefix) || Number(m[1]) === algorithm) continue;
    const n = Number(m[1]);
    const why =
      n === ALGORITHMS.ECDSAP256SHA256 || n === ALGORITHMS.ED25519
        ? `the zone signs with ${z.algorithm} (dns.dnssec.zones.${zoneText}.algorithm)`
        : `algorithm ${n} (${algorithmName(n)}) is not supported (ECDSAP256SHA256 = 13, ED25519 = 15)`;
    add(path.join(z.keyDir, file), 0, 'GSLB_ERR_DNSSEC_KEY_ALGORITHM', `never published nor used: ${why}`, 'warning');
  }
  const keys: SigningKey[] = [];
  const byTag = new Map<number, string>();
  for (const base of bases) {
    let key: SigningKey;
    try {
      key = readKey(base, origin);
    } catch (err) {
      if (!(err instanceof KeyFileError)) throw err;
      add(err.file, err.line, CODES[err.kind], err.reason);
      continue;
    }
    const other = byTag.get(key.tag);
    if (other !== undefined) {
      add(`${base}.key`, 0, 'GSLB_ERR_DNSSEC_KEY_INVALID', `key tag ${key.tag} is also ${path.basename(other)}.key's: serve refuses the folder`);
      continue;
    }
    byTag.set(key.tag, base);
    const mode = fs.statSync(`${base}.private`).mode & 0o777;
    if ((mode & 0o007) !== 0) add(`${base}.private`, 0, 'GSLB_ERR_DNSSEC_KEY_MODE', `readable by every user (mode ${mode.toString(8)}): serve refuses it; chmod 600 it`);
    else if ((mode & 0o070) !== 0)
      add(`${base}.private`, 0, 'GSLB_ERR_DNSSEC_KEY_MODE', `readable by the file's group (mode ${mode.toString(8)}); chmod 600 it unless that group is the service's alone`, 'warning');
    const t = key.timing;
    const order: [keyof typeof t, string, keyof typeof t, string][] = [
      ['activate', 'Activate', 'publish', 'Publish'],
      ['inactive', 'Inactive', 'activate', 'Activate'],
      ['delete', 'Delete', 'inactive', 'Inactive'],
      ['delete', 'Delete', 'publish', 'Publish'],
      ['syncDelete', 'SyncDelete', 'syncPublish', 'SyncPublish'],
    ];
    for (const [later, laterName, earlier, earlierName] of order) {
      const a = t[later];
      const b = t[earlier];
      if (a !== null && b !== null && a < b) add(`${base}.private`, fieldLine(key, laterName), 'GSLB_ERR_DNSSEC_KEY_TIMING', `${laterName} ${date(a)} is before ${earlierName} ${date(b)}`, 'warning');
    }
    keys.push(key);
  }
  if (keys.length === 0) {
    if (problems.every((p) => p.severity === 'warning'))
      add(
        z.keyDir,
        0,
        'GSLB_ERR_DNSSEC_NO_SIGNING_KEY',
        `no ${z.algorithm} key for ${nameToText(origin)}; make one with: meridian dnssec keygen ${zoneText} --algorithm ${z.algorithm} --key-dir ${z.keyDir}`,
      );
    return { zone: null, problems };
  }
  const zone: ZoneKeys = { origin, keys, split: z.split, denial: z.denial };
  timeline(zone, now, add);
  return { zone, problems };
}

/** Walks the zone's key states from `now` through each coming event: a state where no key signs, or (split) one side has no key of its own. */
function timeline(zone: ZoneKeys, now: number, add: (file: string, line: number, code: ErrorCodeValue, message: string, severity?: 'error' | 'warning') => void): void {
  let at = now;
  let previous: SigningKey[] = [];
  for (let steps = 0; steps < 1000 && at !== Infinity; steps++) {
    const s = keysAt(zone, at);
    if (s.active.length === 0) {
      // The key whose Inactive or Delete ends the signing is the file to fix (or the folder, when none ever signed).
      const ended = previous.find((k) => k.timing.inactive === at || k.timing.delete === at) ?? previous[0];
      const field = ended === undefined ? '' : ended.timing.inactive === at ? 'Inactive' : 'Delete';
      const when = at === now ? 'now' : `from ${date(at)}`;
      const detail = ended === undefined ? `none of its ${zone.keys.length} key(s) is active` : `key ${ended.tag} stops signing (its ${field}) and no successor is active`;
      if (ended === undefined)
        add(path.dirname(zone.keys[0]!.base), 0, 'GSLB_ERR_DNSSEC_NO_SIGNING_KEY', `${nameToText(zone.origin)}: ${when} ${detail}: answers go unsigned and validators find the zone bogus`);
      else
        add(
          `${ended.base}.private`,
          fieldLine(ended, field),
          'GSLB_ERR_DNSSEC_NO_SIGNING_KEY',
          `${nameToText(zone.origin)}: ${when} ${detail}: answers go unsigned and validators find the zone bogus; make a successor first (README "DNSSEC", key rollover)`,
        );
      return;
    }
    if (zone.split) {
      const ksk = s.active.some((k) => (k.flags & FLAGS_SEP) !== 0);
      const zsk = s.active.some((k) => (k.flags & FLAGS_SEP) === 0);
      if (!ksk || !zsk) {
        add(
          path.dirname(zone.keys[0]!.base),
          0,
          'GSLB_ERR_DNSSEC_NO_SIGNING_KEY',
          `${nameToText(zone.origin)}: ${at === now ? 'now' : `from ${date(at)}`} no active ${ksk ? 'ZSK (flags 256)' : 'KSK (flags 257)'} in a split zone: the ${ksk ? 'KSKs sign every RRset' : 'ZSKs sign the DNSKEY RRset too (a DS must then match one)'}`,
          'warning',
        );
        return;
      }
    }
    previous = [...s.active];
    at = s.until;
  }
}

/** A DS record of the parent's (--parent-ds), where it was read. */
export interface ParentDs {
  readonly owner: Name;
  readonly tag: number;
  readonly algorithm: number;
  readonly digestType: number;
  readonly digest: Buffer;
  readonly file: string;
  readonly line: number;
}

/** DS records in presentation format, one a line (`owner [TTL] [IN] DS tag alg type digest`, as dig or a zone file prints them); comments with ";". */
export function readParentDs(file: string): { records: ParentDs[]; problems: KeyCheckProblem[] } {
  const records: ParentDs[] = [];
  const problems: KeyCheckProblem[] = [];
  let text: string;
  try {
    const st = fs.statSync(file);
    if (!st.isFile() || st.size > 1024 * 1024) throw new Error(st.isFile() ? `${st.size} bytes is too large for a DS file` : 'not a file');
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    problems.push({ file, line: 0, code: 'GSLB_ERR_DNSSEC_DS_MISMATCH', severity: 'error', message: `--parent-ds: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    return { records, problems };
  }
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/;.*$/, '').trim();
    if (line === '') continue;
    const m = /^(\S+)\s+(?:\d+\s+)?(?:IN\s+)?(?:\d+\s+)?DS\s+(\d{1,5})\s+(\d{1,3})\s+(\d{1,3})\s+([0-9A-Fa-f\s]+)$/i.exec(line);
    let owner: Name | null = null;
    try {
      if (m !== null) owner = parseName(m[1]!.endsWith('.') ? m[1]! : `${m[1]!}.`, null);
    } catch {
      owner = null;
    }
    const hex = m?.[5]!.replace(/\s+/g, '') ?? '';
    if (m === null || owner === null || hex.length % 2 !== 0 || Number(m[2]) > 65535) {
      problems.push({ file, line: i + 1, code: 'GSLB_ERR_DNSSEC_DS_MISMATCH', severity: 'error', message: 'not a DS record (owner [TTL] [IN] DS key-tag algorithm digest-type digest)' });
      continue;
    }
    records.push({ owner, tag: Number(m[2]), algorithm: Number(m[3]), digestType: Number(m[4]), digest: Buffer.from(hex, 'hex'), file, line: i + 1 });
  }
  return { records, problems };
}

const DIGESTS: Record<number, string> = { 1: 'sha1', 2: 'sha256', 4: 'sha384' };

/** Whether a DS record is the digest of `key` (RFC 4034 §5.1.4). */
function dsMatches(ds: ParentDs, key: SigningKey): boolean {
  const hash = DIGESTS[ds.digestType];
  if (hash === undefined || ds.tag !== key.tag || ds.algorithm !== key.algorithm) return false;
  return crypto.createHash(hash).update(canonicalName(key.zone)).update(key.dnskey).digest().equals(ds.digest);
}

/**
 * The parent's DS records against the zones' keys now: each DS must be the digest of a key of
 * its zone, and at least one must match a key that signs the DNSKEY RRset, or validators
 * find the zone bogus. A DS for a zone that is not signed here is an error too.
 */
export function checkParentDs(records: readonly ParentDs[], zones: readonly ZoneKeys[], now: number): KeyCheckProblem[] {
  const problems: KeyCheckProblem[] = [];
  const byZone = new Map(zones.map((z) => [nameKey(z.origin), z]));
  const seen = new Map<string, ParentDs[]>();
  for (const ds of records) {
    const zone = byZone.get(nameKey(ds.owner));
    const add = (message: string): void => void problems.push({ file: ds.file, line: ds.line, code: 'GSLB_ERR_DNSSEC_DS_MISMATCH', severity: 'error', message });
    if (zone === undefined) {
      add(`${nameToText(ds.owner)} is not signed here (dns.dnssec.zones): validators would find every answer bogus`);
      continue;
    }
    if (DIGESTS[ds.digestType] === undefined) add(`digest type ${ds.digestType} is not SHA-1 (1), SHA-256 (2) or SHA-384 (4)`);
    else if (!zone.keys.some((k) => dsMatches(ds, k))) {
      const sameTag = zone.keys.find((k) => k.tag === ds.tag);
      add(
        `DS ${ds.tag} ${ds.algorithm} ${ds.digestType} matches no key of ${nameToText(zone.origin)}${sameTag ? ` (key ${sameTag.tag}, ${path.basename(sameTag.base)}, has that tag but another digest)` : ''}`,
      );
    }
    const list = seen.get(nameKey(ds.owner)) ?? [];
    list.push(ds);
    seen.set(nameKey(ds.owner), list);
  }
  for (const [key, list] of seen) {
    const zone = byZone.get(key)!;
    const signers = keysAt(zone, now).keySigners;
    if (!list.some((ds) => signers.some((k) => dsMatches(ds, k)))) {
      const first = list[0]!;
      problems.push({
        file: first.file,
        line: first.line,
        code: 'GSLB_ERR_DNSSEC_DS_MISMATCH',
        severity: 'error',
        message: `no DS of ${nameToText(zone.origin)} matches a key that signs its DNSKEY RRset now (${signers.map((k) => k.tag).join(', ') || 'none'}): validators would find the zone bogus`,
      });
    }
  }
  return problems;
}
