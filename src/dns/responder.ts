/**
 * The data plane for one packet: read → cache → resolve → encode → finish for the transport.
 * Synchronous, no I/O. Answers are cached encoded; a hit only copies bytes and patches
 * the ID, the RD/CD bits, the question's case and the OPT record.
 */
import { RRType } from './constants.js';
import { AnswerCache } from './answer-cache.js';
import { MessageWriter, type EncodedResponse } from './message-writer.js';
import { readQuery, type EdnsInfo, type Query } from './query-reader.js';
import { resolve } from '../resolve/resolver.js';
import type { SnapshotStore } from '../snapshot/snapshot.js';

export type Transport = 'udp' | 'tcp';

export interface ResponderOptions {
  /** Our EDNS UDP payload size (RFC 6891 §6.2.5); 1232 avoids IP fragmentation (DNS Flag Day 2020). */
  readonly udpPayloadSize: number;
  readonly cacheMaxEntries: number;
}

const HEADER = 12;
const OPT_LENGTH = 11;
/** Without EDNS a UDP message is at most 512 octets (RFC 1035 §2.3.4). */
const CLASSIC_UDP_LIMIT = 512;

export class Responder {
  readonly #store: SnapshotStore;
  readonly #options: ResponderOptions;
  readonly #writer = new MessageWriter();
  readonly cache: AnswerCache;

  constructor(store: SnapshotStore, options: ResponderOptions) {
    this.#store = store;
    this.#options = options;
    this.cache = new AnswerCache(options.cacheMaxEntries);
  }

  /** The response to `packet`, or null when it must be dropped. */
  respond(packet: Buffer, transport: Transport): Buffer | null {
    const read = readQuery(packet);
    if (read.kind === 'drop') return null;
    if (read.kind === 'error') return this.#errorResponse(packet, read.rcode, read.questionEnd, read.edns);
    const q = read.query;
    const snapshot = this.#store.current;
    this.cache.useVersion(snapshot.version);
    // The answer depends only on these: no DNSSEC signing yet, so the DO bit does not
    // change it; ANY differs by transport (RFC 8482).
    const key = q.qtype === RRType.ANY ? `${q.key}|${q.qtype}|${q.qclass}|${transport}` : `${q.key}|${q.qtype}|${q.qclass}`;
    let encoded = this.cache.get(key);
    if (encoded === undefined) {
      const res = resolve(snapshot, q, { minimalAny: transport === 'udp' });
      encoded = this.#writer.encode(packet, q, res);
      this.cache.set(key, encoded);
    }
    return this.#finish(packet, q, encoded, transport);
  }

  #finish(packet: Buffer, q: Query, encoded: EncodedResponse, transport: Transport): Buffer {
    const edns = q.edns;
    const optLen = edns ? OPT_LENGTH : 0;
    const limit = transport === 'tcp' ? 65535 : edns ? Math.min(edns.udpSize, this.#options.udpPayloadSize) : CLASSIC_UDP_LIMIT;
    let bodyLen = encoded.bytes.length;
    let truncated = false;
    let additionalCount = -1;
    if (bodyLen + optLen > limit) {
      // RFC 2181 §9: additional RRsets that do not fit are left out silently, unless they are
      // glue the referral needs (RFC 9471); otherwise the answer is truncated.
      const cut = encoded.glueRequired ? undefined : lastCutWithin(encoded, limit - optLen);
      if (cut !== undefined) {
        bodyLen = cut.length;
        additionalCount = cut.count;
      } else {
        bodyLen = q.questionEnd;
        truncated = true;
      }
    }
    const out = Buffer.allocUnsafe(bodyLen + optLen);
    encoded.bytes.copy(out, 0, 0, bodyLen);
    // Patch what differs between queries that share a cache entry.
    out[0] = packet[0]!;
    out[1] = packet[1]!;
    out[2] = (out[2]! & 0xfe) | (packet[2]! & 0x01) | (truncated ? 0x02 : 0);
    out[3] = (out[3]! & 0xef) | (packet[3]! & 0x10);
    packet.copy(out, HEADER, HEADER, q.questionEnd);
    if (truncated) out.fill(0, 6, 12);
    if (additionalCount >= 0) out.writeUInt16BE(additionalCount, 10);
    if (edns) {
      writeOpt(out, bodyLen, this.#options.udpPayloadSize, 0, edns.dnssecOk);
      out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
    }
    return out;
  }

  /** FORMERR, NOTIMP, BADVERS…: the header, the question when it could be read, and OPT when the query had one. */
  #errorResponse(packet: Buffer, rcode: number, questionEnd: number, edns: EdnsInfo | null): Buffer {
    const optLen = edns ? OPT_LENGTH : 0;
    const out = Buffer.alloc(questionEnd + optLen);
    packet.copy(out, 0, 0, questionEnd);
    out[2] = 0x80 | (packet[2]! & 0x79);
    out[3] = (packet[3]! & 0x10) | (rcode & 0x0f);
    out.writeUInt16BE(questionEnd > HEADER ? 1 : 0, 4);
    out.writeUInt16BE(0, 6);
    out.writeUInt16BE(0, 8);
    out.writeUInt16BE(edns ? 1 : 0, 10);
    if (edns) writeOpt(out, questionEnd, this.#options.udpPayloadSize, rcode >> 4, edns.dnssecOk);
    return out;
  }
}

function lastCutWithin(encoded: EncodedResponse, limit: number): { length: number; count: number } | undefined {
  let best: { length: number; count: number } | undefined;
  for (const cut of encoded.additionalCuts) if (cut.length <= limit) best = cut;
  return best;
}

/** OPT pseudo-RR (RFC 6891 §6.1.2): root owner, our payload size, extended RCODE, version 0, DO echoed (RFC 3225 §3). */
function writeOpt(out: Buffer, at: number, udpSize: number, extendedRcode: number, dnssecOk: boolean): void {
  out[at] = 0;
  out.writeUInt16BE(RRType.OPT, at + 1);
  out.writeUInt16BE(udpSize, at + 3);
  out[at + 5] = extendedRcode;
  out[at + 6] = 0;
  out.writeUInt16BE(dnssecOk ? 0x8000 : 0, at + 7);
  out.writeUInt16BE(0, at + 9);
}
