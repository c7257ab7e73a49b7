import type { Name } from '../dns/name.js';

/** Where a record or an error came from, for messages of the form file:line: message. */
export interface SourcePos {
  file: string;
  line: number;
}

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

/** A problem found in a zone or config file; `line` is 0 when it concerns the file as a whole. */
export interface FileProblem extends SourcePos {
  message: string;
  severity: 'error' | 'warning';
}

export function formatProblem(p: FileProblem): string {
  return `${p.file}:${p.line}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`;
}
