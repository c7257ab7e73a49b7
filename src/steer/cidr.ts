/**
 * CIDR blocks for steering: parse once at load, test per query.
 *
 * Addresses (src/net/ip-parse.ts) are held as a BigInt (32 bits for IPv4, 128 for IPv6) so one
 * code path serves both families; a containment test is one AND and one compare. IPv4-mapped
 * IPv6 addresses and blocks are normalised to IPv4 so that a dual-stack socket and a plain
 * IPv4 socket steer the same client the same way.
 */
import { formatAddress } from '../net/ip-format.js';
import { MAPPED_PREFIX, parseAddress, parseAddressAsWritten, type Family, type IpAddress } from '../net/ip-parse.js';

/** A parsed CIDR block with its host bits clear. */
export interface Cidr {
  readonly family: Family;
  readonly prefix: number;
  readonly network: bigint;
  readonly mask: bigint;
  /** Canonical text, e.g. "81.2.0.0/16", "2001:db8::/32". */
  readonly text: string;
}

/** 32 for IPv4, 128 for IPv6. */
export function addressBits(family: Family): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** The netmask of a prefix length as an integer (prefix clamped to 0..bits). */
export function prefixMask(family: Family, prefix: number): bigint {
  const bits = addressBits(family);
  const p = Math.max(0, Math.min(bits, Math.trunc(prefix)));
  return ((1n << BigInt(p)) - 1n) << BigInt(bits - p);
}

/**
 * Parses "81.2.0.0/16" or "2001:db8::/32". Throws an Error with a message fit for a config
 * problem when the text is not a CIDR or has host bits set beyond the prefix (as `ip route`
 * and Route 53 CIDR collections refuse "81.2.3.0/16": it is almost always a typo).
 * A mapped block "::ffff:81.2.0.0/112" becomes 81.2.0.0/16.
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const example = 'e.g. 81.2.0.0/16 or 2001:db8::/32';
  if (slash < 0) throw new Error(`"${text}" is not a CIDR block: expected address/prefix-length, ${example}`);
  const addressText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  let address = parseAddressAsWritten(addressText);
  if (address === null) throw new Error(`"${text}" is not a CIDR block: "${addressText}" is not an IPv4 or IPv6 address`);
  const bits = addressBits(address.family);
  let prefix = /^[0-9]{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix <= bits)) throw new Error(`"${text}" is not a CIDR block: the prefix length must be a number from 0 to ${bits}`);
  if (address.family === 6 && prefix >= 96 && address.value >> 32n === MAPPED_PREFIX) {
    address = { family: 4, value: address.value & 0xffffffffn };
    prefix -= 96;
  }
  const mask = prefixMask(address.family, prefix);
  const network = address.value & mask;
  const canonical = `${formatAddress({ family: address.family, value: network })}/${prefix}`;
  if (network !== address.value) {
    throw new Error(`"${text}" has host bits set beyond the /${prefix} prefix; did you mean ${canonical}?`);
  }
  return { family: address.family, prefix, network, mask, text: canonical };
}

/** Whether the address lies inside the block. A string is parsed first (invalid → false). */
export function cidrContains(cidr: Cidr, address: IpAddress | string): boolean {
  const a = typeof address === 'string' ? parseAddress(address) : address;
  return a !== null && a.family === cidr.family && (a.value & cidr.mask) === cidr.network;
}

/**
 * Whether the whole network address/prefix lies inside the block. This is the test to use
 * for an ECS client: the bits past its SOURCE PREFIX-LENGTH are zero padding (RFC 7871 §6),
 * so a block longer than the source prefix only *might* hold the client and must not match.
 */
export function coversNetwork(cidr: Cidr, address: IpAddress, prefix: number): boolean {
  return cidr.prefix <= prefix && cidrContains(cidr, address);
}

/** How many leading bits the address shares with the block's network (0..bits). */
export function commonPrefixLength(address: IpAddress, cidr: Cidr): number {
  if (address.family !== cidr.family) return 0;
  const diff = address.value ^ cidr.network;
  if (diff === 0n) return addressBits(address.family);
  if (address.family === 4) return Math.clz32(Number(diff));
  return 128 - diff.toString(2).length;
}

/** The network address of address/prefix as text, e.g. ("81.2.69.142", 24) → "81.2.69.0". Prefix is clamped to the family's width. */
export function truncateAddress(address: string, prefix: number): string {
  const a = parseAddress(address);
  if (a === null) throw new Error(`"${address}" is not an IPv4 or IPv6 address`);
  return formatAddress({ family: a.family, value: a.value & prefixMask(a.family, prefix) });
}

/**
 * The prefix that stands for "this client's network" when a decision depends on the client
 * but no database record says how far: /24 for IPv4 and /56 for IPv6 (the longest ECS source
 * prefixes RFC 7871 §11.1 recommends resolvers send), never more than what the client sent.
 */
export function clientNetworkPrefix(family: Family, sourcePrefix: number): number {
  return Math.min(sourcePrefix, family === 4 ? 24 : 56);
}
