/**
 * IP address text → numbers and octets, for every folder: the DNS hot path (client addresses,
 * ECS), GeoIP lookups, steering CIDRs and zone RDATA. Parsers are strict as node:net is (no
 * leading zeros in a dotted quad, no zone id such as "fe80::1%eth0": it names an interface,
 * not a network). The *Into forms write into a caller's buffer and allocate nothing.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

/** A parsed address: its family and its bits as an unsigned integer (one code path, two widths). */
export interface IpAddress {
  readonly family: Family;
  readonly value: bigint;
}

/**
 * The dotted quad from `from` to the end of `text` as an unsigned 32-bit number, or -1 when it
 * is not one. Hand-written because this runs per query: four decimal octets, no leading zeros.
 */
export function ipv4Number(text: string, from = 0): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // leading zero
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}

/** The dotted quad from `from` to the end of `text` into out[0..3]; `out`, or null when it is not one. */
export function parseIPv4Into(text: string, from: number, out: Uint8Array): Uint8Array | null {
  const n = ipv4Number(text, from);
  if (n < 0) return null;
  out[0] = n >>> 24;
  out[1] = (n >>> 16) & 0xff;
  out[2] = (n >>> 8) & 0xff;
  out[3] = n & 0xff;
  return out;
}

/** IPv4 text as 4 new octets; null when not a dotted quad. */
export function parseIPv4(text: string): Uint8Array | null {
  return parseIPv4Into(text, 0, new Uint8Array(4));
}

const words = new Uint16Array(8);

/**
 * IPv6 text (RFC 4291 §2.2: "::" and a trailing dotted quad allowed) into out[at..at+15]; false
 * when it is not one. One pass over text node:net has validated: hex groups, the "::" gap
 * filled at the end, the dotted tail as two groups.
 */
export function parseIPv6Into(text: string, out: Uint8Array, at = 0): boolean {
  if (!isIPv6(text) || text.includes('%')) return false;
  let n = 0,
    gapAt = -1,
    v = 0,
    digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a /* : */) {
      if (digits > 0) words[n++] = v;
      v = 0;
      digits = 0;
      if (text.charCodeAt(i + 1) === 0x3a) {
        gapAt = n;
        i++;
      }
    } else if (c === 0x2e /* . */) {
      // The dotted tail starts after the last colon (isIPv6 allows it only last).
      const quad = ipv4Number(text, text.lastIndexOf(':') + 1);
      words[n++] = quad >>> 16;
      words[n++] = quad & 0xffff;
      digits = 0;
      break;
    } else {
      v = v * 16 + (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);
      digits++;
    }
  }
  if (digits > 0) words[n++] = v;
  if (gapAt >= 0) {
    const moved = n - gapAt;
    words.copyWithin(8 - moved, gapAt, n);
    words.fill(0, gapAt, 8 - moved);
  }
  for (let i = 0; i < 8; i++) {
    out[at + 2 * i] = words[i]! >> 8;
    out[at + 2 * i + 1] = words[i]! & 0xff;
  }
  return true;
}

/** IPv6 text as 16 new octets; null when not IPv6. */
export function parseIPv6(text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  return parseIPv6Into(text, out) ? out : null;
}

/** 4 octets for IPv4 text, 16 for IPv6 (an IPv4-mapped address stays 16); null when neither. */
export function parseIPOctets(text: string): Uint8Array | null {
  return text.includes(':') ? parseIPv6(text) : parseIPv4(text);
}

/** ::ffff:0:0/96: the upper 96 bits of an IPv4-mapped address, as a number. */
export const MAPPED_PREFIX = 0xffffn;
const scratch = new Uint8Array(16);
const scratchView = new DataView(scratch.buffer);

/** An IPv4 or IPv6 address as written: "::ffff:a.b.c.d" stays IPv6. Null when invalid. */
export function parseAddressAsWritten(text: string): IpAddress | null {
  if (!text.includes(':')) {
    const v4 = ipv4Number(text);
    return v4 < 0 ? null : { family: 4, value: BigInt(v4) };
  }
  if (!parseIPv6Into(text, scratch)) return null;
  return { family: 6, value: (scratchView.getBigUint64(0) << 64n) | scratchView.getBigUint64(8) };
}

/**
 * An IPv4 or IPv6 address; "::ffff:a.b.c.d" (RFC 4291 §2.5.5.2) comes back as IPv4, so that a
 * dual-stack socket and a plain IPv4 socket see the same client. Null when invalid.
 */
export function parseAddress(text: string): IpAddress | null {
  const raw = parseAddressAsWritten(text);
  if (raw === null || raw.family === 4) return raw;
  if (raw.value >> 32n === MAPPED_PREFIX) return { family: 4, value: raw.value & 0xffffffffn };
  return raw;
}

/** Whether 16 octets hold an IPv4-mapped address (::ffff:0:0/96). */
export function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** A client address in text, known valid; an IPv4-mapped one is given as IPv4. */
export interface ValidAddress {
  /** IPv4 dotted quad, or the IPv6 text as given (lower-cased). */
  readonly address: string;
  readonly family: Family;
}

/**
 * Validates an address and turns '::ffff:a.b.c.d' (how dual-stack sockets report IPv4 clients)
 * into 'a.b.c.d'. The MaxMind DBs alias ::ffff:0:0/96 to IPv4, but flat DBs (ip-location-db)
 * do not, and the IPv4 form gives prefix lengths in IPv4 terms (/31, not /127).
 * Null for anything that is not an address, and for IPv6 with a zone id.
 */
export function validAddress(text: string): ValidAddress | null {
  if (typeof text !== 'string') return null;
  if (isIPv4(text)) return { address: text, family: 4 };
  const bytes = parseIPv6(text);
  if (bytes === null) return null;
  if (isV4Mapped(bytes)) return { address: `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`, family: 4 };
  return { address: text.toLowerCase(), family: 6 };
}

/**
 * "::ffff:192.0.2.1" → "192.0.2.1", anything else unchanged (not validated): how dual-stack
 * listeners report IPv4 clients, cheaply, per query.
 */
export function unmapIPv4(text: string): string {
  return text.startsWith('::ffff:') && ipv4Number(text, 7) >= 0 ? text.slice(7) : text;
}
