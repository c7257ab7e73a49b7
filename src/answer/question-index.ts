/**
 * Values by a plain query's question in wire form, valid for one snapshot version (issue #7).
 * The responder keeps here what a question leads to (its encoded answer, or the steered
 * name it asks for), so a repeated question is found straight from the packet: no label
 * strings, no key string, no string hashing. Bounded like the answer cache: the oldest
 * entry goes first.
 *
 * Plain means: QR 0, opcode QUERY, one question of uncompressed labels, no answer or
 * authority records, at most one additional. Anything else, malformed packets included,
 * is never found here and takes the full reader (src/dns/query-reader.ts).
 */

import { BoundedSnapshotMap } from '../snapshot/per-snapshot-cache.js';

/** The transport a query came over: ANY is answered differently over UDP (RFC 8482). */
export type Transport = 'udp' | 'tcp';

interface Entry<V> {
  /** QNAME with ASCII letters lower-cased (RFC 4343), then QTYPE and QCLASS, as on the wire: rules out hash collisions. */
  readonly question: Uint8Array;
  /** Set for ANY only, the one type whose answer depends on it. */
  readonly transport: Transport | null;
  readonly value: V;
}

const HEADER = 12;
const QTYPE_ANY = 255;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Keyed by the hash of the folded question, a small integer so V8 keeps the keys unboxed. */
export class QuestionIndex<V> extends BoundedSnapshotMap<number, Entry<V>> {
  /** After a hit: the offset just past the question section. */
  questionEnd = 0;

  /** The value kept for `packet`'s question, when `packet` is a plain query. */
  get(packet: Buffer, transport: Transport): V | undefined {
    if (this.entries.size === 0) return undefined;
    const hash = hashPlainQuestion(packet, transport);
    if (hash < 0) return undefined;
    const e = this.entries.get(hash);
    if (e === undefined || !sameQuestion(packet, e, transport)) return undefined;
    this.questionEnd = scannedQuestionEnd;
    return e.value;
  }

  /** Keeps `value` for `packet`'s question; a packet that is not a plain query is ignored. */
  set(packet: Buffer, transport: Transport, value: V): void {
    if (this.maxEntries <= 0) return;
    const hash = hashPlainQuestion(packet, transport);
    if (hash < 0) return;
    const question = new Uint8Array(scannedQuestionEnd - HEADER);
    const nameEnd = question.length - 4;
    for (let i = 0; i < question.length; i++) {
      const c = packet[HEADER + i]!;
      question[i] = i < nameEnd && c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    }
    const qtype = (question[nameEnd]! << 8) | question[nameEnd + 1]!;
    this.remember(hash, { question, transport: qtype === QTYPE_ANY ? transport : null, value });
  }
}

/** Offset just past the question hashPlainQuestion last read (module state: no allocation per query). */
let scannedQuestionEnd = 0;

/** FNV-1a of a plain query's folded question (and of the transport, for ANY) as a non-negative small integer; -1 when not plain. */
function hashPlainQuestion(p: Buffer, transport: Transport): number {
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
  if (p[pos] === 0 && p[pos + 1] === QTYPE_ANY) h = Math.imul(h ^ (transport === 'tcp' ? 1 : 2), FNV_PRIME);
  scannedQuestionEnd = pos + 4;
  return h & 0x3fffffff;
}

/** Whether the question hashPlainQuestion just read is `e`'s, byte for byte after folding. */
function sameQuestion<V>(p: Buffer, e: Entry<V>, transport: Transport): boolean {
  const q = e.question;
  if (scannedQuestionEnd - HEADER !== q.length) return false;
  const nameEnd = q.length - 4;
  for (let i = 0; i < q.length; i++) {
    let c = p[HEADER + i]!;
    if (i < nameEnd && c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== q[i]) return false;
  }
  return e.transport === null || e.transport === transport;
}
