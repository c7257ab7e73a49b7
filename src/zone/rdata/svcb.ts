/**
 * SVCB and HTTPS (RFC 9460): priority, target, then SvcParams written `key=value`.
 * Keys from the IANA registry: mandatory, alpn, no-default-alpn, port, ipv4hint, ech,
 * ipv6hint, dohpath (RFC 9461), ohttp (RFC 9540), and the generic keyNNNNN form.
 */
import { formatIPv4, formatIPv6 } from '../../net/ip-format.js';
import { writeIPv4, writeIPv6 } from './addresses.js';
import { WireFormatError, WireReader, base64ToBytes, bytesToBase64, escapeBytes, nameText, type RdataCodec, type TokenCursor, type WireWriter } from './fields.js';

const KEY_NAMES = ['mandatory', 'alpn', 'no-default-alpn', 'port', 'ipv4hint', 'ech', 'ipv6hint', 'dohpath', 'ohttp'];
const KEY = { mandatory: 0, alpn: 1, noDefaultAlpn: 2, port: 3, ipv4hint: 4, ech: 5, ipv6hint: 6, dohpath: 7, ohttp: 8 } as const;
/** Key 65535 is reserved as "Invalid key" (RFC 9460 §14.3.2). */
const MAX_KEY = 65534;

function keyName(key: number): string {
  return KEY_NAMES[key] ?? `key${key}`;
}

function keyFromName(name: string): number | undefined {
  const known = KEY_NAMES.indexOf(name.toLowerCase());
  if (known >= 0) return known;
  const m = /^key([0-9]{1,5})$/i.exec(name);
  if (m && Number(m[1]) <= MAX_KEY) return Number(m[1]);
  return undefined;
}

interface Param {
  key: number;
  /** Escape-decoded value octets; undefined when written without "=". */
  value: Buffer | undefined;
}

/** Splits `key=value` / `key="value"` / `key`; the value is char-string decoded (Appendix A). */
function parseParam(c: TokenCursor, text: string): Param {
  const eq = text.indexOf('=');
  const name = eq < 0 ? text : text.slice(0, eq);
  const key = keyFromName(name);
  if (key === undefined) c.fail(`unknown parameter "${name}"`);
  if (eq < 0) return { key, value: undefined };
  let raw = text.slice(eq + 1);
  if (raw.startsWith('"')) {
    if (raw.length < 2 || !raw.endsWith('"')) c.fail(`${name}: unterminated quoted value`);
    raw = raw.slice(1, -1);
  }
  return { key, value: c.bytes(raw, name) };
}

/** A comma-separated value-list where `\,` and `\\` escape (RFC 9460 Appendix A.1). */
function splitValueList(bytes: Uint8Array): Buffer[] {
  const items: Buffer[] = [];
  let cur: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    let b = bytes[i]!;
    if (b === 0x2c) {
      items.push(Buffer.from(cur));
      cur = [];
      continue;
    }
    if (b === 0x5c) {
      if (i + 1 >= bytes.length) throw new Error('ends with a lone backslash');
      b = bytes[++i]!;
    }
    cur.push(b);
  }
  items.push(Buffer.from(cur));
  return items;
}

function plainList(value: Buffer): string[] {
  return value.toString('latin1').split(',');
}

function encodeValue(c: TokenCursor, w: WireWriter, p: Param): void {
  const name = keyName(p.key);
  const value = p.value;
  if (p.key === KEY.noDefaultAlpn || p.key === KEY.ohttp) {
    if (value !== undefined && value.length > 0) c.fail(`${name} takes no value`);
    return;
  }
  if (value === undefined) {
    if (p.key > KEY.ohttp) return; // an unknown key may have an empty value
    c.fail(`${name} needs a value`);
  }
  switch (p.key) {
    case KEY.mandatory:
      return encodeMandatory(c, w, value);
    case KEY.alpn:
      return encodeAlpn(c, w, value);
    case KEY.port: {
      const s = value.toString('latin1');
      if (!/^[0-9]+$/.test(s) || Number(s) > 0xffff) c.fail(`port "${s}" is not a number from 0 to 65535`);
      return w.u16(Number(s));
    }
    case KEY.ipv4hint:
      for (const a of plainList(value)) if (!writeIPv4(a, w)) c.fail(`ipv4hint: "${a}" is not an IPv4 address`);
      return;
    case KEY.ipv6hint:
      for (const a of plainList(value)) if (!writeIPv6(a, w)) c.fail(`ipv6hint: "${a}" is not an IPv6 address`);
      return;
    case KEY.ech: {
      const s = value.toString('latin1');
      if (s === '') c.fail('ech needs a value');
      try {
        return w.bytes(base64ToBytes(s, 'ech'));
      } catch (err) {
        return c.fail((err as Error).message);
      }
    }
    default:
      return w.bytes(value); // dohpath and unknown keys: the octets as written
  }
}

function encodeMandatory(c: TokenCursor, w: WireWriter, value: Buffer): void {
  const keys: number[] = [];
  for (const n of plainList(value)) {
    const k = keyFromName(n);
    if (k === undefined) c.fail(`mandatory: unknown key "${n}"`);
    keys.push(k);
  }
  // sent in strictly increasing order (RFC 9460 §8)
  keys.sort((a, b) => a - b);
  for (let i = 0; i < keys.length; i++) {
    if (i > 0 && keys[i] === keys[i - 1]) c.fail(`mandatory lists ${keyName(keys[i]!)} twice`);
    w.u16(keys[i]!);
  }
}

function encodeAlpn(c: TokenCursor, w: WireWriter, value: Buffer): void {
  let ids: Buffer[];
  try {
    ids = splitValueList(value);
  } catch (err) {
    return c.fail(`alpn: ${(err as Error).message}`);
  }
  for (const id of ids) {
    if (id.length === 0) c.fail('alpn has an empty protocol id');
    if (id.length > 255) c.fail('alpn protocol id is longer than 255 octets');
    w.charString(id);
  }
}

/**
 * Self-consistency (RFC 9460 §8, §7.1.1): keys listed as mandatory are present and do not
 * include "mandatory"; no-default-alpn comes with alpn. Returns the problem or null.
 */
function consistencyProblem(keys: readonly number[], mandatory: readonly number[]): string | null {
  for (const k of mandatory) {
    if (k === KEY.mandatory) return 'mandatory must not list itself';
    if (!keys.includes(k)) return `mandatory lists ${keyName(k)} but it is not present`;
  }
  if (keys.includes(KEY.noDefaultAlpn) && !keys.includes(KEY.alpn)) return 'no-default-alpn needs alpn as well';
  return null;
}

function mandatoryKeys(params: readonly Param[]): number[] {
  const m = params.find((p) => p.key === KEY.mandatory)?.value;
  if (!m) return [];
  return plainList(m).map((n) => keyFromName(n)!);
}

export const SVCB: RdataCodec = {
  encode(c, w) {
    const priority = c.u16('priority');
    w.u16(priority);
    w.name(c.name('target'));
    if (c.remaining === 0) return;
    const tokens = c.rest('parameters');
    // AliasMode (RFC 9460 §2.4.2) carries no SvcParams
    if (priority === 0) c.fail('AliasMode (priority 0) takes no parameters');
    const params = tokens.map((t) => parseParam(c, t.text));
    params.sort((a, b) => a.key - b.key);
    for (let i = 1; i < params.length; i++) {
      if (params[i]!.key === params[i - 1]!.key) c.fail(`parameter ${keyName(params[i]!.key)} appears twice`);
    }
    for (const p of params) {
      w.u16(p.key);
      const lengthAt = w.length;
      w.u16(0);
      encodeValue(c, w, p);
      w.setU16(lengthAt, w.length - lengthAt - 2);
    }
    const problem = consistencyProblem(
      params.map((p) => p.key),
      mandatoryKeys(params),
    );
    if (problem) c.fail(problem);
  },
  decode(r) {
    const parts = [String(r.u16()), nameText(r.name())];
    if (parts[0] === '0' && !r.atEnd) throw new WireFormatError('AliasMode with parameters');
    const keys: number[] = [];
    let mandatory: number[] = [];
    while (!r.atEnd) {
      const key = r.u16();
      if (keys.length > 0 && key <= keys[keys.length - 1]!) throw new WireFormatError('SvcParams out of order');
      if (key > MAX_KEY) throw new WireFormatError('SvcParamKey 65535 is invalid');
      keys.push(key);
      const sub = new WireReader(r.bytes(r.u16()));
      if (key === KEY.mandatory) mandatory = readKeys(sub);
      parts.push(decodeValue(key, sub));
      sub.done();
    }
    if (consistencyProblem(keys, mandatory)) throw new WireFormatError('inconsistent SvcParams');
    return parts.join(' ');
  },
};

function readKeys(r: WireReader): number[] {
  const keys: number[] = [];
  const copy = new WireReader(r.buf, r.pos, r.end);
  while (!copy.atEnd) keys.push(copy.u16());
  return keys;
}

function nonEmpty(r: WireReader, multiple: number): void {
  if (r.left === 0 || r.left % multiple !== 0) throw new WireFormatError('bad SvcParam length');
}

function decodeValue(key: number, r: WireReader): string {
  const name = keyName(key);
  switch (key) {
    case KEY.mandatory: {
      nonEmpty(r, 2);
      const names: string[] = [];
      let prev = -1;
      while (!r.atEnd) {
        const k = r.u16();
        if (k <= prev) throw new WireFormatError('mandatory keys out of order');
        prev = k;
        names.push(keyName(k));
      }
      return `${name}=${names.join(',')}`;
    }
    case KEY.alpn:
      return `${name}="${alpnText(r)}"`;
    case KEY.noDefaultAlpn:
    case KEY.ohttp:
      return name;
    case KEY.port:
      if (r.left !== 2) throw new WireFormatError('port is not 2 octets');
      return `${name}=${r.u16()}`;
    case KEY.ipv4hint:
    case KEY.ipv6hint: {
      const size = key === KEY.ipv4hint ? 4 : 16;
      nonEmpty(r, size);
      const addrs: string[] = [];
      while (!r.atEnd) addrs.push(size === 4 ? formatIPv4(r.bytes(4)) : formatIPv6(r.bytes(16), 0, true));
      return `${name}=${addrs.join(',')}`;
    }
    case KEY.ech:
      nonEmpty(r, 1);
      return `${name}=${bytesToBase64(r.rest())}`;
    default: {
      const value = r.rest();
      return value.length === 0 && key > KEY.ohttp ? name : `${name}="${escapeBytes(value)}"`;
    }
  }
}

/** alpn ids with `,` and `\` escaped for the value-list, then as a char-string (Appendix A.1). */
function alpnText(r: WireReader): string {
  nonEmpty(r, 1);
  const listed: number[] = [];
  while (!r.atEnd) {
    const id = r.charString();
    if (id.length === 0) throw new WireFormatError('empty alpn id');
    if (listed.length > 0) listed.push(0x2c);
    for (const b of id) {
      if (b === 0x2c || b === 0x5c) listed.push(0x5c);
      listed.push(b);
    }
  }
  return escapeBytes(Uint8Array.from(listed));
}
