/**
 * EDNS Client Subnet (RFC 7871): reading the option from a query and writing it into the
 * answer. Pure functions; the responder calls them only when a query carries the option.
 */
import { isLocatable, nonGlobalV4Reason } from '../net/ip-class.js';
import { formatIPv6 } from '../net/ip-format.js';
import { isV4Mapped } from '../net/ip-parse.js';
import { EdnsOption } from './constants.js';

export interface ClientSubnet {
  readonly family: 1 | 2;
  readonly sourcePrefix: number;
  /** The address, zero-padded to full length, as text (IPv4 dotted or IPv6). */
  readonly address: string;
  /** IPv4: the address, zero-padded, as an unsigned 32-bit number; 0 for IPv6. */
  readonly v4: number;
  /**
   * The buffer the option was read from and where its ADDRESS field (⌈source/8⌉ octets,
   * echoed in the answer) starts in it: an offset, not a view, since Buffer#subarray costs
   * more than reading the rest of the option. The answer is built from it synchronously,
   * while the query's buffer lives.
   */
  readonly data: Buffer;
  readonly addressAt: number;
  /** False for private, loopback, link-local and other unroutable networks, IPv4-mapped IPv6, and /0 (RFC 7871 §7.1.2). */
  readonly usable: boolean;
}

export type ClientSubnetResult = { ok: true; value: ClientSubnet } | { ok: false; reason: string };

/** A subnet as read; the IPv4 text is made when asked for (the decision cache and the answer need only the number). */
class ReadSubnet implements ClientSubnet {
  #address: string | null;
  constructor(
    readonly family: 1 | 2,
    readonly sourcePrefix: number,
    readonly v4: number,
    readonly data: Buffer,
    readonly addressAt: number,
    readonly usable: boolean,
    address: string | null,
  ) {
    this.#address = address;
  }

  get address(): string {
    const v4 = this.v4;
    return (this.#address ??= `${v4 >>> 24}.${(v4 >>> 16) & 0xff}.${(v4 >>> 8) & 0xff}.${v4 & 0xff}`);
  }
}

/** RFC 7871 §6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH, ADDRESS. §7.1.1: malformed → FORMERR. */
export function parseClientSubnet(data: Buffer, at = 0, length = data.length - at): ClientSubnetResult {
  const read = readClientSubnet(data, at, length);
  return typeof read === 'string' ? { ok: false, reason: read } : { ok: true, value: read };
}

/**
 * parseClientSubnet() without the result wrapper, for the responder: the OPTION-DATA of
 * `length` octets at `at` in `data` as a subnet, or why it is malformed.
 */
export function readClientSubnet(data: Buffer, at: number, length: number): ClientSubnet | string {
  if (length < 4) return 'option shorter than 4 octets';
  const family = (data[at]! << 8) | data[at + 1]!;
  const sourcePrefix = data[at + 2]!;
  const scopePrefix = data[at + 3]!;
  if (family !== 1 && family !== 2) return `unknown family ${family}`;
  const bits = family === 1 ? 32 : 128;
  if (sourcePrefix > bits) return `source prefix ${sourcePrefix} longer than ${bits}`;
  // §6: SCOPE PREFIX-LENGTH MUST be 0 in queries.
  if (scopePrefix !== 0) return 'scope prefix set in a query';
  const addressAt = at + 4;
  const octets = length - 4;
  if (octets !== (sourcePrefix + 7) >>> 3) return 'address length does not match the source prefix';
  const spare = (8 - (sourcePrefix % 8)) % 8;
  if (spare > 0 && (data[addressAt + octets - 1]! & ((1 << spare) - 1)) !== 0) {
    return 'address has bits set beyond the source prefix';
  }
  if (family === 1) {
    // The common case, once per ECS query: no copy, no view, no text (made only when asked for).
    const v4 =
      (((octets > 0 ? data[addressAt]! : 0) << 24) | ((octets > 1 ? data[addressAt + 1]! : 0) << 16) | ((octets > 2 ? data[addressAt + 2]! : 0) << 8) | (octets > 3 ? data[addressAt + 3]! : 0)) >>> 0;
    const usable = sourcePrefix > 0 && nonGlobalV4Reason(v4) === null;
    return new ReadSubnet(family, sourcePrefix, v4, data, addressAt, usable, null);
  }
  const full = Buffer.alloc(16);
  data.copy(full, 0, addressAt, addressAt + octets);
  // Resolvers send IPv4 clients as family 1. A v4-mapped family-2 subnet would need its scope
  // counted in IPv6 bits over IPv4 GeoIP networks; treat it as saying nothing instead.
  const usable = sourcePrefix > 0 && !isV4Mapped(full) && isLocatable(full);
  return new ReadSubnet(family, sourcePrefix, 0, data, addressAt, usable, formatIPv6(full));
}

/** Length of the ECS option as written into an answer (code, length, payload). */
export function clientSubnetOptionLength(ecs: ClientSubnet): number {
  return 8 + ((ecs.sourcePrefix + 7) >>> 3);
}

/** Writes the option for the answer: source echoed, SCOPE PREFIX-LENGTH set (RFC 7871 §7.2.1). */
export function writeClientSubnetOption(out: Buffer, at: number, ecs: ClientSubnet, scopePrefix: number): number {
  const octets = (ecs.sourcePrefix + 7) >>> 3;
  // Byte stores: the values fit (at most 16 address octets), and Buffer#writeUInt16BE's checks cost more than they do.
  out[at] = 0;
  out[at + 1] = EdnsOption.CLIENT_SUBNET;
  out[at + 2] = 0;
  out[at + 3] = 4 + octets;
  out[at + 4] = 0;
  out[at + 5] = ecs.family;
  out[at + 6] = ecs.sourcePrefix;
  out[at + 7] = scopePrefix;
  const data = ecs.data;
  const from = ecs.addressAt;
  for (let i = 0; i < octets; i++) out[at + 8 + i] = data[from + i]!;
  return at + 8 + octets;
}
