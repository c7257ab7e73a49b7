/**
 * EDNS Client Subnet (RFC 7871): reading the option from a query and writing it into the
 * answer. Pure functions; the responder calls them only when a query carries the option.
 */
import { isIPv4 } from 'node:net';
import { formatIPv6 } from '../geoip/address.js';

export interface ClientSubnet {
  readonly family: 1 | 2;
  readonly sourcePrefix: number;
  /** The address, zero-padded to full length, as text (IPv4 dotted or IPv6). */
  readonly address: string;
  /** The ADDRESS field exactly as received (⌈source/8⌉ octets), echoed in the answer: a view into the query. */
  readonly addressBytes: Buffer;
  /** False for private, loopback, link-local and other unroutable networks, IPv4-mapped IPv6, and /0 (RFC 7871 §7.1.2). */
  readonly usable: boolean;
}

export type ClientSubnetResult = { ok: true; value: ClientSubnet } | { ok: false; reason: string };

/** RFC 7871 §6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH, ADDRESS. §7.1.1: malformed → FORMERR. */
export function parseClientSubnet(data: Buffer): ClientSubnetResult {
  if (data.length < 4) return { ok: false, reason: 'option shorter than 4 octets' };
  const family = data.readUInt16BE(0);
  const sourcePrefix = data[2]!;
  const scopePrefix = data[3]!;
  if (family !== 1 && family !== 2) return { ok: false, reason: `unknown family ${family}` };
  const bits = family === 1 ? 32 : 128;
  if (sourcePrefix > bits) return { ok: false, reason: `source prefix ${sourcePrefix} longer than ${bits}` };
  // §6: SCOPE PREFIX-LENGTH MUST be 0 in queries.
  if (scopePrefix !== 0) return { ok: false, reason: 'scope prefix set in a query' };
  const addressBytes = data.subarray(4);
  if (addressBytes.length !== Math.ceil(sourcePrefix / 8)) return { ok: false, reason: 'address length does not match the source prefix' };
  const spare = (8 - (sourcePrefix % 8)) % 8;
  if (spare > 0 && (addressBytes[addressBytes.length - 1]! & ((1 << spare) - 1)) !== 0) {
    return { ok: false, reason: 'address has bits set beyond the source prefix' };
  }
  // addressBytes stays a view, not a copy: the answer is built from it synchronously, while the query's buffer lives.
  if (family === 1) {
    // The common case, once per ECS query: no zero-padded copy, no array, no join.
    const a = addressBytes[0] ?? 0;
    const b = addressBytes[1] ?? 0;
    const address = `${a}.${b}.${addressBytes[2] ?? 0}.${addressBytes[3] ?? 0}`;
    return { ok: true, value: { family, sourcePrefix, address, addressBytes, usable: sourcePrefix > 0 && isRoutableV4(a, b) } };
  }
  const full = Buffer.alloc(16);
  addressBytes.copy(full);
  // Resolvers send IPv4 clients as family 1. A v4-mapped family-2 subnet would need its scope
  // counted in IPv6 bits over IPv4 GeoIP networks; treat it as saying nothing instead.
  const mapped = full.subarray(0, 10).every((x) => x === 0) && full[10] === 0xff && full[11] === 0xff;
  return { ok: true, value: { family, sourcePrefix, address: ipv6Text(full), addressBytes, usable: sourcePrefix > 0 && !mapped && isRoutable(full) } };
}

/** Canonical (RFC 5952) text of 16 octets. */
const ipv6Text = formatIPv6;

/** Networks that say nothing about where a client is (RFC 6890 special-purpose, private, link-local, CGNAT, ULA, multicast). */
export function isRoutable(address: Buffer): boolean {
  if (address.length === 4) return isRoutableV4(address[0]!, address[1]!);
  if (address.every((x) => x === 0)) return false; // ::, and ::/0 sources
  if (address.subarray(0, 15).every((x) => x === 0) && address[15] === 1) return false; // ::1
  const first = address[0]!;
  if ((first & 0xfe) === 0xfc) return false; // fc00::/7
  if (first === 0xfe && (address[1]! & 0xc0) === 0x80) return false; // fe80::/10
  if (first === 0xff) return false; // multicast
  // ::ffff:a.b.c.d carries an IPv4 address: judge that.
  if (address.subarray(0, 10).every((x) => x === 0) && address[10] === 0xff && address[11] === 0xff) return isRoutable(address.subarray(12));
  return true;
}

/** IPv4 by its first two octets: 0/8, 10/8, 127/8, 224/3, 169.254/16, 172.16/12, 192.168/16 and 100.64/10 say nothing. */
function isRoutableV4(a: number, b: number): boolean {
  if (a === 0 || a === 10 || a === 127 || a >= 224) return false;
  if (a === 169 && b === 254) return false;
  if (a === 172 && b >= 16 && b <= 31) return false;
  if (a === 192 && b === 168) return false;
  if (a === 100 && b >= 64 && b <= 127) return false;
  return true;
}

/** Length of the ECS option as written into an answer (code, length, payload). */
export function clientSubnetOptionLength(ecs: ClientSubnet): number {
  return 4 + 4 + ecs.addressBytes.length;
}

/** Writes the option for the answer: source echoed, SCOPE PREFIX-LENGTH set (RFC 7871 §7.2.1). */
export function writeClientSubnetOption(out: Buffer, at: number, ecs: ClientSubnet, scopePrefix: number): number {
  out.writeUInt16BE(8, at);
  out.writeUInt16BE(4 + ecs.addressBytes.length, at + 2);
  out.writeUInt16BE(ecs.family, at + 4);
  out[at + 6] = ecs.sourcePrefix;
  out[at + 7] = scopePrefix;
  out.set(ecs.addressBytes, at + 8);
  return at + 8 + ecs.addressBytes.length;
}

/** "::ffff:192.0.2.1" → "192.0.2.1": sockets on dual-stack listeners report IPv4 clients that way. */
export function normaliseAddress(address: string): string {
  if (address.startsWith('::ffff:')) {
    const v4 = address.slice(7);
    if (isIPv4(v4)) return v4;
  }
  return address;
}
