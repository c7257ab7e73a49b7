/** Types made of character-strings and free text: TXT, SPF, HINFO, CAA, URI. */
import { WireFormatError, escapeBytes, quoteBytes, type RdataCodec } from './fields.js';

/**
 * TXT (RFC 1035 §3.3.14) and SPF (RFC 7208 §3): one or more character-strings, quoted or not.
 * A string over 255 octets is refused rather than split silently, as BIND and Knot do.
 */
export const TXT: RdataCodec = {
  encode(c, w) {
    for (const t of c.rest('text')) {
      const b = c.bytes(t.text, 'text');
      if (b.length > 255) c.fail(`string longer than 255 octets (${b.length}); split it into several quoted strings`);
      w.charString(b);
    }
  },
  decode(r) {
    if (r.atEnd) throw new WireFormatError('TXT needs at least one character-string');
    const parts: string[] = [];
    while (!r.atEnd) parts.push(quoteBytes(r.charString()));
    return parts.join(' ');
  },
};

/** HINFO (RFC 1035 §3.3.2): CPU and OS character-strings. */
export const HINFO: RdataCodec = {
  encode(c, w) {
    w.charString(c.charString('CPU'));
    w.charString(c.charString('OS'));
  },
  decode(r) {
    return `${quoteBytes(r.charString())} ${quoteBytes(r.charString())}`;
  },
};

const CAA_TAG = /^[A-Za-z0-9]+$/;

/** CAA (RFC 8659 §4.1): flags, an alphanumeric tag, and a value that runs to the end of RDATA. */
export const CAA: RdataCodec = {
  encode(c, w) {
    w.u8(c.u8('flags'));
    const tag = c.next('tag');
    if (tag.quoted || !CAA_TAG.test(tag.text)) c.fail(`tag "${tag.text}" must be letters and digits only`);
    if (tag.text.length > 255) c.fail('tag is longer than 255 characters');
    w.charString(Buffer.from(tag.text, 'latin1'));
    w.bytes(c.bytes(c.next('value').text, 'value'));
  },
  decode(r) {
    const flags = r.u8();
    const tag = Buffer.from(r.charString()).toString('latin1');
    if (!CAA_TAG.test(tag)) throw new WireFormatError('CAA tag is not alphanumeric');
    return `${flags} ${tag} ${quoteBytes(r.rest())}`;
  },
};

/** URI (RFC 7553 §4.4): priority weight "target"; the target runs to the end of RDATA. */
export const URI: RdataCodec = {
  encode(c, w) {
    w.u16(c.u16('priority'));
    w.u16(c.u16('weight'));
    w.bytes(c.bytes(c.next('target').text, 'target'));
  },
  decode(r) {
    return `${r.u16()} ${r.u16()} "${escapeBytes(r.rest())}"`;
  },
};
