import type { Name } from '../dns/name.js';
import type { SourcePos } from '../problems/types.js';

/** One resource record as read from a master file. */
export interface ZoneRecord {
  /** Absolute owner name, case as written. */
  owner: Name;
  type: number;
  class: number;
  ttl: number;
  /** RDATA in uncompressed wire form (RFC 1035 §3.3; RFC 3597 for unknown types). */
  rdata: Buffer;
  source: SourcePos;
}
