/**
 * Address blocks that never locate a client (RFC 6890 special-purpose registries): private,
 * shared (CGNAT), loopback, link-local, unique-local, multicast, reserved. A resolver or ECS
 * address in one of these says nothing about where the client is, and some databases answer
 * for them anyway (geo-whois-asn-country 2.3.2026061719 puts 192.168.0.0/16 and 172.16.0.0/12
 * in AU). Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)
 * are left to the database: the test databases use them on purpose. GeoIP, ECS (RFC 7871
 * §7.1.2) and `meridian explain` all judge by this one table.
 */
import { isV4Mapped } from './ip-parse.js';

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

/** Why an IPv4 address (as an unsigned 32-bit number) is not a locatable client address, or null when it may be. */
export function nonGlobalV4Reason(value: number): string | null {
  for (const [net, len, why] of NON_GLOBAL_V4) {
    if (value >>> (32 - len) === net >>> (32 - len)) return why;
  }
  return null;
}

/**
 * Why an address (4 octets, or 16; an IPv4-mapped one is judged as its IPv4 address) is not a
 * locatable client address, or null when it may be.
 */
export function nonGlobalReason(b: Uint8Array): string | null {
  if (b.length === 4) return nonGlobalV4Reason(((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0);
  if (isV4Mapped(b)) return nonGlobalV4Reason(((b[12]! << 24) | (b[13]! << 16) | (b[14]! << 8) | b[15]!) >>> 0);
  let zeroUpTo15 = true;
  for (let i = 0; i < 15; i++) if (b[i] !== 0) zeroUpTo15 = false;
  if (zeroUpTo15 && b[15] === 0) return 'unspecified ::/128 (RFC 4291)';
  if (zeroUpTo15 && b[15] === 1) return 'loopback ::1/128 (RFC 4291)';
  if ((b[0]! & 0xfe) === 0xfc) return 'unique-local fc00::/7 (RFC 4193)';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local fe80::/10 (RFC 4291)';
  if (b[0] === 0xff) return 'multicast ff00::/8 (RFC 4291)';
  return null;
}

/** Whether an address (4 or 16 octets) may locate a client: not in a block above. */
export function isLocatable(b: Uint8Array): boolean {
  return nonGlobalReason(b) === null;
}
