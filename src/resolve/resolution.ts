import type { WireEntry, WireMessage } from '../dns/message-writer.js';
import type { RRset } from '../zone/zone.js';

/** One RRset of the zone placed in a section, with the owner and TTL it is sent with. */
export interface SectionEntry extends WireEntry {
  readonly set: RRset;
}

/** The outcome of answering one question, before it is encoded: the message the writer encodes, of the zone's RRsets. */
export interface Resolution extends WireMessage {
  readonly answer: readonly SectionEntry[];
  readonly authority: readonly SectionEntry[];
  readonly additional: readonly SectionEntry[];
}

export function emptyResolution(rcode: number, authoritative = false): Resolution {
  return { rcode, authoritative, answer: [], authority: [], additional: [], glueRequired: false };
}
