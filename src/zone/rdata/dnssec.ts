/**
 * Key and digest types: DS/CDS (RFC 4034 §5.3, RFC 7344), DNSKEY/CDNSKEY (RFC 4034 §2.2),
 * SSHFP (RFC 4255 §3.2), TLSA (RFC 6698 §2.2), SMIMEA (RFC 8162), OPENPGPKEY (RFC 7929).
 * Hex and base64 may be split across whitespace; output is one token, hex upper-case as Knot.
 */
import { WireFormatError, bytesToBase64, bytesToHex, type RdataCodec, type TokenCursor, type WireReader } from './fields.js';

/** DNSSEC algorithm mnemonics (RFC 4034 Appendix A.1, IANA registry), accepted in place of numbers. */
const ALGORITHMS = new Map<string, number>([
  ['RSAMD5', 1],
  ['DH', 2],
  ['DSA', 3],
  ['RSASHA1', 5],
  ['DSA-NSEC3-SHA1', 6],
  ['RSASHA1-NSEC3-SHA1', 7],
  ['RSASHA256', 8],
  ['RSASHA512', 10],
  ['ECC-GOST', 12],
  ['ECDSAP256SHA256', 13],
  ['ECDSAP384SHA384', 14],
  ['ED25519', 15],
  ['ED448', 16],
  ['INDIRECT', 252],
  ['PRIVATEDNS', 253],
  ['PRIVATEOID', 254],
]);

function algorithm(c: TokenCursor): number {
  const t = c.next('algorithm');
  const named = ALGORITHMS.get(t.text.toUpperCase());
  if (named !== undefined) return named;
  if (!/^[0-9]+$/.test(t.text)) c.fail(`algorithm "${t.text}" is not a number or a known mnemonic`);
  if (Number(t.text) > 255) c.fail(`algorithm ${t.text} is above 255`);
  return Number(t.text);
}

function hexRest(r: WireReader): string {
  if (r.atEnd) throw new WireFormatError('digest or key data is empty');
  return bytesToHex(r.rest());
}

function base64Rest(r: WireReader): string {
  if (r.atEnd) throw new WireFormatError('key data is empty');
  return bytesToBase64(r.rest());
}

/** DS and CDS: key tag, algorithm, digest type, digest. */
export const DS: RdataCodec = {
  encode(c, w) {
    w.u16(c.u16('key tag'));
    w.u8(algorithm(c));
    w.u8(c.u8('digest type'));
    w.bytes(c.hex('digest'));
  },
  decode(r) {
    return `${r.u16()} ${r.u8()} ${r.u8()} ${hexRest(r)}`;
  },
};

/** DNSKEY and CDNSKEY: flags, protocol, algorithm, public key. */
export const DNSKEY: RdataCodec = {
  encode(c, w) {
    w.u16(c.u16('flags'));
    w.u8(c.u8('protocol'));
    w.u8(algorithm(c));
    w.bytes(c.base64('public key'));
  },
  decode(r) {
    return `${r.u16()} ${r.u8()} ${r.u8()} ${base64Rest(r)}`;
  },
};

export const SSHFP: RdataCodec = {
  encode(c, w) {
    w.u8(c.u8('algorithm'));
    w.u8(c.u8('fingerprint type'));
    w.bytes(c.hex('fingerprint'));
  },
  decode(r) {
    return `${r.u8()} ${r.u8()} ${hexRest(r)}`;
  },
};

/** TLSA and SMIMEA: usage, selector, matching type, certificate association data. */
export const TLSA: RdataCodec = {
  encode(c, w) {
    w.u8(c.u8('usage'));
    w.u8(c.u8('selector'));
    w.u8(c.u8('matching type'));
    w.bytes(c.hex('certificate data'));
  },
  decode(r) {
    return `${r.u8()} ${r.u8()} ${r.u8()} ${hexRest(r)}`;
  },
};

export const OPENPGPKEY: RdataCodec = {
  encode(c, w) {
    w.bytes(c.base64('public key'));
  },
  decode(r) {
    return base64Rest(r);
  },
};
