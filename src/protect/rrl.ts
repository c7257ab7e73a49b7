/**
 * Response rate limiting, as Knot's and BIND's RRL: answers to one client network (an IPv4
 * /24, an IPv6 /56 by default) of one kind for one name are counted in a token bucket of
 * `responsesPerSecond`; past it, answers are dropped, except every `slip`-th, which goes out
 * as a truncated empty answer (TC=1) so that a real client behind a forged flood can retry
 * over TCP. Only UDP is limited: a TCP client has shown its address is real.
 *
 * The buckets live in a fixed table of typed arrays, four slots per hash set: a flood from
 * forged addresses can never grow memory. A newcomer takes the slot of its set with the most
 * credit (the oldest among equals), so the buckets of networks being limited, which are in
 * debt, outlive the one-off buckets of forged sources: replacing them would hand a flooded
 * network a fresh second of answers. Hashes are seeded per process, so which keys share a
 * set cannot be chosen from outside.
 *
 *   set = hash & (sets - 1)        slots 4·set … 4·set+3
 *   ┌──────┬──────┬──────┬──────┐
 *   │ tag  │ tag  │ tag  │ tag  │  Uint32Array: second hash of the key (0 = empty)
 *   │ bal  │ bal  │ bal  │ bal  │  Float64Array: tokens left (negative: debt)
 *   │ last │ last │ last │ last │  Float64Array: ms of the last answer counted
 *   │ slip │ slip │ slip │ slip │  Uint32Array: answers limited so far (for slip)
 *   └──────┴──────┴──────┴──────┘
 */

/** Kinds of answer counted apart (BIND's classes): a flood of NXDOMAIN does not starve positive answers. */
export const ResponseKind = { POSITIVE: 1, NODATA: 2, NXDOMAIN: 3, REFERRAL: 4, ERROR: 5 } as const;
export type ResponseKind = (typeof ResponseKind)[keyof typeof ResponseKind];

export const RrlAction = { PASS: 0, DROP: 1, SLIP: 2 } as const;
export type RrlAction = (typeof RrlAction)[keyof typeof RrlAction];

export interface RrlOptions {
  readonly responsesPerSecond: number;
  /** Every slip-th limited answer is sent truncated; 0 drops them all, 1 truncates them all. */
  readonly slip: number;
  /** How long a client that went over stays limited after its flood ends: the debt is capped at rate × window. */
  readonly windowSec: number;
  readonly ipv4PrefixLength: number;
  readonly ipv6PrefixLength: number;
  /** Buckets kept, rounded up to a power of two (at least 4). */
  readonly tableSize: number;
}

const WAYS = 4;

export class ResponseRateLimiter {
  readonly #rate: number;
  readonly #slip: number;
  readonly #floor: number;
  readonly #v4Mask: number;
  readonly #v6Bits: number;
  readonly #setMask: number;
  readonly #tag: Uint32Array;
  readonly #balance: Float64Array;
  readonly #last: Float64Array;
  readonly #limited: Uint32Array;
  readonly #seed: number;
  /** Answers sent, dropped and sent truncated because of the limit. */
  passed = 0;
  dropped = 0;
  slipped = 0;

  constructor(o: RrlOptions, seed: number = (Math.random() * 0x100000000) >>> 0) {
    this.#rate = o.responsesPerSecond;
    this.#slip = o.slip;
    this.#floor = -o.responsesPerSecond * o.windowSec;
    this.#v4Mask = o.ipv4PrefixLength === 0 ? 0 : (0xffffffff << (32 - o.ipv4PrefixLength)) >>> 0;
    this.#v6Bits = o.ipv6PrefixLength;
    let size = WAYS;
    while (size < o.tableSize) size *= 2;
    this.#setMask = size / WAYS - 1;
    this.#tag = new Uint32Array(size);
    this.#balance = new Float64Array(size);
    this.#last = new Float64Array(size);
    this.#limited = new Uint32Array(size);
    this.#seed = seed;
  }

  /** Table slots (memory is fixed at this). */
  get capacity(): number {
    return this.#tag.length;
  }

  /**
   * Counts one answer of `kind` for the name hashed as `nameHash`, to the client at
   * `address` (4 or 16 octets), at `nowMs`, and says whether to send it.
   */
  account(address: Uint8Array, kind: ResponseKind, nameHash: number, nowMs: number): RrlAction {
    let h = mix(this.#seed ^ kind, nameHash);
    if (address.length === 4) {
      const v4 = ((address[0]! << 24) | (address[1]! << 16) | (address[2]! << 8) | address[3]!) & this.#v4Mask;
      h = mix(h, v4);
    } else {
      // The prefix, octet by octet, the last one masked.
      h = mix(h, 6);
      let bits = this.#v6Bits;
      for (let i = 0; bits > 0; i++, bits -= 8) h = mix(h, bits >= 8 ? address[i]! : address[i]! & (0xff << (8 - bits)));
    }
    const tag = (mix(h, 0x9e3779b9) | 1) >>> 0;
    const first = (h & this.#setMask) * WAYS;
    let slot = -1;
    for (let i = first; i < first + WAYS; i++) {
      if (this.#tag[i] === tag) {
        slot = i;
        break;
      }
    }
    if (slot < 0) {
      slot = this.#evictable(first, nowMs);
      this.#tag[slot] = tag;
      this.#balance[slot] = this.#rate;
      this.#last[slot] = nowMs;
      this.#limited[slot] = 0;
    }
    // Tokens come back at `rate` per second, up to one second's worth.
    const elapsed = nowMs - this.#last[slot]!;
    let balance = this.#balance[slot]!;
    if (elapsed > 0) balance = Math.min(this.#rate, balance + (elapsed * this.#rate) / 1000);
    balance -= 1;
    if (balance < this.#floor) balance = this.#floor;
    this.#balance[slot] = balance;
    this.#last[slot] = nowMs;
    if (balance >= 0) {
      this.passed++;
      return RrlAction.PASS;
    }
    const n = ++this.#limited[slot]!;
    if (this.#slip > 0 && n % this.#slip === 0) {
      this.slipped++;
      return RrlAction.SLIP;
    }
    this.dropped++;
    return RrlAction.DROP;
  }

  /** The slot of the set at `first` a newcomer takes: an empty one, else the one with the most credit now, else the oldest. */
  #evictable(first: number, nowMs: number): number {
    let best = first;
    let bestCredit = -Infinity;
    for (let i = first; i < first + WAYS; i++) {
      if (this.#tag[i] === 0) return i;
      const credit = Math.min(this.#rate, this.#balance[i]! + ((nowMs - this.#last[i]!) * this.#rate) / 1000);
      if (credit > bestCredit || (credit === bestCredit && this.#last[i]! < this.#last[best]!)) {
        best = i;
        bestCredit = credit;
      }
    }
    return best;
  }
}

/** One step of a 32-bit multiplicative hash (murmur3's finaliser constants). */
function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0xcc9e2d51);
  h = (h << 15) | (h >>> 17);
  return Math.imul(h, 0x1b873593) ^ (h >>> 13);
}

/** FNV-1a of a name in wire form (case-folded, RFC 4343) and of `extra` (the QTYPE, when it counts), as the key's name part. */
export function hashWireName(buf: Uint8Array, from: number, to: number, extra: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    h = Math.imul(h ^ (c >= 0x41 && c <= 0x5a ? c | 0x20 : c), 0x01000193);
  }
  return Math.imul(h ^ extra, 0x01000193) >>> 0;
}

/** FNV-1a of a zone's origin key, the name part for answers counted per zone (NXDOMAIN, referrals). */
export function hashText(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
