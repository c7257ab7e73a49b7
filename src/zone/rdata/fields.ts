/**
 * Building blocks of the RDATA codec: a cursor over presentation tokens that reads typed
 * fields (with messages naming the field), a growable wire writer, a strict wire reader,
 * and the character-string, hex and base64 helpers every family shares.
 */
import { nameToText, parseName, type Name } from '../../dns/name.js';

/** One presentation token: its raw text (escapes kept, quotes removed) and whether it was quoted. */
export interface RdataToken {
  text: string;
  quoted: boolean;
}

/** A presentation-form problem; the message names the type and the field. */
export class RdataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RdataError';
  }
}

/** Wire RDATA that does not decode as its type; rdataToText then falls back to RFC 3597 form. */
export class WireFormatError extends Error {}

const DIGITS = /^[0-9]+$/;
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A TTL or timer value: plain seconds, or BIND units (`1h30m`, `1d`, `2W`; RFC 2308 §4 leaves
 * units to implementations). A trailing bare number counts as seconds (`1h30` = 3630), as BIND.
 * Returns undefined when the text is not of that shape; the value may exceed 32 bits.
 */
export function parseTtlText(text: string): number | undefined {
  if (DIGITS.test(text)) return Number(text);
  if (text === '') return undefined;
  let total = 0;
  let n = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      n = (n < 0 ? 0 : n * 10) + (c - 0x30);
      continue;
    }
    if (n < 0) return undefined;
    const unit = UNIT_SECONDS[c | 0x20];
    if (unit === undefined) return undefined;
    total += n * unit;
    n = -1;
  }
  return n >= 0 ? total + n : total;
}

const UNIT_SECONDS: Record<number, number> = {
  0x73: 1, // s
  0x6d: 60, // m
  0x68: 3600, // h
  0x64: 86400, // d
  0x77: 604800, // w
};

/**
 * Decodes a character-string's presentation text (RFC 1035 §5.1: `\X` and `\DDD`) to octets.
 * Characters beyond ASCII are taken as UTF-8, since the file was read as UTF-8.
 */
export function decodeEscapes(text: string): Buffer {
  let plain = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c || c > 0x7f) {
      plain = false;
      break;
    }
  }
  if (plain) return Buffer.from(text, 'latin1');
  const out = Buffer.allocUnsafe(text.length * 3);
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x5c) {
      o += c < 0x80 ? ((out[o] = c), 1) : out.write(text[i]!, o, 'utf8');
      continue;
    }
    const next = text.charCodeAt(i + 1);
    if (Number.isNaN(next)) throw new RdataError('ends with a lone backslash');
    if (next >= 0x30 && next <= 0x39) {
      const digits = text.slice(i + 1, i + 4);
      if (!/^[0-9]{3}$/.test(digits)) throw new RdataError(`bad escape "\\${digits}" (\\DDD needs three digits)`);
      const v = Number(digits);
      if (v > 255) throw new RdataError(`escape "\\${digits}" is above 255`);
      out[o++] = v;
      i += 3;
    } else {
      // `\X` stands for X itself; a surrogate pair must not be split
      const cp = text.codePointAt(i + 1)!;
      const ch = String.fromCodePoint(cp);
      o += cp < 0x80 ? ((out[o] = cp), 1) : out.write(ch, o, 'utf8');
      i += ch.length;
    }
  }
  return out.subarray(0, o);
}

/** Presentation text of octets inside double quotes: `"` and `\` escaped, non-printables as \DDD. */
export function escapeBytes(bytes: Uint8Array): string {
  let out = '';
  let runStart = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) continue;
    out += latin1(bytes, runStart, i);
    out += c === 0x22 || c === 0x5c ? '\\' + String.fromCharCode(c) : '\\' + String(c).padStart(3, '0');
    runStart = i + 1;
  }
  return out + latin1(bytes, runStart, bytes.length);
}

export function quoteBytes(bytes: Uint8Array): string {
  return '"' + escapeBytes(bytes) + '"';
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return start >= end ? '' : Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

const HEX = /^[0-9a-fA-F]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function hexToBytes(text: string, what: string): Buffer {
  if (!HEX.test(text)) throw new RdataError(`${what} is not hexadecimal`);
  if (text.length % 2 !== 0) throw new RdataError(`${what} has an odd number of hex digits`);
  return Buffer.from(text, 'hex');
}

export function base64ToBytes(text: string, what: string): Buffer {
  if (!BASE64.test(text) || text.length % 4 !== 0) throw new RdataError(`${what} is not valid base64`);
  return Buffer.from(text, 'base64');
}

export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex').toUpperCase();
}

export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}

/**
 * Reads the presentation tokens of one RR's RDATA field by field. Every failure throws an
 * RdataError that starts with the type mnemonic and names the field.
 */
export class TokenCursor {
  readonly typeName: string;
  readonly origin: Name | null;
  #tokens: readonly RdataToken[];
  #i = 0;
  #lastField = '';

  constructor(typeName: string, tokens: readonly RdataToken[], origin: Name | null) {
    this.typeName = typeName;
    this.#tokens = tokens;
    this.origin = origin;
  }

  fail(message: string): never {
    throw new RdataError(`${this.typeName}: ${message}`);
  }

  get remaining(): number {
    return this.#tokens.length - this.#i;
  }

  next(field: string): RdataToken {
    const t = this.#tokens[this.#i];
    if (t === undefined) this.fail(`missing ${field}`);
    this.#i++;
    this.#lastField = field;
    return t;
  }

  /** All tokens left (at least one), for fields that may be split across whitespace. */
  rest(field: string): RdataToken[] {
    if (this.remaining === 0) this.fail(`missing ${field}`);
    const out = this.#tokens.slice(this.#i);
    this.#i = this.#tokens.length;
    this.#lastField = field;
    return out;
  }

  /** Unquoted tokens left, joined: hex and base64 may be split by whitespace (RFC 4034 §2.2, §5.3). */
  joined(field: string): string {
    let s = '';
    for (const t of this.rest(field)) {
      if (t.quoted) this.fail(`${field} must not be quoted`);
      s += t.text;
    }
    return s;
  }

  /** Fails when tokens are left over. */
  done(): void {
    const t = this.#tokens[this.#i];
    if (t !== undefined) this.fail(`unexpected "${t.text}" after the ${this.#lastField}`);
  }

  uint(field: string, max: number): number {
    const t = this.next(field);
    if (!DIGITS.test(t.text)) this.fail(`${field} "${t.text}" is not a number`);
    const v = Number(t.text);
    if (v > max) this.fail(`${field} ${t.text} is above ${max}`);
    return v;
  }

  u8(field: string): number {
    return this.uint(field, 0xff);
  }

  u16(field: string): number {
    return this.uint(field, 0xffff);
  }

  u32(field: string): number {
    return this.uint(field, 0xffffffff);
  }

  /** A 32-bit timer that also accepts BIND units (SOA refresh, retry, expire, minimum). */
  timer(field: string): number {
    const t = this.next(field);
    const v = parseTtlText(t.text);
    if (v === undefined) this.fail(`${field} "${t.text}" is not a number or a duration like 1h`);
    if (v > 0xffffffff) this.fail(`${field} ${t.text} is above 4294967295`);
    return v;
  }

  name(field: string): Name {
    const t = this.next(field);
    return this.nameOf(t.text, field);
  }

  nameOf(text: string, field: string): Name {
    // the file is read as UTF-8; names must be ASCII (IDNs in punycode, RFC 5890)
    if (NON_ASCII.test(text)) this.fail(`${field} "${text}" has a non-ASCII character; write it as punycode`);
    try {
      return parseName(text, this.origin);
    } catch (err) {
      return this.fail(`${field}: ${(err as Error).message}`);
    }
  }

  /** One character-string (RFC 1035 §3.3): at most 255 octets. */
  charString(field: string): Buffer {
    return this.checkedCharString(this.next(field).text, field);
  }

  checkedCharString(text: string, field: string): Buffer {
    const b = this.bytes(text, field);
    if (b.length > 255) this.fail(`${field} is ${b.length} octets; a character-string holds at most 255`);
    return b;
  }

  /** Escape-decoded octets of any length. */
  bytes(text: string, field: string): Buffer {
    try {
      return decodeEscapes(text);
    } catch (err) {
      return this.fail(`${field}: ${(err as Error).message}`);
    }
  }

  hex(field: string): Buffer {
    const s = this.joined(field);
    try {
      return hexToBytes(s, field);
    } catch (err) {
      return this.fail((err as Error).message);
    }
  }

  base64(field: string): Buffer {
    const s = this.joined(field);
    try {
      return base64ToBytes(s, field);
    } catch (err) {
      return this.fail((err as Error).message);
    }
  }
}

/** RDATA is at most 65535 octets (RFC 1035 §3.2.1 RDLENGTH). */
const MAX_RDATA = 0xffff;

/**
 * Appends wire fields to one reusable buffer; `finish` copies the bytes out. Encoding is
 * synchronous and never re-entered, so a single module-level writer is safe.
 */
export class WireWriter {
  #buf = Buffer.allocUnsafe(1024);
  #len = 0;

  reset(): void {
    this.#len = 0;
  }

  #room(n: number): void {
    const need = this.#len + n;
    if (need <= this.#buf.length) return;
    if (need > MAX_RDATA) throw new RdataError(`RDATA would be longer than ${MAX_RDATA} octets`);
    const bigger = Buffer.allocUnsafe(Math.min(MAX_RDATA, Math.max(need, this.#buf.length * 2)));
    this.#buf.copy(bigger, 0, 0, this.#len);
    this.#buf = bigger;
  }

  u8(v: number): void {
    this.#room(1);
    this.#buf[this.#len++] = v;
  }

  u16(v: number): void {
    this.#room(2);
    this.#buf.writeUInt16BE(v, this.#len);
    this.#len += 2;
  }

  u32(v: number): void {
    this.#room(4);
    this.#buf.writeUInt32BE(v, this.#len);
    this.#len += 4;
  }

  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }

  /** A character-string: length octet then the octets (RFC 1035 §3.3). */
  charString(b: Uint8Array): void {
    this.u8(b.length);
    this.bytes(b);
  }

  /** An uncompressed name, case kept (RFC 1035 §3.1; RFC 3597 §4 forbids compression here). */
  name(name: Name): void {
    let n = 1;
    for (const l of name) n += l.length + 1;
    this.#room(n);
    for (const l of name) {
      this.#buf[this.#len++] = l.length;
      this.#len += this.#buf.write(l, this.#len, 'latin1');
    }
    this.#buf[this.#len++] = 0;
  }

  get length(): number {
    return this.#len;
  }

  /** Overwrites a u16 written earlier (SVCB parameter lengths). */
  setU16(offset: number, v: number): void {
    this.#buf.writeUInt16BE(v, offset);
  }

  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.#len);
    this.#buf.copy(out, 0, 0, this.#len);
    return out;
  }
}

/** Reads wire RDATA field by field; throws WireFormatError on anything malformed. */
export class WireReader {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  get atEnd(): boolean {
    return this.pos === this.end;
  }

  get left(): number {
    return this.end - this.pos;
  }

  #need(n: number): void {
    if (this.pos + n > this.end) throw new WireFormatError('RDATA is truncated');
  }

  u8(): number {
    this.#need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.#need(2);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  bytes(n: number): Uint8Array {
    this.#need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  rest(): Uint8Array {
    return this.bytes(this.left);
  }

  charString(): Uint8Array {
    return this.bytes(this.u8());
  }

  /** An uncompressed name; compression pointers are not allowed inside stored RDATA. */
  name(): string[] {
    const labels: string[] = [];
    let total = 1;
    for (;;) {
      const len = this.u8();
      if (len === 0) return labels;
      if (len > 63) throw new WireFormatError('compressed or extended label in RDATA');
      total += len + 1;
      if (total > 255) throw new WireFormatError('name longer than 255 octets');
      labels.push(latin1(this.bytes(len), 0, len));
    }
  }

  /** Fails unless every octet was consumed. */
  done(): void {
    if (!this.atEnd) throw new WireFormatError(`${this.left} octets left over`);
  }
}

/** One RR type's presentation <-> wire conversion. `decode` must consume the whole RDATA. */
export interface RdataCodec {
  encode(c: TokenCursor, w: WireWriter): void;
  decode(r: WireReader): string;
}

export function nameText(labels: readonly string[]): string {
  return nameToText(labels);
}
