/** A (RFC 1035 §3.4.1) and AAAA (RFC 3596 §2.4); the address helpers are shared with SVCB hints. */
import { formatIPv4, formatIPv6 } from '../../net/ip-format.js';
import { ipv4Number, parseIPv6Into } from '../../net/ip-parse.js';
import { WireFormatError, type RdataCodec, type WireReader, type WireWriter } from './fields.js';

/** Writes a dotted-quad IPv4 address; false when the text is not one. */
export function writeIPv4(text: string, w: WireWriter): boolean {
  const n = ipv4Number(text);
  if (n < 0) return false;
  w.u32(n);
  return true;
}

const octets = new Uint8Array(16);

/** Writes an IPv6 address (RFC 4291 §2.2, embedded IPv4 allowed); false when the text is not one. */
export function writeIPv6(text: string, w: WireWriter): boolean {
  if (!parseIPv6Into(text, octets)) return false;
  w.bytes(octets);
  return true;
}

export const A: RdataCodec = {
  encode(c, w) {
    const t = c.next('address');
    if (t.quoted || !writeIPv4(t.text, w)) c.fail(`"${t.text}" is not an IPv4 address`);
  },
  decode(r: WireReader) {
    if (r.left !== 4) throw new WireFormatError('A RDATA is not 4 octets');
    return formatIPv4(r.bytes(4));
  },
};

export const AAAA: RdataCodec = {
  encode(c, w) {
    const t = c.next('address');
    if (t.quoted || !writeIPv6(t.text, w)) c.fail(`"${t.text}" is not an IPv6 address`);
  },
  decode(r: WireReader) {
    if (r.left !== 16) throw new WireFormatError('AAAA RDATA is not 16 octets');
    return formatIPv6(r.bytes(16), 0, true);
  },
};
