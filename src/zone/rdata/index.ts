/**
 * RDATA presentation <-> wire codec, one entry per RR type (families in this folder), plus
 * the RFC 3597 generic form `\# <length> <hex>` that works for every type.
 */
import { typeToText, RRType } from '../../dns/constants.js';
import type { Name } from '../../dns/name.js';
import { tokenizeText } from '../tokenizer.js';
import { A, AAAA } from './addresses.js';
import { DNSKEY, DS, OPENPGPKEY, SSHFP, TLSA } from './dnssec.js';
import { RdataError, TokenCursor, WireFormatError, WireReader, WireWriter, bytesToHex, hexToBytes, type RdataCodec, type RdataToken } from './fields.js';
import { NAPTR, RP, SOA, SRV, preferenceName, singleName } from './names.js';
import { SVCB } from './svcb.js';
import { CAA, HINFO, TXT, URI } from './txt.js';

export { RdataError, parseTtlText, type RdataToken } from './fields.js';

const CODECS = new Map<number, RdataCodec>([
  [RRType.A, A],
  [RRType.AAAA, AAAA],
  [RRType.NS, singleName('name server')],
  [RRType.CNAME, singleName('target')],
  [RRType.PTR, singleName('target')],
  [RRType.DNAME, singleName('target')],
  [RRType.MX, preferenceName('exchange')],
  [RRType.KX, preferenceName('exchanger')],
  [RRType.RP, RP],
  [RRType.SOA, SOA],
  [RRType.SRV, SRV],
  [RRType.NAPTR, NAPTR],
  [RRType.TXT, TXT],
  [RRType.SPF, TXT],
  [RRType.HINFO, HINFO],
  [RRType.CAA, CAA],
  [RRType.URI, URI],
  [RRType.DS, DS],
  [RRType.CDS, DS],
  [RRType.DNSKEY, DNSKEY],
  [RRType.CDNSKEY, DNSKEY],
  [RRType.SSHFP, SSHFP],
  [RRType.TLSA, TLSA],
  [RRType.SMIMEA, TLSA],
  [RRType.OPENPGPKEY, OPENPGPKEY],
  [RRType.SVCB, SVCB],
  [RRType.HTTPS, SVCB],
]);

/** True when the type has a presentation form here (others take only the `\#` form). */
export function hasPresentationForm(type: number): boolean {
  return CODECS.has(type);
}

const writer = new WireWriter();

/** Presentation tokens (after the type) -> uncompressed wire RDATA. Throws RdataError with a message naming the field. */
export function encodeRdata(type: number, tokens: RdataToken[], origin: Name | null): Buffer {
  const typeName = typeToText(type);
  const first = tokens[0];
  if (first !== undefined && !first.quoted && first.text === '\\#') return encodeGeneric(type, typeName, tokens);
  const codec = CODECS.get(type);
  if (codec === undefined) {
    throw new RdataError(`${typeName}: no presentation form is known for this type; write it as RFC 3597 "\\# <length> <hex>"`);
  }
  const cursor = new TokenCursor(typeName, tokens, origin);
  writer.reset();
  codec.encode(cursor, writer);
  cursor.done();
  return writer.finish();
}

/**
 * RFC 3597 §5: `\# <length> <hex...>`, the hex possibly split by whitespace. Known types must
 * still hold well-formed RDATA of their type, so it is decoded as a check.
 */
function encodeGeneric(type: number, typeName: string, tokens: RdataToken[]): Buffer {
  const lengthToken = tokens[1];
  if (lengthToken === undefined) throw new RdataError(`${typeName}: \\# needs a length`);
  if (!/^[0-9]+$/.test(lengthToken.text) || Number(lengthToken.text) > 0xffff) {
    throw new RdataError(`${typeName}: \\# length "${lengthToken.text}" is not a number from 0 to 65535`);
  }
  let hex = '';
  for (let i = 2; i < tokens.length; i++) hex += tokens[i]!.text;
  let data: Buffer;
  try {
    data = hexToBytes(hex, 'data');
  } catch (err) {
    throw new RdataError(`${typeName}: \\# ${(err as Error).message}`);
  }
  const length = Number(lengthToken.text);
  if (data.length !== length) throw new RdataError(`${typeName}: \\# length ${length} does not match the ${data.length} octets of hex data`);
  const codec = CODECS.get(type);
  if (codec !== undefined) {
    try {
      decodeWith(codec, data);
    } catch (err) {
      throw new RdataError(`${typeName}: \\# data is not valid ${typeName} RDATA (${(err as Error).message})`);
    }
  }
  return data;
}

function decodeWith(codec: RdataCodec, rdata: Uint8Array): string {
  const r = new WireReader(rdata);
  const text = codec.decode(r);
  r.done();
  return text;
}

export function genericText(rdata: Uint8Array): string {
  return rdata.length === 0 ? '\\# 0' : `\\# ${rdata.length} ${bytesToHex(rdata)}`;
}

/** Wire RDATA -> presentation text as Knot/BIND print it (names absolute with trailing dot). Unknown types -> RFC 3597 `\# len hex`. */
export function rdataToText(type: number, rdata: Uint8Array): string {
  const codec = CODECS.get(type);
  if (codec === undefined) return genericText(rdata);
  try {
    return decodeWith(codec, rdata);
  } catch (err) {
    if (err instanceof WireFormatError) return genericText(rdata);
    throw err;
  }
}

/**
 * Parses the RDATA of one record given on its own ("10 mail.example.com.", an admin API
 * field, a policy address), exactly as it would follow the type on a zone-file line. Being
 * one record, it has no use for what only a file has, so where the file syntax would drop or
 * regroup text silently it is refused instead: `;` outside quotes (a comment: the DKIM value
 * `v=DKIM1; k=rsa; p=…` would keep only `v=DKIM1`), `(` and `)` outside quotes (line
 * grouping), and line breaks.
 */
export function encodeRdataText(type: number, text: string, origin: Name | null): Buffer {
  const typeName = typeToText(type);
  const special = fileOnlySyntax(text);
  if (special !== null) throw new RdataError(`${typeName}: ${special}`);
  const { tokens, error } = tokenizeText(text);
  if (error !== undefined) throw new RdataError(`${typeName}: ${error}`);
  return encodeRdata(type, tokens, origin);
}

/** The first zone-file-only character of a one-record text (see encodeRdataText), as a message; null when there is none. */
function fileOnlySyntax(text: string): string | null {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && text[i + 1] !== '\n' && text[i + 1] !== '\r') {
      i++; // `\X` stands for X, whatever X is
    } else if (c === '"') {
      quoted = !quoted;
    } else if (c === '\n' || c === '\r') {
      return `a line break at character ${i + 1}; inside a quoted string write it as \\010 (or \\013)`;
    } else if (!quoted && c === ';') {
      return `";" at character ${i + 1} is outside quotes, where it would start a comment and drop the rest; quote the text ("v=DKIM1; k=rsa; …") or write \\;`;
    } else if (!quoted && (c === '(' || c === ')')) {
      return `"${c}" at character ${i + 1} is outside quotes, where it groups zone-file lines; quote the text or write \\${c}`;
    }
  }
  return null;
}
