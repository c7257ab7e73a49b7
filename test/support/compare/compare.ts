/**
 * Compares two DNS responses field by field, for the Knot comparison (issue #2): the
 * header (RCODE, QR/AA/TC/RD/RA/AD/CD, opcode, ID), the question exactly as echoed, each
 * section as a multiset of (owner, TTL, class, type, RDATA) with owner case kept, and the
 * OPT record. RDATA is compared in its uncompressed wire form, rendered as text.
 *
 * Self-contained on purpose (no dns-packet, nothing from src/): the comparison must not
 * share a decoder, and so a bug, with the server it checks.
 */
import { formatIPv6 } from '../../../src/net/ip-format.js';
import { flagsOf } from '../dns-client.js';
import type { AcceptedDifference } from './corpus.js';
import dgram from 'node:dgram';
import net from 'node:net';

export const TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'A',
  2: 'NS',
  3: 'MD',
  4: 'MF',
  5: 'CNAME',
  6: 'SOA',
  7: 'MB',
  8: 'MG',
  9: 'MR',
  12: 'PTR',
  13: 'HINFO',
  14: 'MINFO',
  15: 'MX',
  16: 'TXT',
  17: 'RP',
  18: 'AFSDB',
  21: 'RT',
  26: 'PX',
  28: 'AAAA',
  33: 'SRV',
  35: 'NAPTR',
  10: 'NULL',
  39: 'DNAME',
  41: 'OPT',
  43: 'DS',
  44: 'SSHFP',
  46: 'RRSIG',
  47: 'NSEC',
  48: 'DNSKEY',
  50: 'NSEC3',
  51: 'NSEC3PARAM',
  52: 'TLSA',
  59: 'CDS',
  60: 'CDNSKEY',
  64: 'SVCB',
  65: 'HTTPS',
  99: 'SPF',
  251: 'IXFR',
  252: 'AXFR',
  253: 'MAILB',
  254: 'MAILA',
  255: 'ANY',
  256: 'URI',
  257: 'CAA',
};
const TYPE_VALUES = new Map(Object.entries(TYPE_NAMES).map(([v, n]) => [n, Number(v)]));

export const CLASS_NAMES: Readonly<Record<number, string>> = { 1: 'IN', 3: 'CH', 4: 'HS', 254: 'NONE', 255: 'ANY' };
const CLASS_VALUES = new Map(Object.entries(CLASS_NAMES).map(([v, n]) => [n, Number(v)]));

export const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  9: 'NOTAUTH',
  16: 'BADVERS',
};

export const typeToText = (t: number): string => TYPE_NAMES[t] ?? `TYPE${t}`;
export const classToText = (c: number): string => CLASS_NAMES[c] ?? `CLASS${c}`;
export const rcodeToText = (r: number): string => RCODE_NAMES[r] ?? `RCODE${r}`;

export function typeFromText(text: string | number): number {
  if (typeof text === 'number') return text;
  const known = TYPE_VALUES.get(text.toUpperCase());
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/i.exec(text);
  if (m && Number(m[1]) <= 0xffff) return Number(m[1]);
  throw new Error(`unknown RR type ${text}`);
}

export function classFromText(text: string | number): number {
  if (typeof text === 'number') return text;
  const known = CLASS_VALUES.get(text.toUpperCase());
  if (known !== undefined) return known;
  const m = /^CLASS(\d{1,5})$/i.exec(text);
  if (m && Number(m[1]) <= 0xffff) return Number(m[1]);
  throw new Error(`unknown class ${text}`);
}

// ---------------------------------------------------------------------------------------
// Building queries

export interface QuerySpec {
  /** QNAME exactly as sent (its case is kept), with or without the final dot. */
  readonly name: string;
  readonly type: string | number;
  readonly qclass?: string | number;
  readonly id?: number;
  /** RD bit; authoritative tests default to clear. */
  readonly rd?: boolean;
  /** Add an OPT record (RFC 6891). */
  readonly edns?: { readonly udpSize?: number; readonly do?: boolean; readonly version?: number };
  /** Header and framing changes, for unusual or malformed queries. */
  readonly raw?: RawTweaks;
}

export interface RawTweaks {
  readonly opcode?: number;
  readonly cd?: boolean;
  readonly ad?: boolean;
  /** 0: no question; 2: the question twice. */
  readonly qdcount?: 0 | 2;
  /** Octets of junk after the last record. */
  readonly trailing?: number;
}

/** Encodes a query by hand: header, one question, optional OPT. */
export function encodeQuery(spec: QuerySpec): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(spec.id ?? 0x4d52, 0);
  const raw = spec.raw ?? {};
  header[2] = ((raw.opcode ?? 0) << 3) | (spec.rd ? 0x01 : 0x00);
  header[3] = (raw.ad ? 0x20 : 0) | (raw.cd ? 0x10 : 0);
  const qdcount = raw.qdcount ?? 1;
  header.writeUInt16BE(qdcount, 4);
  header.writeUInt16BE(spec.edns ? 1 : 0, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(typeFromText(spec.type), 0);
  tail.writeUInt16BE(classFromText(spec.qclass ?? 'IN'), 2);
  const question = Buffer.concat([encodeName(spec.name), tail]);
  const parts = [header];
  for (let i = 0; i < qdcount; i++) parts.push(question);
  if (spec.edns) {
    const opt = Buffer.alloc(11);
    opt[0] = 0;
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(spec.edns.udpSize ?? 1232, 3);
    opt[5] = 0;
    opt[6] = spec.edns.version ?? 0;
    opt.writeUInt16BE(spec.edns.do ? 0x8000 : 0, 7);
    opt.writeUInt16BE(0, 9);
    parts.push(opt);
  }
  if (raw.trailing) parts.push(Buffer.alloc(raw.trailing, 0xa5));
  return Buffer.concat(parts);
}

export function encodeName(name: string): Buffer {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const labels = trimmed === '' ? [] : trimmed.split('.');
  const out: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'latin1');
    if (bytes.length === 0 || bytes.length > 63) throw new Error(`bad label in ${name}`);
    out.push(Buffer.from([bytes.length]), bytes);
  }
  out.push(Buffer.from([0]));
  return Buffer.concat(out);
}

// ---------------------------------------------------------------------------------------
// Parsing responses

export interface WireRR {
  /** Owner as sent, case kept, with the final dot. */
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  /** RDATA with any compressed names expanded (RFC 3597 §4), case kept. */
  readonly rdata: Buffer;
}

export interface OptInfo {
  readonly udpSize: number;
  readonly extendedRcode: number;
  readonly version: number;
  readonly dnssecOk: boolean;
  /** The other 15 bits of the flags field (must be zero). */
  readonly z: number;
  readonly options: ReadonlyArray<{ readonly code: number; readonly data: Buffer }>;
  readonly ownerIsRoot: boolean;
}

export interface ParsedMessage {
  readonly id: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly z: boolean;
  readonly ad: boolean;
  readonly cd: boolean;
  /** Full RCODE: header's 4 bits plus OPT's extended bits (RFC 6891 §6.1.3). */
  readonly rcode: number;
  readonly question: ReadonlyArray<{ readonly name: string; readonly type: number; readonly class: number }>;
  readonly answer: readonly WireRR[];
  readonly authority: readonly WireRR[];
  /** Additional section without the OPT record, which is in `opt`. */
  readonly additional: readonly WireRR[];
  readonly opt: OptInfo | null;
  /** Bytes after the last record (should be none). */
  readonly trailing: number;
}

class Reader {
  constructor(readonly buf: Buffer) {}

  /** Reads a possibly compressed name at `pos`; returns its text and the position after it. */
  name(pos: number): { text: string; wire: Buffer; next: number } {
    const labels: Buffer[] = [];
    let next = -1;
    let hops = 0;
    let total = 1;
    for (;;) {
      if (pos >= this.buf.length) throw new Error('name runs past the message');
      const len = this.buf[pos]!;
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= this.buf.length) throw new Error('truncated compression pointer');
        if (next < 0) next = pos + 2;
        if (++hops > 127) throw new Error('compression loop');
        pos = ((len & 0x3f) << 8) | this.buf[pos + 1]!;
        continue;
      }
      if ((len & 0xc0) !== 0) throw new Error(`bad label type 0x${len.toString(16)}`);
      if (len === 0) {
        if (next < 0) next = pos + 1;
        break;
      }
      if (pos + 1 + len > this.buf.length) throw new Error('label runs past the message');
      labels.push(this.buf.subarray(pos + 1, pos + 1 + len));
      total += len + 1;
      if (total > 255) throw new Error('name longer than 255 octets');
      pos += 1 + len;
    }
    const text = labels.length === 0 ? '.' : labels.map(labelText).join('.') + '.';
    const wire = Buffer.concat([...labels.flatMap((l) => [Buffer.from([l.length]), l]), Buffer.from([0])]);
    return { text, wire, next };
  }
}

/** A label in presentation form (RFC 1035 §5.1 escapes), case kept. */
function labelText(label: Buffer): string {
  let s = '';
  for (const b of label) {
    if (b === 0x2e || b === 0x5c || b === 0x22 || b === 0x28 || b === 0x29 || b === 0x3b || b === 0x40 || b === 0x24) s += '\\' + String.fromCharCode(b);
    else if (b > 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += '\\' + b.toString().padStart(3, '0');
  }
  return s;
}

/**
 * Where the names inside each type's RDATA are: a list of fixed-size fields (bytes) and
 * names ('n'); the rest is opaque. Types whose names may be compressed by a sender
 * (RFC 1035, RFC 3597 §4) or whose decoders expand them (RFC 2163, RFC 2782, RFC 3597 §4).
 */
const RDATA_NAMES: Readonly<Record<number, ReadonlyArray<number | 'n'>>> = {
  2: ['n'],
  3: ['n'],
  4: ['n'],
  5: ['n'],
  7: ['n'],
  8: ['n'],
  9: ['n'],
  12: ['n'],
  39: ['n'],
  6: ['n', 'n'],
  14: ['n', 'n'],
  17: ['n', 'n'],
  15: [2, 'n'],
  18: [2, 'n'],
  21: [2, 'n'],
  26: [2, 'n', 'n'],
  33: [6, 'n'],
};

function expandRdata(r: Reader, type: number, start: number, end: number): Buffer {
  const layout = RDATA_NAMES[type];
  if (layout === undefined) return Buffer.from(r.buf.subarray(start, end));
  const parts: Buffer[] = [];
  let pos = start;
  for (const field of layout) {
    if (field === 'n') {
      const n = r.name(pos);
      if (n.next > end) throw new Error(`${typeToText(type)} RDATA name runs past RDLENGTH`);
      parts.push(n.wire);
      pos = n.next;
    } else {
      if (pos + field > end) throw new Error(`${typeToText(type)} RDATA too short`);
      parts.push(r.buf.subarray(pos, pos + field));
      pos += field;
    }
  }
  parts.push(r.buf.subarray(pos, end));
  return Buffer.from(Buffer.concat(parts));
}

export function parseMessage(buf: Buffer): ParsedMessage {
  if (buf.length < 12) throw new Error(`message of ${buf.length} octets is shorter than a header`);
  const r = new Reader(buf);
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)];
  let pos = 12;
  const question: Array<{ name: string; type: number; class: number }> = [];
  for (let i = 0; i < counts[0]!; i++) {
    const n = r.name(pos);
    if (n.next + 4 > buf.length) throw new Error('question runs past the message');
    question.push({ name: n.text, type: buf.readUInt16BE(n.next), class: buf.readUInt16BE(n.next + 2) });
    pos = n.next + 4;
  }
  const sections: WireRR[][] = [[], [], []];
  let opt: OptInfo | null = null;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const n = r.name(pos);
      if (n.next + 10 > buf.length) throw new Error('record header runs past the message');
      const type = buf.readUInt16BE(n.next);
      const klass = buf.readUInt16BE(n.next + 2);
      const ttl = buf.readUInt32BE(n.next + 4);
      const rdlen = buf.readUInt16BE(n.next + 8);
      const start = n.next + 10;
      const end = start + rdlen;
      if (end > buf.length) throw new Error('RDATA runs past the message');
      if (type === 41 && s === 2) {
        if (opt !== null) throw new Error('two OPT records');
        const options: Array<{ code: number; data: Buffer }> = [];
        for (let p = start; p < end;) {
          if (p + 4 > end) throw new Error('truncated EDNS option');
          const code = buf.readUInt16BE(p);
          const len = buf.readUInt16BE(p + 2);
          if (p + 4 + len > end) throw new Error('EDNS option runs past the OPT');
          options.push({ code, data: Buffer.from(buf.subarray(p + 4, p + 4 + len)) });
          p += 4 + len;
        }
        opt = {
          udpSize: klass,
          extendedRcode: ttl >>> 24,
          version: (ttl >>> 16) & 0xff,
          dnssecOk: (ttl & 0x8000) !== 0,
          z: ttl & 0x7fff,
          options,
          ownerIsRoot: n.text === '.',
        };
      } else {
        sections[s]!.push({ name: n.text, type, class: klass, ttl, rdata: expandRdata(r, type, start, end) });
      }
      pos = end;
    }
  }
  return {
    id: buf.readUInt16BE(0),
    ...flagsOf(buf),
    z: (buf[3]! & 0x40) !== 0,
    ad: (buf[3]! & 0x20) !== 0,
    cd: (buf[3]! & 0x10) !== 0,
    rcode: (buf[3]! & 0x0f) | ((opt?.extendedRcode ?? 0) << 4),
    question,
    answer: sections[0]!,
    authority: sections[1]!,
    additional: sections[2]!,
    opt,
    trailing: buf.length - pos,
  };
}

// ---------------------------------------------------------------------------------------
// Presentation

/** A wire name inside RDATA → text; returns the text and the offset after it. */
function rdataName(rdata: Buffer, pos: number): { text: string; next: number } {
  const labels: string[] = [];
  for (;;) {
    const len = rdata[pos];
    if (len === undefined) throw new Error('name past RDATA');
    if (len === 0) return { text: labels.length === 0 ? '.' : labels.join('.') + '.', next: pos + 1 };
    labels.push(labelText(rdata.subarray(pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
}

function characterStrings(rdata: Buffer, from = 0): string[] {
  const out: string[] = [];
  for (let p = from; p < rdata.length;) {
    const len = rdata[p]!;
    const bytes = rdata.subarray(p + 1, p + 1 + len);
    let s = '"';
    for (const b of bytes) {
      if (b === 0x22 || b === 0x5c) s += '\\' + String.fromCharCode(b);
      else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
      else s += '\\' + b.toString().padStart(3, '0');
    }
    out.push(s + '"');
    p += 1 + len;
  }
  return out;
}

/** RFC 5952 text (shared with the GeoIP code). */
function ipv6Text(b: Buffer): string {
  return formatIPv6(b);
}

const hex = (b: Buffer): string => b.toString('hex').toUpperCase();
const generic = (rdata: Buffer): string => `\\# ${rdata.length}${rdata.length > 0 ? ' ' + hex(rdata) : ''}`;

/** RDATA in presentation form for the common types, RFC 3597 generic form otherwise. */
export function rdataText(type: number, rdata: Buffer): string {
  try {
    switch (type) {
      case 1:
        if (rdata.length !== 4) return generic(rdata);
        return [...rdata].join('.');
      case 28: {
        if (rdata.length !== 16) return generic(rdata);
        return ipv6Text(rdata);
      }
      case 2:
      case 3:
      case 4:
      case 5:
      case 7:
      case 8:
      case 9:
      case 12:
      case 39:
        return rdataName(rdata, 0).text;
      case 6: {
        const m = rdataName(rdata, 0);
        const rn = rdataName(rdata, m.next);
        const nums = [0, 4, 8, 12, 16].map((o) => rdata.readUInt32BE(rn.next + o));
        return `${m.text} ${rn.text} ${nums.join(' ')}`;
      }
      case 15:
      case 18:
      case 21:
        return `${rdata.readUInt16BE(0)} ${rdataName(rdata, 2).text}`;
      case 33:
        return `${rdata.readUInt16BE(0)} ${rdata.readUInt16BE(2)} ${rdata.readUInt16BE(4)} ${rdataName(rdata, 6).text}`;
      case 16:
        return characterStrings(rdata).join(' ');
      case 43: // DS
        return `${rdata.readUInt16BE(0)} ${rdata[2]} ${rdata[3]} ${hex(rdata.subarray(4))}`;
      case 44: // SSHFP
        return `${rdata[0]} ${rdata[1]} ${hex(rdata.subarray(2))}`;
      case 52: // TLSA
        return `${rdata[0]} ${rdata[1]} ${rdata[2]} ${hex(rdata.subarray(3))}`;
      case 257: {
        // CAA
        const tagLen = rdata[1]!;
        const tag = rdata.subarray(2, 2 + tagLen).toString('latin1');
        return `${rdata[0]} ${tag} ${characterStrings(Buffer.concat([Buffer.from([rdata.length - 2 - tagLen]), rdata.subarray(2 + tagLen)]))[0]}`;
      }
      default:
        return generic(rdata);
    }
  } catch {
    return generic(rdata);
  }
}

/** One record as a line: `owner TTL CLASS TYPE RDATA`. */
export function rrText(rr: WireRR): string {
  return `${rr.name} ${rr.ttl} ${classToText(rr.class)} ${typeToText(rr.type)} ${rdataText(rr.type, rr.rdata)}`;
}

/** The identity of a record for comparison: the text plus the RDATA bytes, so rendering can never hide a difference. */
function rrKey(rr: WireRR): string {
  return `${rrText(rr)}\u0000${rr.rdata.toString('hex')}`;
}

export function optText(opt: OptInfo | null): string {
  if (opt === null) return 'none';
  const opts = opt.options.map((o) => `${ednsOptionName(o.code)}=${o.data.toString('hex')}`);
  return (
    `udp=${opt.udpSize} version=${opt.version} do=${opt.dnssecOk ? 1 : 0}` +
    (opt.z !== 0 ? ` z=0x${opt.z.toString(16)}` : '') +
    (opt.ownerIsRoot ? '' : ' owner-not-root') +
    ` options=[${opts.join(',')}]`
  );
}

const EDNS_OPTION_NAMES: Readonly<Record<number, string>> = { 3: 'NSID', 8: 'ECS', 10: 'COOKIE', 12: 'PADDING', 15: 'EDE' };
export const ednsOptionName = (code: number): string => EDNS_OPTION_NAMES[code] ?? `OPT${code}`;

/** A short human summary of a message (for the tool's verbose output and test failures). */
export function messageText(m: ParsedMessage): string {
  const flags = (['qr', 'aa', 'tc', 'rd', 'ra', 'ad', 'cd'] as const).filter((f) => m[f]).join(' ');
  const lines = [`;; ${rcodeToText(m.rcode)} id=${m.id} opcode=${m.opcode} flags: ${flags}; OPT: ${optText(m.opt)}`];
  for (const q of m.question) lines.push(`;; QUESTION ${q.name} ${classToText(q.class)} ${typeToText(q.type)}`);
  for (const [label, rrs] of [
    ['ANSWER', m.answer],
    ['AUTHORITY', m.authority],
    ['ADDITIONAL', m.additional],
  ] as const) {
    for (const rr of rrs) lines.push(`${label.padEnd(10)} ${rrText(rr)}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------
// Comparison

export type Field =
  | 'parse'
  | 'response'
  | 'id'
  | 'opcode'
  | 'rcode'
  | 'flags.QR'
  | 'flags.AA'
  | 'flags.TC'
  | 'flags.RD'
  | 'flags.RA'
  | 'flags.Z'
  | 'flags.AD'
  | 'flags.CD'
  | 'question'
  | 'answer'
  | 'authority'
  | 'additional'
  | 'opt'
  | 'opt.udpSize'
  | 'opt.version'
  | 'opt.DO'
  | 'opt.options'
  | 'trailing';

export interface Difference {
  readonly field: Field;
  /** The first server's value (meridian), as text; for sections, the records only it sent. */
  readonly a: string;
  /** The second server's value (Knot), as text; for sections, the records only it sent. */
  readonly b: string;
}

function multisetDiff(a: readonly WireRR[], b: readonly WireRR[]): { onlyA: string[]; onlyB: string[] } {
  const count = new Map<string, { n: number; text: string }>();
  for (const rr of a) {
    const k = rrKey(rr);
    const e = count.get(k);
    if (e) e.n++;
    else count.set(k, { n: 1, text: rrText(rr) });
  }
  const onlyB: string[] = [];
  for (const rr of b) {
    const e = count.get(rrKey(rr));
    if (e && e.n > 0) e.n--;
    else onlyB.push(rrText(rr));
  }
  const onlyA: string[] = [];
  for (const e of count.values()) for (let i = 0; i < e.n; i++) onlyA.push(e.text);
  return { onlyA: onlyA.sort(), onlyB: onlyB.sort() };
}

/** Text of a section difference: the records only this side sent, sorted, `; `-joined ("-" for none). */
export const sectionSideText = (records: readonly string[]): string => (records.length === 0 ? '-' : records.join('; '));

/**
 * Every difference between two responses to the same query: `a` (meridian) and `b` (Knot).
 * Sections are compared as multisets (order inside a section may differ); owner names and
 * RDATA names are compared exactly, case included.
 */
export function compareAnswers(a: Buffer, b: Buffer): Difference[] {
  let pa: ParsedMessage;
  let pb: ParsedMessage;
  try {
    pa = parseMessage(a);
  } catch (err) {
    return [{ field: 'parse', a: `unparsable: ${(err as Error).message}`, b: safeParseText(b) }];
  }
  try {
    pb = parseMessage(b);
  } catch (err) {
    return [{ field: 'parse', a: 'ok', b: `unparsable: ${(err as Error).message}` }];
  }
  return compareParsed(pa, pb);
}

function safeParseText(b: Buffer): string {
  try {
    parseMessage(b);
    return 'ok';
  } catch (err) {
    return `unparsable: ${(err as Error).message}`;
  }
}

export function compareParsed(pa: ParsedMessage, pb: ParsedMessage): Difference[] {
  const diffs: Difference[] = [];
  const scalar = (field: Field, x: string | number | boolean, y: string | number | boolean): void => {
    if (x !== y) diffs.push({ field, a: String(x), b: String(y) });
  };
  scalar('id', pa.id, pb.id);
  scalar('opcode', pa.opcode, pb.opcode);
  scalar('rcode', rcodeToText(pa.rcode), rcodeToText(pb.rcode));
  scalar('flags.QR', pa.qr, pb.qr);
  scalar('flags.AA', pa.aa, pb.aa);
  scalar('flags.TC', pa.tc, pb.tc);
  scalar('flags.RD', pa.rd, pb.rd);
  scalar('flags.RA', pa.ra, pb.ra);
  scalar('flags.Z', pa.z, pb.z);
  scalar('flags.AD', pa.ad, pb.ad);
  scalar('flags.CD', pa.cd, pb.cd);
  const qText = (m: ParsedMessage): string => m.question.map((q) => `${q.name} ${classToText(q.class)} ${typeToText(q.type)}`).join('; ') || '-';
  scalar('question', qText(pa), qText(pb));
  for (const field of ['answer', 'authority', 'additional'] as const) {
    const d = multisetDiff(pa[field], pb[field]);
    if (d.onlyA.length > 0 || d.onlyB.length > 0) diffs.push({ field, a: sectionSideText(d.onlyA), b: sectionSideText(d.onlyB) });
  }
  if ((pa.opt === null) !== (pb.opt === null)) {
    diffs.push({ field: 'opt', a: optText(pa.opt), b: optText(pb.opt) });
  } else if (pa.opt !== null && pb.opt !== null) {
    scalar('opt.udpSize', pa.opt.udpSize, pb.opt.udpSize);
    scalar('opt.version', pa.opt.version, pb.opt.version);
    scalar('opt.DO', pa.opt.dnssecOk, pb.opt.dnssecOk);
    const oText = (o: OptInfo): string =>
      o.options
        .map((x) => `${ednsOptionName(x.code)}=${x.data.toString('hex')}`)
        .sort()
        .join(',') +
      (o.z !== 0 ? ` z=0x${o.z.toString(16)}` : '') +
      (o.ownerIsRoot ? '' : ' owner-not-root');
    scalar('opt.options', oText(pa.opt) || '-', oText(pb.opt) || '-');
  }
  scalar('trailing', pa.trailing, pb.trailing);
  return diffs;
}

// ---------------------------------------------------------------------------------------
// Sending queries and classifying the outcome

/** One UDP exchange on 127.0.0.1; null when no answer came in time. */
export function exchangeUdp(port: number, query: Buffer, timeoutMs = 2000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const done = (msg: Buffer | null): void => {
      clearTimeout(timer);
      socket.close();
      resolve(msg);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('message', (msg) => {
      if (msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0)) done(msg);
    });
    socket.on('error', () => done(null));
    socket.send(query, port, '127.0.0.1');
  });
}

/** One query on a fresh TCP connection (RFC 7766 framing); the first answer, or null. */
export function exchangeTcp(port: number, query: Buffer, timeoutMs = 3000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let pending = Buffer.alloc(0);
    let settled = false;
    const done = (msg: Buffer | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(msg);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length, 0);
      socket.write(Buffer.concat([len, query]));
    });
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      if (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) done(Buffer.from(pending.subarray(2, 2 + pending.readUInt16BE(0))));
    });
    socket.on('error', () => done(null));
    socket.on('close', () => done(null));
  });
}

export interface CorpusEntryLike {
  readonly id: string;
  readonly name: string;
  readonly type: string | number;
  readonly qclass?: string;
  readonly transport: 'udp' | 'tcp';
  readonly rd?: boolean;
  readonly edns?: { readonly udpSize?: number; readonly do?: boolean; readonly version?: number };
  readonly raw?: RawTweaks;
}

/** `KNOWN BUG`: every difference is accepted or a listed meridian bug, at least one a bug. */
export type Status = 'same' | 'accepted' | 'KNOWN BUG' | 'DIFFERENT';

export interface ClassifiedDifference extends Difference {
  /** The reason from the ACCEPTED table (or the bug table), or null when unexplained. */
  readonly reason: string | null;
  readonly summary: string | null;
  /** True when the difference is a listed meridian bug rather than an accepted difference. */
  readonly bug: boolean;
}

export interface Outcome<Q extends CorpusEntryLike = CorpusEntryLike> {
  readonly query: Q;
  readonly status: Status;
  readonly differences: readonly ClassifiedDifference[];
  readonly meridian: Buffer | null;
  readonly knot: Buffer | null;
}

const matchesQuery = (queries: readonly string[] | RegExp, id: string): boolean => (queries instanceof RegExp ? queries.test(id) : queries.includes(id));

/** Matches each difference of one query against the accepted table. */
export function classify(
  queryId: string,
  differences: readonly Difference[],
  accepted: readonly AcceptedDifference[],
  knownBugs: readonly AcceptedDifference[] = [],
): { status: Status; differences: ClassifiedDifference[] } {
  const find = (table: readonly AcceptedDifference[], d: Difference): AcceptedDifference | undefined =>
    table.find((a) => matchesQuery(a.queries, queryId) && a.field === d.field && (a.meridian === undefined || a.meridian === d.a) && (a.knot === undefined || a.knot === d.b));
  const out = differences.map((d) => {
    const ok = find(accepted, d);
    const bug = ok ? undefined : find(knownBugs, d);
    const entry = ok ?? bug;
    return { ...d, reason: entry?.reason ?? null, summary: entry?.summary ?? null, bug: bug !== undefined };
  });
  const status: Status = out.length === 0 ? 'same' : out.some((d) => d.reason === null) ? 'DIFFERENT' : out.some((d) => d.bug) ? 'KNOWN BUG' : 'accepted';
  return { status, differences: out };
}

/**
 * Sends every query to both servers (same ID, same bytes) and classifies the answers.
 * `meridianPort` answers `a`, `knotPort` answers `b` in the differences.
 */
export async function runCorpus<Q extends CorpusEntryLike>(
  queries: readonly Q[],
  ports: { readonly meridian: number; readonly knot: number },
  accepted: readonly AcceptedDifference[],
  knownBugs: readonly AcceptedDifference[] = [],
): Promise<Array<Outcome<Q>>> {
  const outcomes: Array<Outcome<Q>> = [];
  let n = 0;
  for (const q of queries) {
    const wire = encodeQuery({ name: q.name, type: q.type, qclass: q.qclass ?? 'IN', id: 0x1000 + (n++ % 0xe000), rd: q.rd ?? false, edns: q.edns, raw: q.raw });
    const send = (port: number): Promise<Buffer | null> => (q.transport === 'tcp' ? exchangeTcp(port, wire) : exchangeUdp(port, wire));
    const [m, k] = await Promise.all([send(ports.meridian), send(ports.knot)]);
    let diffs: Difference[];
    if (m === null || k === null) {
      diffs = m === k ? [] : [{ field: 'response', a: m === null ? 'no answer' : headline(m), b: k === null ? 'no answer' : headline(k) }];
    } else {
      diffs = compareAnswers(m, k);
    }
    const c = classify(q.id, diffs, accepted, knownBugs);
    outcomes.push({ query: q, status: c.status, differences: c.differences, meridian: m, knot: k });
  }
  return outcomes;
}

/** Entries of an ACCEPTED or KNOWN_BUGS table (per query id and field) that no outcome needed: a table must not claim differences that are gone. */
export function unusedAcceptances(outcomes: readonly Outcome[], accepted: readonly AcceptedDifference[]): Array<{ query: string; field: Field; reason: string }> {
  const used = new Set<string>();
  for (const o of outcomes) for (const d of o.differences) if (d.reason !== null) used.add(`${o.query.id}\u0000${d.field}`);
  const ran = new Set(outcomes.map((o) => o.query.id));
  const unused: Array<{ query: string; field: Field; reason: string }> = [];
  for (const a of accepted) {
    // A pattern (a general rule for generated queries) need not match anything.
    if (a.queries instanceof RegExp) continue;
    for (const q of a.queries) if (ran.has(q) && !used.has(`${q}\u0000${a.field}`)) unused.push({ query: q, field: a.field, reason: a.reason });
  }
  return unused;
}

/** The report table: one line per query, then the accepted reasons and the unexplained differences. */
export function formatOutcomes(outcomes: readonly Outcome[], verbose = false): string {
  const width = Math.max(10, ...outcomes.map((o) => o.query.id.length));
  const lines: string[] = [];
  for (const o of outcomes) {
    const head = `${o.query.id.padEnd(width)}  `;
    if (o.status === 'same') {
      lines.push(head + 'same');
    } else if (o.status === 'accepted') {
      const fields = o.differences.map((d) => d.field).join(', ');
      const summaries = [...new Set(o.differences.map((d) => d.summary ?? d.reason))];
      lines.push(head + `accepted difference: ${summaries.join('; ')} (${fields})`);
    } else {
      lines.push(head + (o.status === 'KNOWN BUG' ? `KNOWN MERIDIAN BUG: ${[...new Set(o.differences.filter((d) => d.bug).map((d) => d.summary))].join('; ')}` : 'DIFFERENT'));
      for (const d of o.differences) {
        const mark = d.reason === null ? '!!' : d.bug ? 'bug' : 'ok';
        lines.push(`${' '.repeat(width + 4)}${mark} ${d.field}: meridian ${JSON.stringify(d.a)} knot ${JSON.stringify(d.b)}`);
      }
    }
    if (verbose && o.status !== 'same') {
      lines.push(indent('meridian:\n' + (o.meridian ? safeMessageText(o.meridian) : 'no answer'), width + 4));
      lines.push(indent('knot:\n' + (o.knot ? safeMessageText(o.knot) : 'no answer'), width + 4));
    }
  }
  return lines.join('\n');
}

/** RCODE and flags of a response (no ID, so the text does not depend on the query's place in the corpus). */
function headline(buf: Buffer): string {
  try {
    const m = parseMessage(buf);
    return `${rcodeToText(m.rcode)} flags: ${(['qr', 'aa', 'tc', 'rd', 'ra', 'ad', 'cd'] as const).filter((f) => m[f]).join(' ')}`;
  } catch (err) {
    return `unparsable: ${(err as Error).message}`;
  }
}

export function safeMessageText(buf: Buffer): string {
  try {
    return messageText(parseMessage(buf));
  } catch (err) {
    return `unparsable (${(err as Error).message}): ${buf.toString('hex')}`;
  }
}

const indent = (text: string, n: number): string =>
  text
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');

/** The accepted differences that occurred, with their full reasons, once each (the legend under the table). */
export function formatReasons(outcomes: readonly Outcome[]): string {
  const seen = new Map<string, string>();
  for (const o of outcomes)
    for (const d of o.differences)
      if (d.summary !== null && d.reason !== null) {
        const key = (d.bug ? 'meridian bug: ' : '') + d.summary;
        if (!seen.has(key)) seen.set(key, d.reason);
      }
  return [...seen].map(([summary, reason]) => `* ${summary}:\n  ${reason}`).join('\n');
}
