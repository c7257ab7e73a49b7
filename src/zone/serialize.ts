/**
 * Zones back to master files, for admin API writes: every record in presentation form,
 * owner names absolute, the apex first with its SOA. Comments and layout of a hand-written
 * file are not kept (as with BIND's dynamic updates); the data is.
 */
import { RRType, typeToText } from '../dns/constants.js';
import { nameToText, type Name } from '../dns/name.js';
import { rdataToText } from './rdata/index.js';
import type { ZoneRecord } from './record.js';
import type { RRset, Zone, ZoneNode } from './zone.js';
import type { TimeSlicer } from './time-slice.js';

/** Every record of a zone, apex first (SOA, then NS), then names in canonical order. */
export function zoneRecords(zone: Zone): ZoneRecord[] {
  const out: ZoneRecord[] = [];
  const keys = [...zone.nodes.keys()].sort(canonicalOrder);
  for (const key of keys) {
    const node = zone.nodes.get(key)!;
    for (const set of sortedSets(node)) {
      for (const rdata of set.rdatas) out.push({ owner: set.owner, type: set.type, class: set.class, ttl: set.ttl, rdata, source: set.source });
    }
  }
  return out;
}

/** The RRsets of a node as written: SOA first and NS second; other types by number. */
function sortedSets(node: ZoneNode): RRset[] {
  return [...node.rrsets.values()].sort((a, b) => typeRank(a.type) - typeRank(b.type) || a.type - b.type);
}

function typeRank(type: number): number {
  return type === RRType.SOA ? 0 : type === RRType.NS ? 1 : 2;
}

/** The start of a record's line, up to its RDATA, shared by both writers so their files match. */
function lineHead(owner: Name, ttl: number, cls: number, type: number): string {
  return `${nameToText(owner)}\t${ttl}\t${cls === 3 ? 'CH' : 'IN'}\t${typeToText(type)}\t`;
}

/** RFC 4034 §6.1-like order on keys: compare label by label from the right. */
function canonicalOrder(a: string, b: string): number {
  const la = a === '' ? [] : a.split('.').reverse();
  const lb = b === '' ? [] : b.split('.').reverse();
  for (let i = 0; i < Math.min(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return la[i]! < lb[i]! ? -1 : 1;
  }
  return la.length - lb.length;
}

export function serializeZone(origin: Name, records: readonly ZoneRecord[], note: string): string {
  const lines = [`; ${nameToText(origin)} ${note}`, `$ORIGIN ${nameToText(origin)}`];
  for (const r of records) {
    lines.push(lineHead(r.owner, r.ttl, r.class, r.type) + rdataToText(r.type, r.rdata));
  }
  return lines.join('\n') + '\n';
}

/** SOA RDATA with the serial advanced by one (RFC 1982 arithmetic wraps at 2^32). */
export function bumpSerial(soaRdata: Buffer, serial: number): Buffer {
  const out = Buffer.from(soaRdata);
  // The serial sits right after MNAME and RNAME: 20 octets before the end.
  out.writeUInt32BE((serial + 1) >>> 0, out.length - 20);
  return out;
}

/**
 * The records of `zone` as serializeZone writes them, apex first, the other names in the
 * node map's order rather than sorted (a sort of a million names would hold the event loop
 * for a second), built in time slices (the zone is immutable, so it can be read across turns
 * of the event loop) as chunks of UTF-8 to write one after another.
 */
export async function serializeZoneSliced(zone: Zone, note: string, slicer: TimeSlicer): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let lines = [`; ${nameToText(zone.origin)} ${note}`, `$ORIGIN ${nameToText(zone.origin)}`];
  const write = (node: ZoneNode): void => {
    for (const set of sortedSets(node)) {
      const head = lineHead(set.owner, set.ttl, set.class, set.type);
      for (const rdata of set.rdatas) lines.push(head + rdataToText(set.type, rdata));
    }
  };
  write(zone.nodes.get(zone.originKey)!);
  for (const [key, node] of zone.nodes) {
    if (key === zone.originKey) continue;
    write(node);
    if (lines.length >= 4096) {
      chunks.push(Buffer.from(lines.join('\n') + '\n'));
      lines = [];
    }
    const pause = slicer.tick();
    if (pause) await pause;
  }
  if (lines.length > 0) chunks.push(Buffer.from(lines.join('\n') + '\n'));
  return chunks;
}
