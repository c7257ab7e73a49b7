/**
 * The records of a transfer cut into messages: shared by the answering thread (IXFR from the
 * journal, a few records) and the AXFR thread (axfr-thread.ts, a whole zone).
 */
import { RRClass, RRType } from '../dns/constants.js';
import type { MessageWriter } from '../dns/message-writer.js';
import { nameToText, wireLength, type Name } from '../dns/name.js';
import type { Query } from '../dns/query-reader.js';
import type { SectionEntry } from '../resolve/resolution.js';
import type { ZoneNode } from '../zone/zone.js';

/** A message of a transfer is cut near this size (BIND's 16 KB; far below the 64 KB limit, so one RRset rarely splits a message). */
export const MESSAGE_TARGET = 16 * 1024;

export function emptyMessage(
  rcode: number,
  authoritative = false,
): { rcode: number; authoritative: boolean; answer: SectionEntry[]; authority: SectionEntry[]; additional: SectionEntry[]; glueRequired: boolean } {
  return { rcode, authoritative, answer: [], authority: [], additional: [], glueRequired: false };
}

/** The messages (unsigned, unframed, each its own copy) carrying `records` in order. */
export function* transferMessages(writer: MessageWriter, packet: Buffer, q: Pick<Query, 'labels' | 'labelKeys' | 'questionEnd'>, records: Iterator<SectionEntry>): Generator<Buffer> {
  let carried: SectionEntry[] = [];
  let done = false;
  while (!done || carried.length > 0) {
    const batch = carried;
    let size = 12 + q.questionEnd;
    for (const e of batch) size += entrySize(e);
    while (!done && size < MESSAGE_TARGET) {
      const next = records.next();
      if (next.done) {
        done = true;
        break;
      }
      batch.push(next.value);
      size += entrySize(next.value);
    }
    if (batch.length === 0) return;
    const encoded = writer.encode(packet, q, { ...emptyMessage(0, true), answer: batch });
    const fitted = fittedEntries(batch, encoded.bytes.readUInt16BE(6));
    if (fitted === 0) throw new Error(`an RRset of ${nameToText(batch[0]!.owner)} does not fit in one message`);
    carried = batch.slice(fitted);
    yield encoded.bytes;
  }
}

/** What an AXFR sends: the zone's nodes, with the steered names' A/AAAA replaced by `fallback`. */
export interface AxfrSource {
  readonly soa: SectionEntry;
  readonly originKey: string;
  readonly nodes: Iterable<readonly [string, ZoneNode]>;
  /** Keys of the steered names: their A and AAAA in `nodes` are not sent. */
  readonly steered: ReadonlySet<string>;
  readonly fallback: readonly SectionEntry[];
}

/** The records of an AXFR in order (RFC 5936 §2.2): the SOA, every other RRset, the fallback sets, the SOA again. */
export function* axfrRecords(source: AxfrSource): Generator<SectionEntry> {
  yield source.soa;
  for (const [key, node] of source.nodes) {
    const steered = source.steered.has(key);
    for (const set of node.rrsets.values()) {
      if (set.type === RRType.SOA && key === source.originKey) continue;
      if (steered && (set.type === RRType.A || set.type === RRType.AAAA)) continue;
      yield { owner: node.name, set, ttl: set.ttl };
    }
  }
  yield* source.fallback;
  yield source.soa;
}

/** An RRset as it crosses to the AXFR thread. */
export interface PlainSet {
  readonly owner: Name;
  readonly type: number;
  readonly ttl: number;
  readonly rdatas: readonly Uint8Array[];
}

export function toPlain(e: SectionEntry): PlainSet {
  return { owner: e.owner, type: e.set.type, ttl: e.ttl, rdatas: e.set.rdatas };
}

export function fromPlain(p: PlainSet): SectionEntry {
  const rdatas = p.rdatas.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength));
  return { owner: p.owner, set: { owner: p.owner, type: p.type, class: RRClass.IN, ttl: p.ttl, rdatas, source: { file: '', line: 0 } }, ttl: p.ttl };
}

/** An upper bound of an RRset's size uncompressed. */
function entrySize(e: SectionEntry): number {
  let size = 0;
  const owner = wireLength(e.owner);
  for (const r of e.set.rdatas) size += owner + 10 + r.length;
  return size;
}

/** How many whole entries of `batch` the writer fitted, from the ANCOUNT it wrote. */
function fittedEntries(batch: readonly SectionEntry[], ancount: number): number {
  let records = 0;
  for (let i = 0; i < batch.length; i++) {
    records += batch[i]!.set.rdatas.length;
    if (records > ancount) return i;
  }
  return batch.length;
}
