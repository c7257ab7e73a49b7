/**
 * Hand-written reader for the parts of a query the hot path needs: header, question and
 * the OPT record (RFC 1035 §4.1, RFC 6891 §6.1). It never throws: every outcome is a value.
 */
import { EdnsOption, Opcode, Rcode, RRType } from './constants.js';

export interface EdnsInfo {
  /** Requestor's UDP payload size (RFC 6891 §6.2.3); values below 512 count as 512. */
  udpSize: number;
  version: number;
  dnssecOk: boolean;
  /**
   * Where the OPTION-DATA of the EDNS Client Subnet option (RFC 7871) starts in the packet
   * (-1: none) and its length; an offset, not a view, as for the cookie below.
   */
  clientSubnetAt: number;
  clientSubnetLength: number;
  /**
   * Where the OPTION-DATA of the first COOKIE option (RFC 7873) starts in the packet (-1:
   * none) and its length, any: the responder judges it. An offset, not a view: Buffer#subarray
   * costs more than the rest of a cookie's handling.
   */
  cookieAt: number;
  cookieLength: number;
  /** An NSID option was present (RFC 5001 §2.3: sent empty; any payload is ignored). */
  nsid: boolean;
}

export interface Query {
  id: number;
  opcode: number;
  /** RD bit, copied into the response (RFC 1035 §4.1.1). */
  recursionDesired: boolean;
  checkingDisabled: boolean;
  /** Labels of QNAME exactly as asked (latin1 strings). */
  labels: string[];
  /** Lower-cased, escaped key of each label; joined by '.' they make `key`. */
  labelKeys: string[];
  /** nameKey() of QNAME. */
  key: string;
  qtype: number;
  qclass: number;
  /** Offset just past the question section; bytes [12, questionEnd) are echoed verbatim. */
  questionEnd: number;
  edns: EdnsInfo | null;
}

export type ReadResult =
  | { kind: 'query'; query: Query }
  /** Not worth an answer: too short to hold a header, or a response (QR=1), which must not be answered to avoid loops. */
  | { kind: 'drop' }
  /** Answer with this RCODE; the question is echoed when questionEnd > 12. */
  | { kind: 'error'; rcode: number; id: number; opcode: number; recursionDesired: boolean; questionEnd: number; edns: EdnsInfo | null };

const HEADER = 12;

function errorResult(buf: Buffer, rcode: number, questionEnd: number, edns: EdnsInfo | null): ReadResult {
  return {
    kind: 'error',
    rcode,
    id: buf.readUInt16BE(0),
    opcode: (buf[2]! >> 3) & 0x0f,
    recursionDesired: (buf[2]! & 0x01) !== 0,
    questionEnd,
    edns,
  };
}

/** Skips one resource record starting at `pos`; returns the offset after it or -1. */
function skipRecord(buf: Buffer, pos: number): number {
  pos = skipName(buf, pos);
  if (pos < 0 || pos + 10 > buf.length) return -1;
  const rdlen = buf.readUInt16BE(pos + 8);
  pos += 10 + rdlen;
  return pos > buf.length ? -1 : pos;
}

/** Skips a possibly compressed name; returns the offset after it or -1 when malformed. */
function skipName(buf: Buffer, pos: number): number {
  for (let total = 0; pos < buf.length;) {
    const len = buf[pos]!;
    if (len === 0) return pos + 1;
    if ((len & 0xc0) === 0xc0) return pos + 2 <= buf.length ? pos + 2 : -1;
    if ((len & 0xc0) !== 0) return -1;
    total += len + 1;
    if (total > 255) return -1;
    pos += len + 1;
  }
  return -1;
}

export function readQuery(buf: Buffer): ReadResult {
  if (buf.length < HEADER) return { kind: 'drop' };
  const flags1 = buf[2]!;
  if ((flags1 & 0x80) !== 0) return { kind: 'drop' };
  const opcode = (flags1 >> 3) & 0x0f;
  const qdcount = buf.readUInt16BE(4);
  const ancount = buf.readUInt16BE(6);
  const nscount = buf.readUInt16BE(8);
  const arcount = buf.readUInt16BE(10);

  // The question (when there is exactly one) is read in full; QNAME must be uncompressed
  // labels, since a pointer could only point into the header.
  const labels: string[] = [];
  const labelKeys: string[] = [];
  let key = '';
  let pos = HEADER;
  let qtype = 0;
  let qclass = 0;
  if (qdcount === 1) {
    let total = 1;
    for (;;) {
      if (pos >= buf.length) return errorResult(buf, Rcode.FORMERR, HEADER, null);
      const len = buf[pos]!;
      if (len === 0) {
        pos++;
        break;
      }
      if (len > 63) return errorResult(buf, Rcode.FORMERR, HEADER, null);
      total += len + 1;
      if (total > 255 || pos + 1 + len > buf.length) return errorResult(buf, Rcode.FORMERR, HEADER, null);
      let label = '';
      let lkey = '';
      for (let i = pos + 1, end = pos + 1 + len; i < end; i++) {
        const c = buf[i]!;
        label += String.fromCharCode(c);
        if (c >= 0x41 && c <= 0x5a) lkey += String.fromCharCode(c + 0x20);
        else if (c === 0x2e || c === 0x5c) lkey += '\\' + String.fromCharCode(c);
        else lkey += String.fromCharCode(c);
      }
      labels.push(label);
      labelKeys.push(lkey);
      pos += len + 1;
    }
    // Joined once, not concatenated label by label: caches keep the key, and a concatenation is a chain of string objects.
    key = labelKeys.join('.');
    if (pos + 4 > buf.length) return errorResult(buf, Rcode.FORMERR, HEADER, null);
    qtype = buf.readUInt16BE(pos);
    qclass = buf.readUInt16BE(pos + 2);
    pos += 4;
  } else {
    for (let i = 0; i < qdcount; i++) {
      pos = skipName(buf, pos);
      if (pos < 0 || pos + 4 > buf.length) return errorResult(buf, Rcode.FORMERR, HEADER, null);
      pos += 4;
    }
  }
  const questionEnd = qdcount === 1 ? pos : HEADER;

  // Answer and authority sections of a query are normally empty; skip them to reach OPT,
  // which every answer to an EDNS query carries, errors included (RFC 6891 §6.1.1).
  for (let i = 0; i < ancount + nscount; i++) {
    pos = skipRecord(buf, pos);
    if (pos < 0) return errorResult(buf, Rcode.FORMERR, questionEnd, null);
  }
  let edns: EdnsInfo | null = null;
  for (let i = 0; i < arcount; i++) {
    const start = pos;
    pos = skipRecord(buf, pos);
    if (pos < 0) return errorResult(buf, Rcode.FORMERR, questionEnd, edns);
    const nameEnd = skipName(buf, start);
    if (buf.readUInt16BE(nameEnd) !== RRType.OPT) continue;
    // RFC 6891 §6.1.1: one OPT only, owned by the root.
    if (edns !== null || nameEnd !== start + 1) return errorResult(buf, Rcode.FORMERR, questionEnd, null);
    const parsed = readOpt(buf, nameEnd);
    if (parsed === null) return errorResult(buf, Rcode.FORMERR, questionEnd, null);
    edns = parsed;
  }
  if (edns !== null && edns.version > 0) return errorResult(buf, Rcode.BADVERS, questionEnd, edns);
  // A primary takes no NOTIFY (RFC 1996): NOTAUTH, as Knot answers one no ACL allows.
  if (opcode === Opcode.NOTIFY && qdcount === 1) return errorResult(buf, Rcode.NOTAUTH, questionEnd, edns);
  if (opcode !== Opcode.QUERY) return errorResult(buf, Rcode.NOTIMP, questionEnd, edns);
  // RFC 9619: a query has exactly one question.
  if (qdcount !== 1) return errorResult(buf, Rcode.FORMERR, HEADER, edns);

  return {
    kind: 'query',
    query: {
      id: buf.readUInt16BE(0),
      opcode,
      recursionDesired: (flags1 & 0x01) !== 0,
      checkingDisabled: (buf[3]! & 0x10) !== 0,
      labels,
      labelKeys,
      key,
      qtype,
      qclass,
      questionEnd,
      edns,
    },
  };
}

/**
 * The EDNS of a plain query (see src/answer/question-index.ts) whose one additional record
 * starts at `at`: null unless that record is a well-formed, root-owned OPT of version 0, so
 * that every other case goes to readQuery and gets the same answer as before.
 */
export function readSoleOpt(buf: Buffer, at: number): EdnsInfo | null {
  if (at + 11 > buf.length || buf[at] !== 0 || u16(buf, at + 1) !== RRType.OPT) return null;
  if (at + 11 + u16(buf, at + 9) > buf.length) return null;
  const edns = readOpt(buf, at + 1);
  return edns !== null && edns.version === 0 ? edns : null;
}

/**
 * Reads an OPT pseudo-RR whose TYPE field starts at `at`; null when its options are malformed.
 * Its callers have checked that the record, RDATA included, lies within `buf`.
 */
function readOpt(buf: Buffer, at: number): EdnsInfo | null {
  const udpSize = Math.max(512, u16(buf, at + 2));
  const version = buf[at + 5]!;
  const dnssecOk = (buf[at + 6]! & 0x80) !== 0;
  const rdlen = u16(buf, at + 8);
  let p = at + 10;
  const end = p + rdlen;
  let clientSubnetAt = -1;
  let clientSubnetLength = 0;
  let cookieAt = -1;
  let cookieLength = 0;
  let nsid = false;
  while (p < end) {
    if (p + 4 > end) return null;
    const code = u16(buf, p);
    const len = u16(buf, p + 2);
    if (p + 4 + len > end) return null;
    if (code === EdnsOption.CLIENT_SUBNET) {
      if (clientSubnetAt >= 0) return null;
      clientSubnetAt = p + 4;
      clientSubnetLength = len;
    } else if (code === EdnsOption.COOKIE) {
      if (cookieAt < 0) {
        cookieAt = p + 4;
        cookieLength = len;
      }
    } else if (code === EdnsOption.NSID) {
      nsid = true;
    }
    p += 4 + len;
  }
  return { udpSize, version, dnssecOk, clientSubnetAt, clientSubnetLength, cookieAt, cookieLength, nsid };
}

/** Big-endian 16 bits at `at`, which the caller has checked lies within `buf`: without Buffer#readUInt16BE's argument checks, which cost more than the read (once per option of every EDNS query). */
function u16(buf: Buffer, at: number): number {
  return (buf[at]! << 8) | buf[at + 1]!;
}
