/**
 * Values by a plain query's question in wire form, valid for one snapshot version (issue #7).
 * The responder keeps here what a question leads to (its encoded answer, or the steered
 * name it asks for), so a repeated question is found straight from the packet: no label
 * strings, no key string, no string hashing. Bounded like the answer cache: the oldest
 * entry goes first.
 *
 * The key is the question, the transport for ANY (RFC 8482) and, when some zone is signed
 * (`byDnssecOk`), the DO bit: a signed zone's answers carry RRSIGs only for DO=1. Without
 * signing DO changes no answer, and one entry serves both.
 *
 * Plain means: QR 0, opcode QUERY, one question of uncompressed labels, no answer or
 * authority records, at most one additional. Anything else, malformed packets included,
 * is never found here and takes the full reader (src/dns/query-reader.ts).
 */

import { BoundedSnapshotMap, type AnswerTags } from '../snapshot/per-snapshot-cache.js';

/** The transport a query came over: ANY is answered differently over UDP (RFC 8482). */
export type Transport = 'udp' | 'tcp';

/**
 * Two objects per question (this and its question string): every object here is traced by
 * each major collection on the answering thread (issue #14 item 3).
 */
interface Entry<V> {
  /** QNAME with ASCII letters lower-cased (RFC 4343), then QTYPE and QCLASS, as on the wire, one octet per character: rules out hash collisions. */
  readonly question: string;
  /** ANY_UDP or ANY_TCP for ANY only (the one type whose answer depends on the transport), plus DNSSEC_OK for the query's DO bit (a signed zone's answer differs with it). */
  readonly flags: number;
  readonly value: V;
}

const ANY_UDP = 1;
const ANY_TCP = 2;
const DNSSEC_OK = 4;
/** Room to fold one question in (RFC 1035: a name is at most 255 octets, then QTYPE and QCLASS). */
const folded = Buffer.alloc(259);

const HEADER = 12;
const QTYPE_ANY = 255;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Keyed by the hash of the folded question, a small integer so V8 keeps the keys unboxed. Each value says what it depends on. */
export class QuestionIndex<V extends AnswerTags> extends BoundedSnapshotMap<number, Entry<V>> {
  readonly #byDnssecOk: boolean;

  constructor(maxEntries: number, byDnssecOk = false) {
    super(maxEntries, (e) => e.value);
    this.#byDnssecOk = byDnssecOk;
  }

  /** After a hit: the offset just past the question section. */
  questionEnd = 0;

  /** The value kept for `packet`'s question, when `packet` is a plain query. */
  get(packet: Buffer, transport: Transport): V | undefined {
    if (this.entries.size === 0) return undefined;
    const hash = hashPlainQuestion(packet, transport, this.#byDnssecOk);
    if (hash < 0) return undefined;
    const e = this.entries.get(hash);
    if (e === undefined || !sameQuestion(packet, e) || !this.fresh(hash, e)) return undefined;
    this.questionEnd = scannedQuestionEnd;
    return e.value;
  }

  /** Keeps `value` for `packet`'s question; a packet that is not a plain query is ignored. */
  set(packet: Buffer, transport: Transport, value: V): void {
    if (this.maxEntries <= 0) return;
    const hash = hashPlainQuestion(packet, transport, this.#byDnssecOk);
    if (hash < 0) return;
    const length = scannedQuestionEnd - HEADER;
    const nameEnd = length - 4;
    for (let i = 0; i < length; i++) {
      const c = packet[HEADER + i]!;
      folded[i] = i < nameEnd && c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    }
    const question = folded.toString('latin1', 0, length);
    this.remember(hash, { question, flags: scannedFlags, value });
  }
}

/** Offset just past the question hashPlainQuestion last read (module state: no allocation per query). */
let scannedQuestionEnd = 0;
/** And the Entry flags of that question (transport for ANY, DO bit), read once with the hash. */
let scannedFlags = 0;

/**
 * The DO bit of an OPT record right after the question (RFC 6891 §6.1.3): a signed zone
 * answers DO=1 with RRSIGs, so the two are different questions here. A query whose one
 * additional record is not a well-formed OPT goes to the full reader anyway.
 */
function dnssecOkAt(p: Buffer, at: number): boolean {
  return p[11] === 1 && at + 11 <= p.length && p[at] === 0 && p[at + 1] === 0 && p[at + 2] === 41 && (p[at + 7]! & 0x80) !== 0;
}

/** FNV-1a of a plain query's folded question (and of the transport, for ANY; of the DO bit, when keyed by it) as a non-negative small integer; -1 when not plain. */
function hashPlainQuestion(p: Buffer, transport: Transport, byDnssecOk: boolean): number {
  if (p.length < HEADER + 5 || (p[2]! & 0xf8) !== 0) return -1;
  if (p[4] !== 0 || p[5] !== 1 || p[6] !== 0 || p[7] !== 0 || p[8] !== 0 || p[9] !== 0 || p[10] !== 0 || p[11]! > 1) return -1;
  let h = FNV_OFFSET;
  let pos = HEADER;
  for (;;) {
    if (pos >= p.length) return -1;
    const len = p[pos]!;
    h = Math.imul(h ^ len, FNV_PRIME);
    if (len === 0) break;
    const end = pos + 1 + len;
    // The limits of RFC 1035 §2.3.4, as the full reader applies them.
    if (len > 63 || end - HEADER > 255 || end > p.length) return -1;
    for (let i = pos + 1; i < end; i++) {
      const c = p[i]!;
      h = Math.imul(h ^ (c >= 0x41 && c <= 0x5a ? c | 0x20 : c), FNV_PRIME);
    }
    pos = end;
  }
  pos++;
  if (pos + 4 > p.length) return -1;
  for (let i = pos; i < pos + 4; i++) h = Math.imul(h ^ p[i]!, FNV_PRIME);
  const any = p[pos] === 0 && p[pos + 1] === QTYPE_ANY;
  if (any) h = Math.imul(h ^ (transport === 'tcp' ? 1 : 2), FNV_PRIME);
  scannedQuestionEnd = pos + 4;
  const dnssecOk = byDnssecOk && dnssecOkAt(p, pos + 4);
  if (dnssecOk) h = Math.imul(h ^ 4, FNV_PRIME);
  scannedFlags = (any ? (transport === 'tcp' ? ANY_TCP : ANY_UDP) : 0) | (dnssecOk ? DNSSEC_OK : 0);
  return h & 0x3fffffff;
}

/** Whether the question hashPlainQuestion just read is `e`'s, byte for byte after folding. */
function sameQuestion<V>(p: Buffer, e: Entry<V>): boolean {
  const q = e.question;
  if (scannedQuestionEnd - HEADER !== q.length) return false;
  const nameEnd = q.length - 4;
  for (let i = 0; i < q.length; i++) {
    let c = p[HEADER + i]!;
    if (i < nameEnd && c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== q.charCodeAt(i)) return false;
  }
  return e.flags === scannedFlags;
}
