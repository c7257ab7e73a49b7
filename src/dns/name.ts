/**
 * Domain names.
 *
 * A `Name` is an array of labels, most specific first, each label a "binary" string
 * (one char per octet, latin1) exactly as written, so case is preserved (RFC 4343).
 * The root is the empty array. Lookups use `nameKey`, a lower-cased presentation form
 * without the trailing dot; the wire reader on the hot path builds the same key
 * straight from packet bytes (see query-reader.ts) so both must stay in step.
 */

export type Name = readonly string[];

export const ROOT: Name = Object.freeze([]);

export class NameSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NameSyntaxError';
  }
}

const MAX_LABEL = 63;
const MAX_NAME_WIRE = 255;

/** The key of a label: ASCII lower-cased; '.' and '\' escaped so keys never collide. */
export function labelKey(label: string): string {
  // Most labels are their own key, and most others only need ASCII lower-casing: return the
  // label, or one flat string, rather than a string built a character at a time.
  let upper = false;
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    if (c === 0x2e || c === 0x5c || c >= 0x80) return escapedKey(label);
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  return upper ? label.toLowerCase() : label;
}

function escapedKey(label: string): string {
  let out = '';
  for (let i = 0; i < label.length; i++) {
    let c = label.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c === 0x2e || c === 0x5c) out += '\\';
    out += String.fromCharCode(c);
  }
  return out;
}

/** Case-insensitive lookup key: "www.example.com" (root is ""). */
export function nameKey(name: Name): string {
  if (name.length === 1) return labelKey(name[0]!);
  const keys = new Array<string>(name.length);
  for (let i = 0; i < name.length; i++) keys[i] = labelKey(name[i]!);
  return keys.join('.'); // one flat string: zones keep millions of these as Map keys
}

/** Octets the name takes on the wire, uncompressed. */
export function wireLength(name: Name): number {
  let n = 1;
  for (const l of name) n += l.length + 1;
  return n;
}

/**
 * Parses a presentation-format name (RFC 1035 §5.1): `\.` and `\DDD` escapes, `@` for
 * the origin, relative names completed with `origin`. Throws NameSyntaxError.
 */
export function parseName(text: string, origin: Name | null): Name {
  if (text === '@') {
    if (!origin) throw new NameSyntaxError('"@" used but no $ORIGIN is set');
    return origin;
  }
  if (text === '.') return ROOT;
  const labels: string[] = [];
  let label = '';
  let absolute = false;
  // Without escapes, labels are slices of the text: one flat string each, where building them
  // a character at a time leaves chains of cons strings (tens of bytes a character) in the zone.
  let i = 0;
  if (!text.includes('\\')) {
    let start = 0;
    for (; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code > 0xff) throw new NameSyntaxError(`name "${text}" has a non-ASCII character; write it as punycode`);
      if (code !== 46) continue; // '.'
      if (i === start) throw new NameSyntaxError(`empty label in name "${text}"`);
      labels.push(text.slice(start, i));
      start = i + 1;
      if (i === text.length - 1) absolute = true;
    }
    if (start < text.length) labels.push(text.slice(start));
    i = text.length;
  }
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\') {
      const next = text[i + 1];
      if (next === undefined) throw new NameSyntaxError(`name "${text}" ends with a lone backslash`);
      if (next >= '0' && next <= '9') {
        const digits = text.slice(i + 1, i + 4);
        if (!/^\d{3}$/.test(digits)) throw new NameSyntaxError(`bad \\DDD escape in name "${text}"`);
        const v = Number(digits);
        if (v > 255) throw new NameSyntaxError(`escape \\${digits} in name "${text}" is above 255`);
        label += String.fromCharCode(v);
        i += 3;
      } else {
        label += next;
        i += 1;
      }
      continue;
    }
    if (ch === '.') {
      if (label.length === 0) throw new NameSyntaxError(`empty label in name "${text}"`);
      labels.push(label);
      label = '';
      if (i === text.length - 1) absolute = true;
      continue;
    }
    const code = ch.charCodeAt(0);
    if (code > 0xff) throw new NameSyntaxError(`name "${text}" has a non-ASCII character; write it as punycode`);
    label += ch;
  }
  if (label.length > 0) labels.push(label);
  if (!absolute) {
    if (!origin) throw new NameSyntaxError(`relative name "${text}" but no $ORIGIN is set`);
    labels.push(...origin);
  }
  for (const l of labels) {
    if (l.length > MAX_LABEL) throw new NameSyntaxError(`label "${l}" is longer than 63 octets`);
  }
  if (wireLength(labels) > MAX_NAME_WIRE) throw new NameSyntaxError(`name "${text}" is longer than 255 octets`);
  // An array grown by push keeps room for 17 elements; zones hold millions of names.
  return labels.slice();
}

function escapeLabel(label: string): string {
  let out = '';
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    const ch = label[i]!;
    if (ch === '.' || ch === '\\' || ch === '"' || ch === '(' || ch === ')' || ch === ';' || ch === '@' || ch === '$') {
      out += '\\' + ch;
    } else if (c <= 0x20 || c >= 0x7f) {
      out += '\\' + String(c).padStart(3, '0');
    } else {
      out += ch;
    }
  }
  return out;
}

/** Presentation form with trailing dot: "www.Example.com." ("." for the root). */
export function nameToText(name: Name): string {
  if (name.length === 0) return '.';
  return name.map(escapeLabel).join('.') + '.';
}

export function nameToWire(name: Name): Buffer {
  const buf = Buffer.allocUnsafe(wireLength(name));
  let o = 0;
  for (const l of name) {
    buf[o++] = l.length;
    o += buf.write(l, o, 'latin1');
  }
  buf[o] = 0;
  return buf;
}

export class WireNameError extends Error {}

/**
 * Reads a possibly compressed name from `buf` at `offset`. Guards against pointer
 * loops (each pointer must go strictly backwards) and over-long names.
 * Returns the name and the offset just past it in the original stream.
 */
export function readWireName(buf: Uint8Array, offset: number): { name: string[]; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  let total = 1;
  let lowest = offset;
  for (;;) {
    if (pos >= buf.length) throw new WireNameError('name runs past the end of the message');
    const len = buf[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new WireNameError('truncated compression pointer');
      const ptr = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (next < 0) next = pos + 2;
      if (ptr >= lowest) throw new WireNameError('compression pointer does not point backwards');
      lowest = ptr;
      pos = ptr;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new WireNameError('unsupported label type');
    if (pos + 1 + len > buf.length) throw new WireNameError('label runs past the end of the message');
    total += len + 1;
    if (total > MAX_NAME_WIRE) throw new WireNameError('name longer than 255 octets');
    let label = '';
    for (let i = pos + 1; i <= pos + len; i++) label += String.fromCharCode(buf[i]!);
    labels.push(label);
    pos += len + 1;
  }
  return { name: labels, next };
}

/** True when `name` equals `ancestor` or is below it (case-insensitive). */
export function isSubdomain(name: Name, ancestor: Name): boolean {
  if (ancestor.length > name.length) return false;
  const off = name.length - ancestor.length;
  for (let i = 0; i < ancestor.length; i++) {
    if (labelKey(name[off + i]!) !== labelKey(ancestor[i]!)) return false;
  }
  return true;
}

/** The name with its first `n` labels removed. */
export function parentName(name: Name, n = 1): Name {
  return name.slice(n);
}
