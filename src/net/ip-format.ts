/** Octets and numbers → IP address text: dotted quads and RFC 5952 IPv6, one formatter for all. */
import { parseIPv4, parseIPv6, type Family, type IpAddress } from './ip-parse.js';

/** b[off..off+3] as a dotted quad. */
export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/**
 * b[off..off+15] as RFC 5952 text: lower-case hex, the first longest run of two or more zero
 * groups as "::" (§4.2). With `dottedTail`, ::a.b.c.d and ::ffff:a.b.c.d end in a dotted quad
 * (§5), as inet_ntop prints them and Knot and BIND show zone data.
 */
export function formatIPv6(b: Uint8Array, off = 0, dottedTail = false): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  let best = -1,
    bestLen = 0,
    cur = -1,
    curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] !== 0) {
      cur = -1;
      continue;
    }
    if (cur < 0) {
      cur = i;
      curLen = 0;
    }
    curLen++;
    if (curLen > bestLen) {
      best = cur;
      bestLen = curLen;
    }
  }
  if (bestLen < 2) best = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best >= 0 && i >= best && i < best + bestLen) {
      if (i === best) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (dottedTail && i === 6 && best === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      return out + formatIPv4(b, off + 12);
    }
    out += words[i]!.toString(16);
  }
  if (best >= 0 && best + bestLen === 8) out += ':';
  return out;
}

const scratch = new Uint8Array(16);
const scratchView = new DataView(scratch.buffer);

/** Canonical text of a parsed address: dotted quad, or RFC 5952 IPv6. */
export function formatAddress(address: IpAddress): string {
  const v = address.value;
  if (address.family === 4) return `${Number((v >> 24n) & 0xffn)}.${Number((v >> 16n) & 0xffn)}.${Number((v >> 8n) & 0xffn)}.${Number(v & 0xffn)}`;
  scratchView.setBigUint64(0, v >> 64n);
  scratchView.setBigUint64(8, v & 0xffffffffffffffffn);
  return formatIPv6(scratch);
}

/** Zeroes the host bits of `bytes` beyond `prefix`, in place. */
function mask(bytes: Uint8Array, prefix: number): Uint8Array {
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return bytes;
}

/**
 * The network that holds `address` with `prefix` bits, as "a.b.c.d/p" or "x::/p".
 * `address` must already be valid and in the family `prefix` counts in.
 */
export function networkOf(address: string, family: Family, prefix: number): string {
  if (family === 4) return `${formatIPv4(mask(parseIPv4(address) ?? new Uint8Array(4), prefix))}/${prefix}`;
  return `${formatIPv6(mask(parseIPv6(address) ?? new Uint8Array(16), prefix))}/${prefix}`;
}
