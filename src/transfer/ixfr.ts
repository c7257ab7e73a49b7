/**
 * IXFR from the zone's journal (RFC 1995 §4): the differences from the secondary's serial to
 * the zone's, one sequence per journal entry (the SOA before, the records removed, the SOA
 * after, the records added), between two copies of the current SOA. Null when the journal
 * does not hold an unbroken chain from that serial to the zone's (compacted, or the zone
 * file edited by hand): the caller then sends the whole zone, AXFR-style.
 */
import fs from 'node:fs/promises';
import { RRType } from '../dns/constants.js';
import { nameKey } from '../dns/name.js';
import type { SectionEntry } from '../resolve/resolution.js';
import { decodeJournal, journalFileFor, type JournalChange, type JournalEntry, type JournalRRset } from '../storage/journal.js';
import type { RRset, Zone } from '../zone/zone.js';

/** Reads the journal and returns the chain of entries from `serial` to the zone's, or null. */
export async function journalChain(zone: Zone, serial: number): Promise<JournalEntry[] | null> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(journalFileFor(zone.file));
  } catch {
    return null;
  }
  const { entries } = decodeJournal(buf);
  const chain: JournalEntry[] = [];
  let at = serial;
  for (const e of entries) {
    if (at === zone.serial) break;
    if (e.from === at) {
      chain.push(e);
      at = e.to;
    } else if (chain.length > 0) return null;
  }
  return at === zone.serial && chain.length > 0 ? chain : null;
}

/** The records of an incremental answer for `chain`, in order. */
export function* ixfrEntries(zone: Zone, chain: readonly JournalEntry[]): Generator<SectionEntry> {
  const current: SectionEntry = { owner: zone.origin, set: zone.soa, ttl: zone.soa.ttl };
  yield current;
  for (const entry of chain) {
    const soa = entry.changes.find((c) => c.type === RRType.SOA && nameKey(c.owner) === zone.originKey);
    yield soaAt(zone, soa?.old ?? null, entry.from);
    for (const c of entry.changes) if (c !== soa) yield* part(c, c.old, c.new);
    yield soaAt(zone, soa?.new ?? null, entry.to);
    for (const c of entry.changes) if (c !== soa) yield* part(c, c.new, c.old);
  }
  yield current;
}

/** The records of `from` not in `other` (all of them when the TTL changed: the TTL is per RRset). */
function* part(c: JournalChange, from: JournalRRset | null, other: JournalRRset | null): Generator<SectionEntry> {
  if (from === null) return;
  const keep = other !== null && other.ttl === from.ttl ? other.rdatas : [];
  const rdatas = from.rdatas.filter((r) => !keep.some((k) => k.equals(r)));
  if (rdatas.length === 0) return;
  yield { owner: c.owner, set: rrset(c.owner, c.type, from.class, from.ttl, rdatas), ttl: from.ttl };
}

/** The SOA as the journal recorded it, or the current one with `serial` (an entry without an SOA change). */
function soaAt(zone: Zone, recorded: JournalRRset | null, serial: number): SectionEntry {
  if (recorded !== null && recorded.rdatas.length === 1) {
    return { owner: zone.origin, set: rrset(zone.origin, RRType.SOA, recorded.class, recorded.ttl, recorded.rdatas), ttl: recorded.ttl };
  }
  const rdata = Buffer.from(zone.soa.rdatas[0]!);
  rdata.writeUInt32BE(serial >>> 0, rdata.length - 20);
  return { owner: zone.origin, set: rrset(zone.origin, RRType.SOA, zone.soa.class, zone.soa.ttl, [rdata]), ttl: zone.soa.ttl };
}

function rrset(owner: readonly string[], type: number, cls: number, ttl: number, rdatas: readonly Buffer[]): RRset {
  return { owner, type, class: cls, ttl, rdatas, source: { file: '', line: 0 } };
}

/** RFC 1982 serial arithmetic: a comes before b. */
export function serialBefore(a: number, b: number): boolean {
  return a !== b && (b - a) >>> 0 < 0x80000000;
}
