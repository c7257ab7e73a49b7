/**
 * DNS Cookies (RFC 7873) with interoperable server cookies (RFC 9018): Version 1, three
 * reserved octets, a 32-bit timestamp and SipHash-2-4 of (client cookie | version |
 * reserved | timestamp | client address) under a 16-octet secret. Servers of one anycast
 * set that share the secret accept each other's cookies, whatever their software.
 * Pure apart from the clock, which is injected.
 */
import { randomBytes } from 'node:crypto';
import { sipHash24 } from './siphash.js';

/** What a query's COOKIE option said about its sender (RFC 7873 §5.2). */
export const CookieVerdict = {
  /** No COOKIE option, or cookies are off. */
  NONE: 0,
  /** A client cookie alone (§5.2.3): the sender has not learnt our server cookie yet. */
  CLIENT_ONLY: 1,
  /** A server cookie we made for this client and address, within its lifetime (§5.2.4). */
  VALID: 2,
  /** A server cookie we did not make, made for another address, or too old (§5.2.3). */
  INVALID: 3,
} as const;
export type CookieVerdict = (typeof CookieVerdict)[keyof typeof CookieVerdict];

export const COOKIE_OPTION = 10;
/** Client cookie, then our 16-octet server cookie. */
export const RESPONSE_COOKIE_LENGTH = 8 + 16;
/** The option as written into a response: code, length, data. */
export const RESPONSE_COOKIE_OPTION_LENGTH = 4 + RESPONSE_COOKIE_LENGTH;

/** RFC 9018 §4.3: a cookie is good for an hour, and may be up to five minutes ahead of our clock. */
const LIFETIME_SEC = 3600;
const FUTURE_SEC = 300;
/** RFC 9018 §4.3: a cookie older than half an hour is replaced by a fresh one in the response. */
const RENEW_AFTER_SEC = 1800;

/** RFC 7873 §5.2.2: 8 octets (client cookie alone) or 16 to 40 (with a server cookie of 8 to 32); else FORMERR. */
export function cookieLengthIsValid(length: number): boolean {
  return length === 8 || (length >= 16 && length <= 40);
}

export interface CookieSecrets {
  /** Makes every new server cookie and validates. */
  readonly secret: Uint8Array;
  /** Still validates, while clients holding its cookies come back (RFC 9018 §5, rollover). */
  readonly previous: Uint8Array | null;
}

/** A 32-hex-digit secret as 16 octets. */
export function parseSecret(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** A fresh random secret as 32 hex digits, for a server given none. */
export function generateSecret(): string {
  return randomBytes(16).toString('hex');
}

export class ServerCookies {
  readonly #secrets: CookieSecrets;
  readonly #nowSec: () => number;
  /** The hash input: client cookie (8), version (1), reserved (3), timestamp (4), address (4 or 16). */
  readonly #input = new Uint8Array(32);
  readonly #hash = new Uint8Array(8);
  /** The COOKIE option data for the response to the last query checked: client cookie and our server cookie. */
  readonly response = Buffer.alloc(RESPONSE_COOKIE_LENGTH);
  valid = 0;
  invalid = 0;
  clientOnly = 0;

  constructor(secrets: CookieSecrets, nowSec: () => number = () => Math.floor(Date.now() / 1000)) {
    this.#secrets = secrets;
    this.#nowSec = nowSec;
  }

  /** check() of a whole option's data. */
  checkOption(data: Uint8Array, address: Uint8Array): CookieVerdict {
    return this.check(data, 0, data.length, address);
  }

  /**
   * Judges the COOKIE option data at `buf[at, at + length)` (a length cookieLengthIsValid
   * accepted) from `address` (4 or 16 octets), and fills `response` with what to send back:
   * our server cookie echoed when valid and recent, else a fresh one (RFC 9018 §4.3).
   */
  check(buf: Uint8Array, at: number, length: number, address: Uint8Array): CookieVerdict {
    const now = this.#nowSec() >>> 0;
    const response = this.response;
    for (let i = 0; i < 8; i++) response[i] = buf[at + i]!;
    let verdict: CookieVerdict = CookieVerdict.CLIENT_ONLY;
    if (length > 8) {
      verdict = CookieVerdict.INVALID;
      // Only version 1 cookies of 16 octets are ours (RFC 9018 §4.1).
      if (length === 24 && buf[at + 8] === 1) {
        const stamp = ((buf[at + 12]! << 24) | (buf[at + 13]! << 16) | (buf[at + 14]! << 8) | buf[at + 15]!) >>> 0;
        // Serial-number arithmetic (RFC 1982): the timestamp wraps in 2106.
        const age = (now - stamp) | 0;
        if (age <= LIFETIME_SEC && age >= -FUTURE_SEC && this.#matches(buf, at, address)) {
          verdict = CookieVerdict.VALID;
          if (age <= RENEW_AFTER_SEC && this.#matchedCurrent) {
            for (let i = 8; i < 24; i++) response[i] = buf[at + i]!;
            this.valid++;
            return verdict;
          }
        }
      }
    }
    if (verdict === CookieVerdict.VALID) this.valid++;
    else if (verdict === CookieVerdict.INVALID) this.invalid++;
    else this.clientOnly++;
    this.#make(address, now);
    return verdict;
  }

  /** Writes a fresh server cookie, for the client cookie already in `response` and `address` at time `now`, into `response` (RFC 9018 §4.4). */
  #make(address: Uint8Array, now: number): void {
    const r = this.response;
    r[8] = 1;
    r[9] = 0;
    r[10] = 0;
    r[11] = 0;
    r[12] = now >>> 24;
    r[13] = (now >>> 16) & 0xff;
    r[14] = (now >>> 8) & 0xff;
    r[15] = now & 0xff;
    const length = this.#fill(r, 0, address);
    sipHash24(this.#secrets.secret, this.#input, length, r, 16);
  }

  /** Whether the cookie at `buf[at, at + 24)` (client cookie, then a 16-octet server cookie) hashes to ours, under either secret; sets #matchedCurrent. */
  #matchedCurrent = false;
  #matches(buf: Uint8Array, at: number, address: Uint8Array): boolean {
    const length = this.#fill(buf, at, address);
    // As the server cookie came: a reserved octet the client changed changes the hash (RFC 9018 §4.2).
    sipHash24(this.#secrets.secret, this.#input, length, this.#hash, 0);
    this.#matchedCurrent = sameHash(this.#hash, buf, at);
    if (this.#matchedCurrent) return true;
    if (this.#secrets.previous === null) return false;
    sipHash24(this.#secrets.previous, this.#input, length, this.#hash, 0);
    return sameHash(this.#hash, buf, at);
  }

  /** The hash input from the first 16 octets of the cookie at `at` in `cookie` (client cookie, version, reserved, timestamp) and the address; returns its length. */
  #fill(cookie: Uint8Array, at: number, address: Uint8Array): number {
    const input = this.#input;
    for (let i = 0; i < 16; i++) input[i] = cookie[at + i]!;
    for (let i = 0; i < address.length; i++) input[16 + i] = address[i]!;
    return 16 + address.length;
  }
}

/** Compares the hash just computed with the last 8 octets of the 24-octet cookie at `at`, in constant time. */
function sameHash(hash: Uint8Array, cookie: Uint8Array, at: number): boolean {
  let diff = 0;
  for (let i = 0; i < 8; i++) diff |= hash[i]! ^ cookie[at + 16 + i]!;
  return diff === 0;
}
