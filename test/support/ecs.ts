/** EDNS Client Subnet (RFC 7871 §6) option data for test queries, and reading it back from answers. */
import net from 'node:net';
import { decode, type Decoded } from './dns-client.js';

/** The ECS option code (RFC 7871 §6). */
export const ECS_CODE = 8;

/**
 * The option for "IP/PREFIX" (or a bare IP: /32, /128), as a resolver sends it: FAMILY,
 * SOURCE PREFIX-LENGTH, SCOPE 0, and the address cut to ⌈prefix/8⌉ octets with the bits past
 * the prefix cleared (RFC 7871 §6 requires both).
 */
export function ecsOption(prefix: string): { code: 8; data: Buffer } {
  const slash = prefix.indexOf('/');
  const ip = slash < 0 ? prefix : prefix.slice(0, slash);
  const family = net.isIP(ip);
  if (family === 0) throw new Error(`ecsOption: "${prefix}" is not an IP address`);
  const bits = family === 4 ? 32 : 128;
  const length = slash < 0 ? bits : Number(prefix.slice(slash + 1));
  if (!Number.isInteger(length) || length < 0 || length > bits) throw new Error(`ecsOption: bad prefix length in "${prefix}"`);
  const full = addressBytes(ip);
  const address = Buffer.from(full.subarray(0, Math.ceil(length / 8)));
  const spare = (8 - (length % 8)) % 8;
  if (spare > 0) address[address.length - 1]! &= 0xff << spare;
  return { code: ECS_CODE, data: ecsRaw(family === 4 ? 1 : 2, length, 0, [...address]) };
}

/** Raw option data with every field as given, for malformed options. */
export function ecsRaw(family: number, source: number, scope: number, address: number[] | Buffer): Buffer {
  return Buffer.concat([Buffer.from([family >> 8, family & 0xff, source, scope]), Buffer.from(address)]);
}

/** What an answer's ECS option says. */
export interface EcsEcho {
  family: number;
  source: number;
  scope: number;
  /** The ADDRESS field exactly as sent (⌈source/8⌉ octets, or whatever the server wrote). */
  addressBytes: Buffer;
  /** The address zero-padded to full length, as text (IPv4 dotted, IPv6 as Node prints it). */
  address: string;
  /** The whole option data, for byte-for-byte comparison with the query's. */
  data: Buffer;
}

/**
 * The ECS option of a response (raw bytes or decoded), or null when it has none. Throws when
 * the response has more than one ECS option (RFC 7871 §7.2.2: at most one).
 */
export function ecsOf(response: Buffer | Decoded): EcsEcho | null {
  const msg = Buffer.isBuffer(response) ? decode(response) : response;
  const found: Buffer[] = [];
  for (const rr of msg.additionals ?? []) {
    if (rr.type !== 'OPT') continue;
    for (const o of (rr.options ?? []) as Array<{ code: number; data: Buffer }>) if (o.code === ECS_CODE) found.push(Buffer.from(o.data));
  }
  if (found.length === 0) return null;
  if (found.length > 1) throw new Error(`response has ${found.length} ECS options`);
  const data = found[0]!;
  const family = data.readUInt16BE(0);
  const addr = data.subarray(4);
  const full = Buffer.alloc(family === 2 ? 16 : 4);
  addr.copy(full, 0, 0, Math.min(addr.length, full.length));
  return { family, source: data[2]!, scope: data[3]!, addressBytes: Buffer.from(addr), address: bytesToText(full), data };
}

/** True when the response carries an OPT record at all. */
export function hasOpt(response: Buffer | Decoded): boolean {
  const msg = Buffer.isBuffer(response) ? decode(response) : response;
  return (msg.additionals ?? []).some((rr) => rr.type === 'OPT');
}

function addressBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  // Expand "::" and a trailing dotted quad, then write 8 groups.
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    text = text.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function bytesToText(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}
