/**
 * EDNS Client Subnet (RFC 7871): reading the option from a query and writing it into the
 * answer. Pure functions; the responder calls them only when a query carries the option.
 */
import { isLocatable, nonGlobalV4Reason } from '../net/ip-class.js';
import { formatIPv6 } from '../net/ip-format.js';
import { isV4Mapped } from '../net/ip-parse.js';

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
    const c = addressBytes[2] ?? 0;
    const d = addressBytes[3] ?? 0;
    const address = `${a}.${b}.${c}.${d}`;
    const usable = sourcePrefix > 0 && nonGlobalV4Reason(((a << 24) | (b << 16) | (c << 8) | d) >>> 0) === null;
    return { ok: true, value: { family, sourcePrefix, address, addressBytes, usable } };
  }
  const full = Buffer.alloc(16);
  addressBytes.copy(full);
  // Resolvers send IPv4 clients as family 1. A v4-mapped family-2 subnet would need its scope
  // counted in IPv6 bits over IPv4 GeoIP networks; treat it as saying nothing instead.
  const usable = sourcePrefix > 0 && !isV4Mapped(full) && isLocatable(full);
  return { ok: true, value: { family, sourcePrefix, address: formatIPv6(full), addressBytes, usable } };
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
