import type { Name } from '../dns/name.js';
import type { RRset } from '../zone/zone.js';

/** One RRset placed in a section, with the owner and TTL it is sent with. */
export interface SectionEntry {
  /** Owner as sent; for wildcard synthesis this is QNAME (RFC 4592 §3.3.1). */
  readonly owner: Name;
  readonly set: RRset;
  readonly ttl: number;
}

/** The outcome of answering one question, before it is encoded. */
export interface Resolution {
  readonly rcode: number;
  readonly authoritative: boolean;
  readonly answer: readonly SectionEntry[];
  readonly authority: readonly SectionEntry[];
  readonly additional: readonly SectionEntry[];
  /** A referral whose in-domain glue must not be dropped to fit (RFC 9471): truncate instead. */
  readonly glueRequired: boolean;
}

export function emptyResolution(rcode: number, authoritative = false): Resolution {
  return { rcode, authoritative, answer: [], authority: [], additional: [], glueRequired: false };
}
