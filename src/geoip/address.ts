/**
 * IP address text helpers for GeoIP lookups: validation, IPv4-mapped normalisation, and the
 * network text ("81.2.69.142/31") shown in explain output. No dependencies beyond node:net.
 */
import net from 'node:net';

export interface NormalisedAddress {
  /** IPv4 dotted quad, or the IPv6 text as given (lower-cased). */
  readonly address: string;
  readonly family: 4 | 6;
}

/**
 * Validates an address and turns '::ffff:a.b.c.d' (how dual-stack sockets report IPv4 clients)
 * into 'a.b.c.d'. The MaxMind DBs alias ::ffff:0:0/96 to IPv4, but flat DBs (ip-location-db)
 * do not, and the IPv4 form gives the prefix length in IPv4 terms (/31, not /127).
 * Returns null for anything `net.isIP` rejects, and for IPv6 with a zone ID ('fe80::1%eth0').
 */
export function normaliseAddress(address: string): NormalisedAddress | null {
  if (typeof address !== 'string') return null;
  const family = net.isIP(address);
  if (family === 4) return { address, family: 4 };
  if (family !== 6 || address.includes('%')) return null;
  const bytes = parseIPv6(address);
  if (bytes === null) return null;
  if (isV4Mapped(bytes)) return { address: `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`, family: 4 };
  return { address: address.toLowerCase(), family: 6 };
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Parses IPv4 text into 4 bytes; null when not a dotted quad of 0-255 without leading zeros. */
export function parseIPv4(text: string): Uint8Array | null {
  if (net.isIPv4(text) === false) return null;
  const parts = text.split('.');
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) out[i] = Number(parts[i]);
  return out;
}

/** Parses IPv6 text (with '::' and an optional trailing dotted quad) into 16 bytes. */
export function parseIPv6(text: string): Uint8Array | null {
  if (net.isIPv6(text) === false || text.includes('%')) return null;
  let head = text;
  let tail = '';
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    head = text.slice(0, dbl);
    tail = text.slice(dbl + 2);
  }
  const groups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (p.includes('.')) {
        // An embedded IPv4 address is only valid as the last part.
        const v4 = i === parts.length - 1 ? parseIPv4(p) : null;
        if (v4 === null) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const h = groups(head);
  const t = groups(tail);
  if (h === null || t === null) return null;
  const fill = 8 - h.length - t.length;
  if (dbl < 0 ? fill !== 0 : fill < 1) return null;
  const all = [...h, ...new Array<number>(dbl < 0 ? 0 : fill).fill(0), ...t];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = all[i]! >> 8;
    out[i * 2 + 1] = all[i]! & 0xff;
  }
  return out;
}

/** Zeroes the host bits of `bytes` beyond `prefix`. */
function mask(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/** Formats 16 bytes as RFC 5952 text: lower case, the longest run of 2+ zero groups as '::'. */
export function formatIPv6(bytes: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/**
 * The network that holds `address` with `prefix` bits, as "a.b.c.d/p" or "x::/p".
 * `address` must already be valid and in the family `prefix` counts in.
 */
export function networkOf(address: string, family: 4 | 6, prefix: number): string {
  if (family === 4) {
    const b = mask(parseIPv4(address) ?? new Uint8Array(4), prefix);
    return `${b[0]}.${b[1]}.${b[2]}.${b[3]}/${prefix}`;
  }
  const b = mask(parseIPv6(address) ?? new Uint8Array(16), prefix);
  return `${formatIPv6(b)}/${prefix}`;
}

/**
 * Address blocks that never locate a client (RFC 6890 special-purpose registries): private,
 * shared (CGNAT), loopback, link-local, unique-local, multicast, reserved. A resolver or ECS
 * address in one of these says nothing about where the client is, and some databases answer
 * for them anyway (geo-whois-asn-country 2.3.2026061719 puts 192.168.0.0/16 and 172.16.0.0/12
 * in AU). Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)
 * are left to the database: the test databases use them on purpose.
 */
const NON_GLOBAL_V4: readonly (readonly [number, number, string])[] = [
  [0x00000000, 8, '"this network" 0.0.0.0/8 (RFC 791)'],
  [0x0a000000, 8, 'private-use 10.0.0.0/8 (RFC 1918)'],
  [0x64400000, 10, 'shared address space 100.64.0.0/10 (RFC 6598)'],
  [0x7f000000, 8, 'loopback 127.0.0.0/8 (RFC 1122)'],
  [0xa9fe0000, 16, 'link-local 169.254.0.0/16 (RFC 3927)'],
  [0xac100000, 12, 'private-use 172.16.0.0/12 (RFC 1918)'],
  [0xc0a80000, 16, 'private-use 192.168.0.0/16 (RFC 1918)'],
  [0xe0000000, 4, 'multicast 224.0.0.0/4 (RFC 5771)'],
  [0xf0000000, 4, 'reserved 240.0.0.0/4 (RFC 1112)'],
];

/** Why an address is not a locatable client address, or null when it may be. `a` must be normalised. */
export function nonGlobalReason(a: NormalisedAddress): string | null {
  if (a.family === 4) {
    const b = parseIPv4(a.address);
    if (b === null) return null;
    const n = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    for (const [net, len, why] of NON_GLOBAL_V4) {
      if ((n >>> (32 - len)) === (net >>> (32 - len))) return why;
    }
    return null;
  }
  const b = parseIPv6(a.address);
  if (b === null) return null;
  let zeroUpTo15 = true;
  for (let i = 0; i < 15; i++) if (b[i] !== 0) zeroUpTo15 = false;
  if (zeroUpTo15 && b[15] === 0) return 'unspecified ::/128 (RFC 4291)';
  if (zeroUpTo15 && b[15] === 1) return 'loopback ::1/128 (RFC 4291)';
  if ((b[0]! & 0xfe) === 0xfc) return 'unique-local fc00::/7 (RFC 4193)';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local fe80::/10 (RFC 4291)';
  if (b[0] === 0xff) return 'multicast ff00::/8 (RFC 4291)';
  return null;
}
