/**
 * Encodes a WireMessage (resolve's Resolution is one) into wire format (RFC 1035 §4.1) with
 * name compression (§4.1.4) for owner names and for the RDATA names RFC 3597 §4 allows (NS,
 * CNAME, PTR, MX, SOA). Writes into one reused buffer; the caller copies out the bytes it keeps.
 */
import { RRType } from './constants.js';
import { type Name, labelKey, readWireName } from './name.js';
import type { Query } from './query-reader.js';

const MAX_MESSAGE = 65535;
/** Compression pointers hold 14 bits. */
const MAX_POINTER = 0x3fff;

/** One RRset placed in a section, as the writer needs it: the owner and TTL it is sent with, its type, class and RDATA. */
export interface WireEntry {
  /** Owner as sent; for wildcard synthesis this is QNAME (RFC 4592 §3.3.1). */
  readonly owner: Name;
  readonly set: { readonly type: number; readonly class: number; readonly rdatas: readonly Buffer[] };
  readonly ttl: number;
}

/** The sections of a response and the header bits they decide; the codec's view of an answer, whoever made it. */
export interface WireMessage {
  readonly rcode: number;
  readonly authoritative: boolean;
  readonly answer: readonly WireEntry[];
  readonly authority: readonly WireEntry[];
  readonly additional: readonly WireEntry[];
  /** A referral whose in-domain glue must not be dropped to fit (RFC 9471): truncate instead. */
  readonly glueRequired: boolean;
}

/** A place the message may be cut inside the additional section, and the ARCOUNT it leaves. */
export interface AdditionalCut {
  readonly length: number;
  readonly count: number;
}

/** Seconds since the epoch of an answer that is never stale: the largest small integer, so V8 stores it unboxed. */
export const NEVER_STALE = 0x7fffffff;

/**
 * An encoded answer. Answer caches keep one per question, hundreds of thousands of them, so
 * it is kept to few objects: every object is traced by each major collection, on the
 * answering thread (issue #14 item 3).
 */
export interface EncodedResponse {
  /** The whole message without OPT: header, question, answer, authority, additional. */
  readonly bytes: Buffer;
  /**
   * Where the message may be cut inside the additional section (RFC 2181 §9): after the
   * authority section, then after each additional RRset, with the ARCOUNT each cut leaves.
   * Null when the message has no additional records: its one cut is the whole message.
   */
  readonly additionalCuts: readonly AdditionalCut[] | null;
  readonly glueRequired: boolean;
  readonly rcode: number;
  /** Origin key of the zone that answered ("" for none), for the query counters. */
  readonly zone: string;
  /** Seconds since the epoch from which the answer is built afresh: its DNSSEC signatures are due for refresh (NEVER_STALE: never). */
  readonly staleAt: number;
  /**
   * Where the SERIAL of the message's one SOA record is, when the SOA is all there is past the
   * question (a negative answer): a cached negative answer gets the zone's serial of the moment
   * written there (answer/responder.ts). -1 otherwise.
   */
  readonly soaSerialAt: number;
}

export class MessageWriter {
  readonly #buf = Buffer.allocUnsafe(MAX_MESSAGE);
  #pos = 0;
  readonly #names = new Map<string, number>();
  /** Where the last SOA written has its SERIAL. */
  #soaSerialAt = -1;

  /**
   * Encodes `res` as the answer to `q`, copying the question as it was asked (bytes
   * [12, questionEnd) of `packet`). The ID and RD are written as in the query; a cache hit
   * patches them. RCODEs above 15 are the caller's to place in OPT.
   */
  encode(packet: Buffer, q: Pick<Query, 'labels' | 'labelKeys' | 'questionEnd'>, res: WireMessage): EncodedResponse {
    const buf = this.#buf;
    this.#names.clear();
    packet.copy(buf, 0, 0, 2);
    buf[2] = 0x80 | (packet[2]! & 0x79) | (res.authoritative ? 0x04 : 0); // QR, opcode, AA, RD
    buf[3] = (packet[3]! & 0x10) | (res.rcode & 0x0f); // CD echoed; RA never set
    packet.copy(buf, 12, 12, q.questionEnd);
    buf.writeUInt16BE(1, 4);
    this.#pos = q.questionEnd;
    this.#soaSerialAt = -1;
    this.#rememberQuestion(q.labels, q.labelKeys);

    let overflow = false;
    const counts = [0, 0, 0];
    const sections = [res.answer, res.authority, res.additional];
    let additionalCuts: AdditionalCut[] | null = null;
    for (let s = 0; s < 3; s++) {
      if (s === 2 && res.additional.length > 0) additionalCuts = [{ length: this.#pos, count: 0 }];
      for (const entry of sections[s]!) {
        if (!this.#writeEntry(entry)) {
          overflow = true;
          break;
        }
        counts[s]! += entry.set.rdatas.length;
        if (s === 2) additionalCuts!.push({ length: this.#pos, count: counts[2]! });
      }
      if (overflow) break;
    }
    buf.writeUInt16BE(counts[0]!, 6);
    buf.writeUInt16BE(counts[1]!, 8);
    buf.writeUInt16BE(counts[2]!, 10);
    return {
      bytes: Buffer.from(buf.subarray(0, this.#pos)),
      additionalCuts,
      glueRequired: res.glueRequired,
      rcode: res.rcode,
      zone: '',
      staleAt: NEVER_STALE,
      soaSerialAt: !overflow && counts[0] === 0 && counts[1] === 1 && counts[2] === 0 && res.authority[0]!.set.type === RRType.SOA ? this.#soaSerialAt : -1,
    };
  }

  /** QNAME sits at offset 12; answers owned by it compress to a pointer there, so they echo the asked case. */
  #rememberQuestion(labels: readonly string[], labelKeys: readonly string[]): void {
    let offset = 12;
    let key = labelKeys.join('.');
    for (let i = 0; i < labels.length; i++) {
      this.#names.set(key, offset);
      offset += labels[i]!.length + 1;
      key = key.slice(labelKeys[i]!.length + 1);
    }
  }

  /** Writes all records of one RRset; false (and nothing written) if it would not fit. */
  #writeEntry(entry: WireEntry): boolean {
    const start = this.#pos;
    const namesBefore = this.#names.size;
    try {
      for (const rdata of entry.set.rdatas) {
        this.#writeName(entry.owner);
        this.#ensure(10);
        const b = this.#buf;
        b.writeUInt16BE(entry.set.type, this.#pos);
        b.writeUInt16BE(entry.set.class, this.#pos + 2);
        b.writeUInt32BE(entry.ttl, this.#pos + 4);
        const rdlenAt = this.#pos + 8;
        this.#pos += 10;
        this.#writeRdata(entry.set.type, rdata);
        b.writeUInt16BE(this.#pos - rdlenAt - 2, rdlenAt);
      }
      return true;
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      this.#pos = start;
      if (this.#names.size !== namesBefore) {
        for (const [k, off] of this.#names) if (off >= start) this.#names.delete(k);
      }
      return false;
    }
  }

  #writeRdata(type: number, rdata: Buffer): void {
    switch (type) {
      case RRType.NS:
      case RRType.CNAME:
      case RRType.PTR:
        this.#writeName(readWireName(rdata, 0).name);
        return;
      case RRType.MX:
        this.#writeBytes(rdata.subarray(0, 2));
        this.#writeName(readWireName(rdata, 2).name);
        return;
      case RRType.SOA: {
        const mname = readWireName(rdata, 0);
        const rname = readWireName(rdata, mname.next);
        this.#writeName(mname.name);
        this.#writeName(rname.name);
        this.#soaSerialAt = this.#pos;
        this.#writeBytes(rdata.subarray(rname.next));
        return;
      }
      default:
        this.#writeBytes(rdata);
    }
  }

  #writeName(name: Name): void {
    const keys = name.map(labelKey);
    let suffix = keys.join('.');
    for (let i = 0; i < name.length; i++) {
      const known = this.#names.get(suffix);
      if (known !== undefined) {
        this.#ensure(2);
        this.#buf.writeUInt16BE(0xc000 | known, this.#pos);
        this.#pos += 2;
        return;
      }
      if (this.#pos <= MAX_POINTER) this.#names.set(suffix, this.#pos);
      const label = name[i]!;
      this.#ensure(label.length + 1);
      this.#buf[this.#pos++] = label.length;
      this.#pos += this.#buf.write(label, this.#pos, 'latin1');
      suffix = suffix.slice(keys[i]!.length + 1);
    }
    this.#ensure(1);
    this.#buf[this.#pos++] = 0;
  }

  #writeBytes(bytes: Uint8Array): void {
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  #ensure(n: number): void {
    if (this.#pos + n > MAX_MESSAGE) throw new RangeError('message too long');
  }
}
