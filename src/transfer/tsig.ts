/**
 * TSIG (RFC 8945) with HMAC-SHA256 and HMAC-SHA512: verify a request's signature and sign
 * each message of the answer, the first over the request's MAC and full TSIG variables,
 * each later one over the previous MAC and the timers only (§5.3.1). Secrets stay in this
 * module's objects: nothing here logs or formats them.
 */
import crypto from 'node:crypto';
import { type Name, nameKey, nameToText, nameToWire, readWireName } from '../dns/name.js';
import { RRClass } from '../dns/constants.js';

export const TSIG_TYPE = 250;
/** TSIG error codes (RFC 8945 §3): in the TSIG record; the header's RCODE is NOTAUTH. */
export const TsigError = { NOERROR: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18 } as const;
/** Seconds of clock difference a signature is accepted with (RFC 8945 §10: 300 recommended). */
export const FUDGE = 300;

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512';
const HASHES: Record<TsigAlgorithm, { hash: string; size: number }> = {
  'hmac-sha256': { hash: 'sha256', size: 32 },
  'hmac-sha512': { hash: 'sha512', size: 64 },
};

export interface TsigKey {
  readonly name: Name;
  readonly algorithm: TsigAlgorithm;
  readonly secret: Buffer;
}

/** A TSIG record read from the end of a request. */
export interface RequestTsig {
  /** Where the record starts: the request without it is bytes [0, start). */
  readonly start: number;
  readonly keyName: Name;
  readonly algorithm: Name;
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Buffer;
  readonly originalId: number;
  readonly error: number;
  readonly other: Buffer;
}

/** Keys by the lower-case text of their name. */
export class TsigKeyring {
  readonly #keys = new Map<string, TsigKey>();

  constructor(keys: readonly TsigKey[]) {
    for (const k of keys) this.#keys.set(nameKey(k.name), k);
  }

  get size(): number {
    return this.#keys.size;
  }

  get(name: Name): TsigKey | undefined {
    return this.#keys.get(nameKey(name));
  }
}

/**
 * The TSIG record of a request: 'none' when it has none, 'malformed' when one is not the
 * last record or cannot be read (FORMERR, RFC 8945 §5.2).
 */
export function readRequestTsig(packet: Buffer, questionEnd: number): RequestTsig | 'none' | 'malformed' {
  try {
    const counts = packet.readUInt16BE(6) + packet.readUInt16BE(8) + packet.readUInt16BE(10);
    let pos = questionEnd;
    let found: RequestTsig | null = null;
    for (let i = 0; i < counts; i++) {
      const start = pos;
      const owner = readWireName(packet, pos);
      pos = owner.next;
      const type = packet.readUInt16BE(pos);
      const rdlen = packet.readUInt16BE(pos + 8);
      const rdata = pos + 10;
      pos = rdata + rdlen;
      if (pos > packet.length) return 'malformed';
      if (type !== TSIG_TYPE) continue;
      if (found !== null || i !== counts - 1 || i < counts - packet.readUInt16BE(10)) return 'malformed';
      const alg = readWireName(packet, rdata);
      let p = alg.next;
      const timeSigned = packet.readUInt16BE(p) * 2 ** 32 + packet.readUInt32BE(p + 2);
      const fudge = packet.readUInt16BE(p + 6);
      const macSize = packet.readUInt16BE(p + 8);
      p += 10;
      const mac = Buffer.from(packet.subarray(p, p + macSize));
      p += macSize;
      const originalId = packet.readUInt16BE(p);
      const error = packet.readUInt16BE(p + 2);
      const otherLen = packet.readUInt16BE(p + 4);
      const other = Buffer.from(packet.subarray(p + 6, p + 6 + otherLen));
      if (p + 6 + otherLen !== pos || mac.length !== macSize) return 'malformed';
      found = { start, keyName: owner.name, algorithm: alg.name, timeSigned, fudge, mac, originalId, error, other };
    }
    return found ?? 'none';
  } catch {
    return 'malformed';
  }
}

/** The outcome of checking a request's TSIG. */
export type Verdict =
  | { readonly ok: true; readonly key: TsigKey }
  /** BADKEY and BADSIG answers go unsigned; BADTIME is signed with `key` (RFC 8945 §5.2). */
  | { readonly ok: false; readonly error: number; readonly key: TsigKey | null };

/** Checks a request's TSIG against the keyring at `now` (seconds). */
export function verifyRequest(packet: Buffer, tsig: RequestTsig, keys: TsigKeyring, now: number): Verdict {
  const key = keys.get(tsig.keyName);
  if (key === undefined || nameKey(tsig.algorithm) !== key.algorithm) return { ok: false, error: TsigError.BADKEY, key: null };
  const { size } = HASHES[key.algorithm];
  // A truncated MAC (RFC 8945 §5.2.2.1) is not accepted: secondaries send the whole one.
  if (tsig.mac.length !== size) return { ok: false, error: TsigError.BADSIG, key: null };
  const unsigned = withoutTsig(packet, tsig);
  const expected = hmac(key, [unsigned, variables(key, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other)]);
  if (!crypto.timingSafeEqual(expected, tsig.mac)) return { ok: false, error: TsigError.BADSIG, key: null };
  if (Math.abs(now - tsig.timeSigned) > tsig.fudge) return { ok: false, error: TsigError.BADTIME, key };
  return { ok: true, key };
}

/**
 * Signs the messages of one answer in order: the first over the request's MAC (RFC 8945
 * §5.3), each later one over the MAC before it and the timers only (§5.3.1).
 */
export class ResponseSigner {
  readonly #key: TsigKey;
  readonly #originalId: number;
  #priorMac: Buffer;
  #first = true;

  constructor(key: TsigKey, requestMac: Buffer, originalId: number) {
    this.#key = key;
    this.#priorMac = requestMac;
    this.#originalId = originalId;
  }

  /** `message` with a TSIG record appended (ARCOUNT raised); `error`/`other` for BADTIME. */
  sign(message: Buffer, now: number, error: number = TsigError.NOERROR, other: Buffer = Buffer.alloc(0)): Buffer {
    const key = this.#key;
    const prior = Buffer.allocUnsafe(2);
    prior.writeUInt16BE(this.#priorMac.length, 0);
    const tail = this.#first ? variables(key, now, FUDGE, error, other) : timers(now, FUDGE);
    const mac = hmac(key, [prior, this.#priorMac, message, tail]);
    this.#first = false;
    this.#priorMac = mac;
    return appendTsig(message, key.name, key.algorithm, now, mac, this.#originalId, error, other);
  }
}

/** `message` with an unsigned TSIG record carrying `error` (BADKEY, BADSIG: RFC 8945 §5.3.2). */
export function appendUnsignedTsig(message: Buffer, tsig: RequestTsig, error: number): Buffer {
  return appendTsig(message, tsig.keyName, nameToText(tsig.algorithm).slice(0, -1), tsig.timeSigned, Buffer.alloc(0), tsig.originalId, error, Buffer.alloc(0));
}

/** A request signed with `key`, for tests and tools (as a secondary signs its query). */
export function signRequest(message: Buffer, key: TsigKey, now: number): Buffer {
  const mac = hmac(key, [message, variables(key, now, FUDGE, 0, Buffer.alloc(0))]);
  return appendTsig(message, key.name, key.algorithm, now, mac, message.readUInt16BE(0), 0, Buffer.alloc(0));
}

function appendTsig(message: Buffer, keyName: Name, algorithm: string, time: number, mac: Buffer, originalId: number, error: number, other: Buffer): Buffer {
  const owner = nameToWire(canonical(keyName));
  const alg = nameToWire(canonical(algorithm.split('.')));
  const rdlen = alg.length + 10 + mac.length + 6 + other.length;
  const out = Buffer.allocUnsafe(message.length + owner.length + 10 + rdlen);
  message.copy(out, 0);
  let p = message.length;
  p += owner.copy(out, p);
  out.writeUInt16BE(TSIG_TYPE, p);
  out.writeUInt16BE(RRClass.ANY, p + 2);
  out.writeUInt32BE(0, p + 4);
  out.writeUInt16BE(rdlen, p + 8);
  p += 10;
  p += alg.copy(out, p);
  p = writeTime(out, p, time);
  out.writeUInt16BE(FUDGE, p);
  out.writeUInt16BE(mac.length, p + 2);
  p += 4;
  p += mac.copy(out, p);
  out.writeUInt16BE(originalId, p);
  out.writeUInt16BE(error, p + 2);
  out.writeUInt16BE(other.length, p + 4);
  p += 6;
  other.copy(out, p);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/** The request as it was before signing: TSIG removed, ARCOUNT lowered, the original ID back. */
function withoutTsig(packet: Buffer, tsig: RequestTsig): Buffer {
  const out = Buffer.from(packet.subarray(0, tsig.start));
  out.writeUInt16BE(tsig.originalId, 0);
  out.writeUInt16BE(out.readUInt16BE(10) - 1, 10);
  return out;
}

/** The TSIG variables (RFC 8945 §4.3.3): names in canonical (lower-case, uncompressed) form. */
function variables(key: TsigKey, time: number, fudge: number, error: number, other: Buffer): Buffer {
  const owner = nameToWire(canonical(key.name));
  const alg = nameToWire(canonical(key.algorithm.split('.')));
  const out = Buffer.allocUnsafe(owner.length + 6 + alg.length + 12 + other.length);
  let p = owner.copy(out, 0);
  out.writeUInt16BE(RRClass.ANY, p);
  out.writeUInt32BE(0, p + 2);
  p += 6;
  p += alg.copy(out, p);
  p = writeTime(out, p, time);
  out.writeUInt16BE(fudge, p);
  out.writeUInt16BE(error, p + 2);
  out.writeUInt16BE(other.length, p + 4);
  other.copy(out, p + 6);
  return out;
}

function timers(time: number, fudge: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  writeTime(out, 0, time);
  out.writeUInt16BE(fudge, 6);
  return out;
}

/** Time as 48 bits (RFC 8945 §4.3.3). */
function writeTime(out: Buffer, at: number, time: number): number {
  out.writeUInt16BE(Math.floor(time / 2 ** 32) & 0xffff, at);
  out.writeUInt32BE(time % 2 ** 32, at + 2);
  return at + 6;
}

function hmac(key: TsigKey, parts: readonly Buffer[]): Buffer {
  const h = crypto.createHmac(HASHES[key.algorithm].hash, key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** ASCII-only lower case (RFC 4034 §6.2); other octets as they are. */
function canonical(name: Name): Name {
  return name.filter((l) => l.length > 0).map((l) => l.replace(/[A-Z]/g, (c) => c.toLowerCase()));
}
