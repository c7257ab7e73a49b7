/** A (RFC 1035 §3.4.1) and AAAA (RFC 3596 §2.4); the address helpers are shared with SVCB hints. */
import { isIPv4, isIPv6 } from 'node:net';
import { WireFormatError, type RdataCodec, type WireReader, type WireWriter } from './fields.js';

/** Writes a dotted-quad IPv4 address; false when the text is not one. */
export function writeIPv4(text: string, w: WireWriter): boolean {
  if (!isIPv4(text)) return false;
  let v = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      v = v * 10 + (c - 0x30);
    } else {
      w.u8(v);
      v = 0;
    }
  }
  return true;
}

/** Writes an IPv6 address (RFC 4291 §2.2, embedded IPv4 allowed); false when the text is not one. */
export function writeIPv6(text: string, w: WireWriter): boolean {
  // node accepts a zone index ("fe80::1%eth0"), which has no place in DNS data
  if (!isIPv6(text) || text.includes('%')) return false;
  if (ipv6Words(text) !== 8) return false;
  for (let i = 0; i < 8; i++) w.u16(words[i]!);
  return true;
}

const words = new Uint16Array(8);

/**
 * Fills `words` from text already validated by isIPv6, in one pass: hex groups, at most one
 * "::" (the zeros are inserted at the end), and a trailing dotted quad. Returns the count.
 */
function ipv6Words(text: string): number {
  let n = 0, gapAt = -1, v = 0, digits = 0, groupStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a) {
      if (digits > 0) words[n++] = v;
      v = 0;
      digits = 0;
      if (text.charCodeAt(i + 1) === 0x3a) (gapAt = n), i++;
      groupStart = i + 1;
    } else if (c === 0x2e) {
      const [a, b, cc, d] = text.slice(groupStart).split('.').map(Number) as [number, number, number, number];
      words[n++] = (a << 8) | b;
      words[n++] = (cc << 8) | d;
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
    n = 8;
  }
  return n;
}

export function ipv4Text(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/**
 * IPv6 text as inet_ntop prints it (what Knot and BIND show): the first longest run of two or
 * more zero words becomes "::" (RFC 5952 §4.2), lower-case hex, and ::a.b.c.d / ::ffff:a.b.c.d
 * in dotted form.
 */
export function ipv6Text(b: Uint8Array, off: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  let best = -1, bestLen = 0, cur = -1, curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] !== 0) {
      cur = -1;
      continue;
    }
    if (cur < 0) (cur = i), (curLen = 0);
    curLen++;
    if (curLen > bestLen) (best = cur), (bestLen = curLen);
  }
  if (bestLen < 2) best = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (best >= 0 && i >= best && i < best + bestLen) {
      if (i === best) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && best === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      return out + ipv4Text(b, off + 12);
    }
    out += words[i]!.toString(16);
  }
  if (best >= 0 && best + bestLen === 8) out += ':';
  return out;
}

export const A: RdataCodec = {
  encode(c, w) {
    const t = c.next('address');
    if (t.quoted || !writeIPv4(t.text, w)) c.fail(`"${t.text}" is not an IPv4 address`);
  },
  decode(r: WireReader) {
    if (r.left !== 4) throw new WireFormatError('A RDATA is not 4 octets');
    return ipv4Text(r.bytes(4), 0);
  },
};

export const AAAA: RdataCodec = {
  encode(c, w) {
    const t = c.next('address');
    if (t.quoted || !writeIPv6(t.text, w)) c.fail(`"${t.text}" is not an IPv6 address`);
  },
  decode(r: WireReader) {
    if (r.left !== 16) throw new WireFormatError('AAAA RDATA is not 16 octets');
    return ipv6Text(r.bytes(16), 0);
  },
};
