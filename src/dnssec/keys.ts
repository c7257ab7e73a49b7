/**
 * DNSSEC signing keys as BIND keeps them: `K<zone>.+<alg>+<tag>.key` (the DNSKEY record) and
 * `.private` (Private-key-format v1.3, with the key's timing metadata), so keys made by
 * `dnssec-keygen`, `keymgr` or `meridian dnssec keygen` are interchangeable. Only what Node's
 * crypto signs with natively: ECDSAP256SHA256 (13, RFC 6605) and Ed25519 (15, RFC 8080).
 * Private key material never appears in an error message or a log line: they name the file.
 */
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RRType } from '../dns/constants.js';
import { type Name, nameToText, nameToWire, parseName } from '../dns/name.js';
import { encodeRdataText } from '../zone/rdata/index.js';

export const ALGORITHMS = { ECDSAP256SHA256: 13, ED25519: 15 } as const;
export type AlgorithmName = keyof typeof ALGORITHMS;
export type AlgorithmNumber = (typeof ALGORITHMS)[AlgorithmName];

/** DNSKEY flags: ZONE (bit 7), and SEP (bit 15) for a key signing or combined key (RFC 4034 §2.1.1). */
export const FLAGS_ZONE = 256;
export const FLAGS_SEP = 1;
/** REVOKE (bit 8, RFC 5011 §7): published to tell RFC 5011 resolvers, never signing. */
export const FLAGS_REVOKE = 128;
const PROTOCOL = 3;
/** DS digest type SHA-256 (RFC 4509). */
export const DIGEST_SHA256 = 2;

/**
 * When a key is published, used and removed (BIND's timing metadata, as dnssec-keygen and
 * dnssec-settime write it); null: not set. Seconds since the epoch. syncPublish/syncDelete
 * bound when a SEP key appears as CDS/CDNSKEY (RFC 7344) for the parent to follow.
 */
export interface KeyTiming {
  readonly created: number | null;
  readonly publish: number | null;
  readonly activate: number | null;
  readonly inactive: number | null;
  readonly delete: number | null;
  readonly syncPublish: number | null;
  readonly syncDelete: number | null;
}

/** What a key file problem is, for `meridian check` (codes of src/errors.ts). */
export type KeyProblem = 'invalid' | 'unreadable' | 'algorithm' | 'private-missing' | 'mode';

export interface SigningKey {
  readonly zone: Name;
  readonly algorithm: AlgorithmNumber;
  readonly flags: number;
  readonly tag: number;
  /** DNSKEY RDATA: flags, protocol, algorithm, public key. */
  readonly dnskey: Buffer;
  readonly privateKey: KeyObject;
  readonly timing: KeyTiming;
  /** The file name without .key/.private, for messages. */
  readonly base: string;
}

export class KeyFileError extends Error {
  constructor(
    readonly file: string,
    /** What is wrong, without the file. */
    readonly reason: string,
    readonly kind: KeyProblem = 'invalid',
    /** The line at fault (1-based); 0: the file as a whole. */
    readonly line = 0,
  ) {
    super(`${file}${line > 0 ? `:${line}` : ''}: ${reason}`);
    this.name = 'KeyFileError';
  }
}

export function algorithmName(n: number): string {
  for (const [name, v] of Object.entries(ALGORITHMS)) if (v === n) return name;
  return `algorithm ${n}`;
}

/** RFC 4034 Appendix B: the key tag of DNSKEY RDATA (algorithm 1 aside, which we never use). */
export function keyTag(dnskey: Uint8Array): number {
  let ac = 0;
  for (let i = 0; i < dnskey.length; i++) ac += i & 1 ? dnskey[i]! : dnskey[i]! << 8;
  ac += (ac >>> 16) & 0xffff;
  return ac & 0xffff;
}

/** Owner name in canonical form (RFC 4034 §6.2): uncompressed, ASCII letters lower-cased. */
export function canonicalName(name: Name): Buffer {
  const wire = nameToWire(name);
  for (let i = 0, len = wire[0]!; len !== 0; i += len + 1, len = wire[i]!) {
    for (let j = i + 1; j <= i + len; j++) if (wire[j]! >= 0x41 && wire[j]! <= 0x5a) wire[j] = wire[j]! | 0x20;
  }
  return wire;
}

/** DS RDATA with a SHA-256 digest (RFC 4034 §5.1.4, RFC 4509): key tag, algorithm, digest type, digest over owner and DNSKEY RDATA. */
export function dsRdata(owner: Name, dnskey: Buffer): Buffer {
  const digest = crypto.createHash('sha256').update(canonicalName(owner)).update(dnskey).digest();
  const out = Buffer.allocUnsafe(4 + digest.length);
  out.writeUInt16BE(keyTag(dnskey), 0);
  out[2] = dnskey[3]!;
  out[3] = DIGEST_SHA256;
  digest.copy(out, 4);
  return out;
}

/** The public key field of a DNSKEY for a key pair: P-256 X||Y (RFC 6605 §4), Ed25519's 32 octets (RFC 8080 §3). */
function publicKeyField(algorithm: AlgorithmNumber, publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  if (algorithm === ALGORITHMS.ECDSAP256SHA256) return Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return Buffer.from(jwk.x!, 'base64url');
}

function dnskeyRdata(flags: number, algorithm: AlgorithmNumber, publicKey: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + publicKey.length);
  out.writeUInt16BE(flags, 0);
  out[2] = PROTOCOL;
  out[3] = algorithm;
  publicKey.copy(out, 4);
  return out;
}

/** The private key from the PrivateKey field: the P-256 scalar d, or the Ed25519 seed. */
function privateKeyFrom(algorithm: AlgorithmNumber, secret: Buffer): KeyObject {
  if (algorithm === ALGORITHMS.ECDSAP256SHA256) {
    if (secret.length === 0 || secret.length > 32) throw new Error(`PrivateKey is ${secret.length} octets; ECDSAP256SHA256 needs 32`);
    // d is an integer: BIND writes it without its leading zero octets (1 key in 256 has one).
    if (secret.length < 32) secret = Buffer.concat([Buffer.alloc(32 - secret.length), secret]);
    const ecdh = crypto.createECDH('prime256v1');
    ecdh.setPrivateKey(secret);
    const pub = ecdh.getPublicKey();
    return crypto.createPrivateKey({
      key: { kty: 'EC', crv: 'P-256', d: secret.toString('base64url'), x: pub.subarray(1, 33).toString('base64url'), y: pub.subarray(33, 65).toString('base64url') },
      format: 'jwk',
    });
  }
  if (secret.length !== 32) throw new Error(`PrivateKey is ${secret.length} octets; ED25519 needs 32`);
  // PKCS#8 of an Ed25519 seed (RFC 8410 §7): a fixed prefix, then the 32 octets.
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), secret]);
  return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

function secretOf(key: KeyObject): Buffer {
  return Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url');
}

/** `K<zone>.+<alg>+<tag>` as BIND names it (zone lower-cased, with its trailing dot). */
export function keyBaseName(zone: Name, algorithm: number, tag: number): string {
  return `K${nameToText(zone).toLowerCase()}+${String(algorithm).padStart(3, '0')}+${String(tag).padStart(5, '0')}`;
}

/** The timing fields as BIND's files name them, in the order it writes them. */
export const TIMING_FIELDS = [
  ['Created', 'created'],
  ['Publish', 'publish'],
  ['Activate', 'activate'],
  ['Inactive', 'inactive'],
  ['Delete', 'delete'],
  ['SyncPublish', 'syncPublish'],
  ['SyncDelete', 'syncDelete'],
] as const;

export const NO_TIMING: KeyTiming = { created: null, publish: null, activate: null, inactive: null, delete: null, syncPublish: null, syncDelete: null };

/** YYYYMMDDHHMMSS (UTC) as in BIND's key files. */
export function timeText(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** YYYYMMDDHHMMSS (UTC) to seconds; null when it is not a real date (20261332…). */
export function parseTime(text: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text.trim());
  if (m === null) return null;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  if (Number.isNaN(ms) || timeText(ms / 1000) !== text.trim()) return null;
  return ms / 1000;
}

/** The timing lines of a key's two files: the .private's `Field: value`, the .key's `; Field: value (date)` comments. */
export function timingLines(timing: KeyTiming, comment: boolean): string {
  let out = '';
  for (const [field, k] of TIMING_FIELDS) {
    const t = timing[k];
    if (t === null) continue;
    out += comment ? `; ${field}: ${timeText(t)} (${new Date(t * 1000).toUTCString()})\n` : `${field}: ${timeText(t)}\n`;
  }
  return out;
}

export interface KeyOptions {
  /** Timing fields to write besides Created (default: published and active at once, as dnssec-keygen). */
  readonly timing?: Partial<Omit<KeyTiming, 'created'>>;
  /** A zone-signing key (flags 256, no SEP) for a KSK/ZSK split; default a key-signing or combined key (257). */
  readonly zsk?: boolean;
}

export interface GeneratedKey {
  readonly key: SigningKey;
  readonly keyFile: string;
  readonly privateFile: string;
}

/**
 * Makes a signing key for `zone` (a combined or key-signing key, flags 257, unless
 * `options.zsk`) and writes its two files into `dir`: the .private file readable by its owner
 * only (0600), neither file ever overwritten.
 */
export function generateKey(zone: Name, algorithm: AlgorithmNumber, dir: string, now = Math.floor(Date.now() / 1000), options: KeyOptions = {}): GeneratedKey {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const timing: KeyTiming = { ...NO_TIMING, publish: now, activate: now, ...options.timing, created: now };
  for (;;) {
    const pair = algorithm === ALGORITHMS.ECDSAP256SHA256 ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }) : crypto.generateKeyPairSync('ed25519');
    const flags = options.zsk ? FLAGS_ZONE : FLAGS_ZONE | FLAGS_SEP;
    const dnskey = dnskeyRdata(flags, algorithm, publicKeyField(algorithm, pair.publicKey));
    const tag = keyTag(dnskey);
    const base = path.join(dir, keyBaseName(zone, algorithm, tag));
    // Another key of the zone with the same tag and algorithm: make a new one, as dnssec-keygen does.
    if (fs.existsSync(`${base}.key`) || fs.existsSync(`${base}.private`)) continue;
    const owner = nameToText(zone).toLowerCase();
    const keyText =
      `; This is a ${options.zsk ? 'zone' : 'key'}-signing key, keyid ${tag}, for ${owner}\n` +
      timingLines(timing, true) +
      `${owner} IN DNSKEY ${flags} ${PROTOCOL} ${algorithm} ${dnskey.subarray(4).toString('base64')}\n`;
    const privateText =
      `Private-key-format: v1.3\nAlgorithm: ${algorithm} (${algorithmName(algorithm)})\n` + `PrivateKey: ${secretOf(pair.privateKey).toString('base64')}\n` + timingLines(timing, false);
    fs.writeFileSync(`${base}.private`, privateText, { mode: 0o600, flag: 'wx' });
    fs.writeFileSync(`${base}.key`, keyText, { mode: 0o644, flag: 'wx' });
    return { key: { zone, algorithm, flags, tag, dnskey, privateKey: pair.privateKey, timing, base }, keyFile: `${base}.key`, privateFile: `${base}.private` };
  }
}

/**
 * Reads one key from `<base>.key` and `<base>.private`; throws KeyFileError naming the file,
 * the line and what is wrong, never quoting the .private file (it is the key).
 */
export function readKey(base: string, zone: Name): SigningKey {
  const keyFile = `${base}.key`;
  const privateFile = `${base}.private`;
  const keyText = readText(keyFile);
  let dnskey: Buffer | null = null;
  const lines = keyText.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/;.*$/, '').trim();
    if (line === '') continue;
    const m = /^(\S+)\s+(?:\d+\s+)?(?:IN\s+)?(?:\d+\s+)?DNSKEY\s+(.+)$/i.exec(line);
    if (m === null) throw new KeyFileError(keyFile, 'not a DNSKEY record', 'invalid', i + 1);
    let owner: Name;
    try {
      owner = parseName(m[1]!, null);
      dnskey = encodeRdataText(RRType.DNSKEY, m[2]!, null);
    } catch (err) {
      throw new KeyFileError(keyFile, (err as Error).message, 'invalid', i + 1);
    }
    if (nameToText(owner).toLowerCase() !== nameToText(zone).toLowerCase()) throw new KeyFileError(keyFile, `the key is for ${nameToText(owner)}, not ${nameToText(zone)}`, 'invalid', i + 1);
    break;
  }
  if (dnskey === null) throw new KeyFileError(keyFile, 'no DNSKEY record');
  const flags = dnskey.readUInt16BE(0);
  const algorithm = dnskey[3]!;
  if (algorithm !== ALGORITHMS.ECDSAP256SHA256 && algorithm !== ALGORITHMS.ED25519) {
    throw new KeyFileError(keyFile, `algorithm ${algorithm} is not supported (ECDSAP256SHA256 = 13, ED25519 = 15)`, 'algorithm');
  }
  if ((flags & FLAGS_ZONE) === 0) throw new KeyFileError(keyFile, `flags ${flags} lack the ZONE bit (256): not a zone key`);
  const tag = keyTag(dnskey);
  // A file renamed by hand, or copied over another: the tag in the name is the one operators and DS records go by.
  const named = /\+(\d{5})$/.exec(path.basename(base));
  if (named !== null && Number(named[1]) !== tag) throw new KeyFileError(keyFile, `the file is named for key tag ${Number(named[1])} but holds key ${tag}`);

  const fields = new Map<string, { value: string; line: number }>();
  for (const [i, raw] of readText(privateFile, true).split('\n').entries()) {
    const at = raw.indexOf(':');
    if (at > 0) fields.set(raw.slice(0, at).trim().toLowerCase(), { value: raw.slice(at + 1).trim(), line: i + 1 });
  }
  if (!/^v1\.[0-9]+$/.test(fields.get('private-key-format')?.value ?? '')) throw new KeyFileError(privateFile, 'no "Private-key-format: v1.x" line');
  const privAlg = fields.get('algorithm');
  if (Number(/^\d+/.exec(privAlg?.value ?? '')?.[0] ?? NaN) !== algorithm) {
    throw new KeyFileError(privateFile, `the Algorithm field differs from ${algorithm} in ${path.basename(keyFile)}`, 'invalid', privAlg?.line ?? 0);
  }
  const secret = fields.get('privatekey');
  if (secret === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(secret.value)) throw new KeyFileError(privateFile, 'no PrivateKey field in base64', 'invalid', secret?.line ?? 0);
  let privateKey: KeyObject;
  try {
    privateKey = privateKeyFrom(algorithm, Buffer.from(secret.value, 'base64'));
  } catch (err) {
    throw new KeyFileError(privateFile, (err as Error).message, 'invalid', secret.line);
  }
  if (!publicKeyField(algorithm, crypto.createPublicKey(privateKey)).equals(dnskey.subarray(4))) {
    throw new KeyFileError(privateFile, `the private key does not belong to the public key in ${path.basename(keyFile)}`, 'invalid', secret.line);
  }
  const time = (field: string): number | null => {
    const f = fields.get(field.toLowerCase());
    if (f === undefined) return null;
    const t = parseTime(f.value);
    if (t === null) throw new KeyFileError(privateFile, `${field} is not a date as YYYYMMDDHHMMSS`, 'invalid', f.line);
    return t;
  };
  const timing = Object.fromEntries(TIMING_FIELDS.map(([field, k]) => [k, time(field)])) as unknown as KeyTiming;
  return { zone, algorithm, flags, tag, dnskey, privateKey, timing, base };
}

/** A key file's text; `secret`: the .private, whose absence is its own problem. */
function readText(file: string, secret = false): string {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new KeyFileError(file, 'not a file', 'unreadable');
    if (st.size > 64 * 1024) throw new KeyFileError(file, `${st.size} bytes is too large for a key file`);
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof KeyFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (secret && code === 'ENOENT') throw new KeyFileError(file, 'the private key file is missing: the key can be published but cannot sign', 'private-missing');
    throw new KeyFileError(file, `cannot read: ${code ?? (err as Error).message}`, 'unreadable');
  }
}

/** The key files of `zone` with `algorithm` in `dir` (BIND file names), without .key. */
export function zoneKeyBases(dir: string, zone: Name, algorithm: AlgorithmNumber): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    throw new KeyFileError(dir, `cannot read the key folder: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'unreadable');
  }
  const prefix = `K${nameToText(zone).toLowerCase()}+${String(algorithm).padStart(3, '0')}+`.toLowerCase();
  return names
    .sort()
    .filter((file) => file.toLowerCase().startsWith(prefix) && /\+\d{5}\.key$/.test(file))
    .map((file) => path.join(dir, file.slice(0, -'.key'.length)));
}

/** The keys of `zone` with `algorithm` in `dir` (BIND file names), each read and checked; two files of one key tag are refused. */
export function readZoneKeys(dir: string, zone: Name, algorithm: AlgorithmNumber): SigningKey[] {
  const keys: SigningKey[] = [];
  const byTag = new Map<number, string>();
  for (const base of zoneKeyBases(dir, zone, algorithm)) {
    const key = readKey(base, zone);
    // Kexample.com.+013+12345 and KExample.com.+013+12345: RRSIGs name the signer by tag, so one of them could never be told apart.
    const other = byTag.get(key.tag);
    if (other !== undefined) throw new KeyFileError(`${base}.key`, `key tag ${key.tag} is also ${path.basename(other)}.key's`);
    byTag.set(key.tag, base);
    keys.push(key);
  }
  return keys;
}

/**
 * Changes a key's timing fields, as dnssec-settime does: the .private file's lines rewritten
 * (other lines, the PrivateKey among them, kept as they were), the .key file's timing comments
 * too; each file replaced whole (temp file, then rename) with its mode kept. `null` removes a field.
 */
export function setKeyTiming(base: string, zone: Name, changes: Partial<Record<Exclude<keyof KeyTiming, 'created'>, number | null>>): SigningKey {
  const key = readKey(base, zone);
  const timing: KeyTiming = { ...key.timing, ...changes };
  const isTiming = (line: string): boolean => TIMING_FIELDS.some(([field]) => line.toLowerCase().startsWith(`${field.toLowerCase()}:`));
  const privateFile = `${base}.private`;
  const kept = readText(privateFile, true)
    .split('\n')
    .filter((l) => l.trim() !== '' && !isTiming(l));
  replaceFile(privateFile, kept.join('\n') + '\n' + timingLines(timing, false));
  const keyFile = `${base}.key`;
  const lines = readText(keyFile)
    .split('\n')
    .filter((l) => !(l.startsWith(';') && isTiming(l.slice(1).trim())) && l.trim() !== '');
  // BIND's order: the "This is a … key" comment, the timing comments, the record.
  const head = lines.filter((l) => l.startsWith(';'));
  const rest = lines.filter((l) => !l.startsWith(';'));
  replaceFile(keyFile, [...head, timingLines(timing, true).trimEnd(), ...rest].filter((l) => l !== '').join('\n') + '\n');
  return { ...key, timing };
}

function replaceFile(file: string, text: string): void {
  const mode = fs.statSync(file).mode & 0o777;
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, text, { mode, flag: 'w' });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/** Whether a key is in the DNSKEY RRset at `now` (seconds): published and not yet deleted. */
export function isPublished(key: SigningKey, now: number): boolean {
  const t = key.timing;
  return (t.publish === null || t.publish <= now) && (t.delete === null || t.delete > now);
}

/** Whether a key signs at `now` (seconds): activated, not yet inactive, not revoked. */
export function isActive(key: SigningKey, now: number): boolean {
  const t = key.timing;
  return (key.flags & FLAGS_REVOKE) === 0 && (t.activate === null || t.activate <= now) && (t.inactive === null || t.inactive > now) && isPublished(key, now);
}

/**
 * Whether a key is in the CDS and CDNSKEY RRsets at `now`: a published SEP key between
 * SyncPublish and SyncDelete (unset: while published, so a zone's first key is offered too).
 */
export function isSynced(key: SigningKey, now: number): boolean {
  const t = key.timing;
  return (key.flags & FLAGS_SEP) !== 0 && isPublished(key, now) && (t.syncPublish === null || t.syncPublish <= now) && (t.syncDelete === null || t.syncDelete > now);
}

/** The first timing event of `keys` after `now` (seconds), or Infinity: when which keys publish or sign next changes. */
export function nextKeyEvent(keys: readonly SigningKey[], now: number): number {
  let next = Infinity;
  for (const k of keys) {
    for (const [, f] of TIMING_FIELDS) {
      const t = k.timing[f];
      if (f !== 'created' && t !== null && t > now && t < next) next = t;
    }
  }
  return next;
}
