/**
 * IP addresses and CIDR blocks for steering: parse once at load, test per query.
 *
 * Addresses are held as a BigInt (32 bits for IPv4, 128 for IPv6) so one code path serves
 * both families; a containment test is one AND and one compare. IPv4-mapped IPv6 addresses
 * ("::ffff:192.0.2.1", RFC 4291 §2.5.5.2) are normalised to IPv4 so that a dual-stack socket
 * and a plain IPv4 socket steer the same client the same way.
 */
import { isIPv6 } from 'node:net';

export type Family = 4 | 6;

/** A parsed address: its family and its bits as an unsigned integer. */
export interface IpAddress {
  readonly family: Family;
  readonly value: bigint;
}

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

const MAPPED_PREFIX = 0xffffn; // ::ffff:0:0/96, the upper 96 bits of a mapped address

/** Parses an IPv4 or IPv6 address (no zone id); "::ffff:a.b.c.d" comes back as IPv4. Null when invalid. */
export function parseAddress(text: string): IpAddress | null {
  const raw = parseRaw(text);
  if (raw === null || raw.family === 4) return raw;
  if (raw.value >> 32n === MAPPED_PREFIX) return { family: 4, value: raw.value & 0xffffffffn };
  return raw;
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as "::"). */
export function formatAddress(address: IpAddress): string {
  const v = address.value;
  if (address.family === 4) return `${Number((v >> 24n) & 0xffn)}.${Number((v >> 16n) & 0xffn)}.${Number((v >> 8n) & 0xffn)}.${Number(v & 0xffn)}`;
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((v >> shift) & 0xffffn));
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first when tied.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
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
  let address = parseRaw(addressText);
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

/** Parses without normalising mapped addresses. */
function parseRaw(text: string): IpAddress | null {
  if (!text.includes(':')) {
    const v4 = ipv4Number(text);
    return v4 < 0 ? null : { family: 4, value: BigInt(v4) };
  }
  // node:net accepts a zone id ("fe80::1%eth0"); it names an interface, not a network.
  if (!isIPv6(text) || text.includes('%')) return null;
  let s = text;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    // Embedded IPv4 tail ("::ffff:1.2.3.4"): rewrite it as two hex groups.
    const v4 = ipv4Number(s.slice(lastColon + 1)); // valid: isIPv6 checked the tail
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  const left = halves[0] === '' ? [] : halves[0]!.split(':');
  const right = halves.length < 2 || halves[1] === '' ? [] : halves[1]!.split(':');
  const groups = halves.length < 2 ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(parseInt(g, 16));
  return { family: 6, value };
}

/**
 * A dotted quad as an unsigned 32-bit number, or -1 when it is not one. Hand-written because
 * this runs per query: four decimal octets, no leading zeros (as node:net's isIPv4).
 */
export function ipv4Number(text: string): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
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
