/**
 * The RRset journal of a zone (Knot's journal): `<zone file>.journal` beside the zone file.
 * Every acknowledged admin write appends one entry and fsyncs it before the 2xx, so a write
 * costs its change, not the zone; the zone file is rewritten with the journal applied later,
 * off the answering thread (journal-compaction.ts), and the entries it holds are then dropped.
 *
 * An entry is framed and checksummed:
 *
 *   +--------+-----------+-----------+---------------------------+
 *   | "MJ1\n"| length u32| crc32 u32 | payload (JSON, UTF-8)     |
 *   +--------+-----------+-----------+---------------------------+
 *
 * The payload holds the serial before and after, and per changed RRset its OLD and NEW
 * contents (null when absent), which is what an IXFR (RFC 1995 §4) needs to send a
 * difference sequence later. A short or mismatched last entry is a torn tail (the crash came
 * before its fsync, so it was never acknowledged) and is dropped; a bad entry with a whole,
 * checksummed entry anywhere after it is corruption, reported with the file and the offset.
 *
 * Loading (every loader goes through loadZoneFile) = zone file + the entries that continue
 * its serial. A zone file whose serial no entry continues was edited by hand: it wins and the
 * journal is ignored (the next admin write starts it again), as in Knot.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { nameKey, type Name } from '../dns/name.js';
import { RRType } from '../dns/constants.js';
import type { FileProblem, SourcePos } from '../problems/types.js';
import type { ZoneRecord } from '../zone/record.js';
import type { TimeSlicer } from '../zone/time-slice.js';
import { tempPath } from './atomic-write.js';

export const JOURNAL_SUFFIX = '.journal';
const MAGIC = Buffer.from('MJ1\n');
const HEADER = 12;
/** Far above any entry a 10,000-operation batch makes; a length beyond it is corruption, not a huge allocation. */
const MAX_ENTRY_BYTES = 256 << 20;

export interface JournalRRset {
  readonly ttl: number;
  readonly class: number;
  readonly rdatas: readonly Buffer[];
}

export interface JournalChange {
  readonly owner: Name;
  readonly type: number;
  readonly old: JournalRRset | null;
  readonly new: JournalRRset | null;
}

export interface JournalEntry {
  readonly from: number;
  readonly to: number;
  readonly changes: readonly JournalChange[];
}

export interface JournalContents {
  readonly entries: readonly JournalEntry[];
  /** Bytes of whole, valid entries: where the next append goes. */
  readonly validBytes: number;
  /** Bytes after validBytes that were a torn (never acknowledged) tail. */
  readonly tornBytes: number;
  /** A bad entry followed by more data: the entries after it cannot be trusted. */
  readonly corrupt: { readonly offset: number; readonly message: string } | null;
}

export function journalFileFor(zoneFile: string): string {
  return zoneFile + JOURNAL_SUFFIX;
}

type WireRRset = { ttl: number; class: number; rdata: string[] } | null;
type WireEntry = { from: number; to: number; changes: Array<{ owner: string[]; type: number; old: WireRRset; new: WireRRset }> };

const toWire = (s: JournalRRset | null): WireRRset => (s === null ? null : { ttl: s.ttl, class: s.class, rdata: s.rdatas.map((r) => r.toString('base64')) });
const fromWire = (s: WireRRset): JournalRRset | null => (s === null ? null : { ttl: s.ttl, class: s.class, rdatas: s.rdata.map((r) => Buffer.from(r, 'base64')) });

/** One framed entry, ready to append. */
export function encodeEntry(entry: JournalEntry): Buffer {
  const steps = encodeSteps(entry);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** encodeEntry in slices: a 10,000-change batch is encoded a change at a time between queries. */
export async function encodeEntrySliced(entry: JournalEntry, slicer: TimeSlicer): Promise<Buffer> {
  const steps = encodeSteps(entry);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    const pause = slicer.tick();
    if (pause) await pause;
  }
}

function* encodeSteps(entry: JournalEntry): Generator<void, Buffer> {
  // The JSON of WireEntry, written change by change.
  const parts: string[] = [`{"from":${entry.from},"to":${entry.to},"changes":[`];
  for (let i = 0; i < entry.changes.length; i++) {
    const c = entry.changes[i]!;
    parts.push((i > 0 ? ',' : '') + JSON.stringify({ owner: c.owner, type: c.type, old: toWire(c.old), new: toWire(c.new) }));
    yield;
  }
  parts.push(']}');
  const payload = Buffer.from(parts.join(''));
  const head = Buffer.alloc(HEADER);
  MAGIC.copy(head, 0);
  head.writeUInt32BE(payload.length, 4);
  head.writeUInt32BE(zlib.crc32(payload), 8);
  return Buffer.concat([head, payload]);
}

function decodePayload(payload: Buffer): JournalEntry {
  const wire = JSON.parse(payload.toString('utf8')) as WireEntry;
  if (!Number.isInteger(wire.from) || !Number.isInteger(wire.to) || !Array.isArray(wire.changes)) throw new Error('the entry lacks its serials or changes');
  return { from: wire.from, to: wire.to, changes: wire.changes.map((c) => ({ owner: c.owner, type: c.type, old: fromWire(c.old), new: fromWire(c.new) })) };
}

/** The end of a whole, checksummed entry at `at`, or -1. */
function entryEnd(buf: Buffer, at: number): number {
  if (buf.length - at < HEADER || !buf.subarray(at, at + 4).equals(MAGIC)) return -1;
  const length = buf.readUInt32BE(at + 4);
  const end = at + HEADER + length;
  if (length > MAX_ENTRY_BYTES || end > buf.length) return -1;
  return zlib.crc32(buf.subarray(at + HEADER, end)) === buf.readUInt32BE(at + 8) ? end : -1;
}

/** Whether a whole, checksummed entry starts anywhere after `at`: then what is bad at `at` was acknowledged data, not a torn append. */
function wholeEntryAfter(buf: Buffer, at: number): boolean {
  for (let i = buf.indexOf(MAGIC, at + 1); i >= 0; i = buf.indexOf(MAGIC, i + 1)) if (entryEnd(buf, i) >= 0) return true;
  return false;
}

/** The serials at the start of a payload, as encodeSteps writes them. */
const SERIALS = /^\{"from":(\d+),"to":(\d+),"changes":\[/;

/**
 * An entry's serials only, its changes left undecoded (empty): what a writer opening the
 * journal needs. Decoding a 10,000-operation entry in full held the answering thread 280 ms.
 * The frame's checksum vouches for the rest; a load decodes it all (off that thread).
 */
function decodeSerials(payload: Buffer): JournalEntry {
  const m = SERIALS.exec(payload.toString('latin1', 0, Math.min(payload.length, 64)));
  if (m === null) throw new Error('the entry lacks its serials or changes');
  return { from: Number(m[1]), to: Number(m[2]), changes: [] };
}

/** Reads framed entries from `buf`; see JournalContents for what a bad one means. `serialsOnly`: each entry's changes are left empty. */
export function decodeJournal(buf: Buffer, serialsOnly = false): JournalContents {
  const decode = serialsOnly ? decodeSerials : decodePayload;
  const entries: JournalEntry[] = [];
  let at = 0;
  while (at < buf.length) {
    const end = entryEnd(buf, at);
    let entry: JournalEntry | null = null;
    let problem = 'not a whole entry with a matching checksum';
    if (end >= 0) {
      try {
        entry = decode(buf.subarray(at + HEADER, end));
      } catch (err) {
        problem = `unreadable entry (${(err as Error).message})`;
      }
    }
    if (entry === null) {
      // A crash tears only the last append: a whole entry after this one means corruption.
      if (wholeEntryAfter(buf, at)) return { entries, validBytes: at, tornBytes: 0, corrupt: { offset: at, message: problem } };
      return { entries, validBytes: at, tornBytes: buf.length - at, corrupt: null };
    }
    entries.push(entry);
    at = end;
  }
  return { entries, validBytes: at, tornBytes: 0, corrupt: null };
}

/** The journal of a zone file, or null when it has none. */
export function readJournal(zoneFile: string, limitBytes = Infinity): JournalContents | null {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(journalFileFor(zoneFile));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return decodeJournal(limitBytes < buf.length ? buf.subarray(0, limitBytes) : buf);
}

/** Where the entries that continue `serial` start, or null when none does. */
function continuing(entries: readonly JournalEntry[], serial: number): number | null {
  for (let i = 0; i < entries.length; i++) if (entries[i]!.from === serial) return i;
  return null;
}

export interface JournaledRecords {
  readonly records: ZoneRecord[];
  readonly problems: FileProblem[];
  /** The serial the records have after the journal (the zone file's when nothing applied). */
  readonly serial: number | null;
}

const JOURNAL_SOURCE = (file: string): SourcePos => ({ file, line: 0 });

/** A journal as a load read it: its contents (null: none), or why it could not be read. */
export type JournalRead = { readonly contents: JournalContents | null } | { readonly error: string };

/**
 * Reads the journal for a load. A loader reads it BEFORE the zone file: a compaction only
 * ever renames in a newer zone file and then drops entries that file holds, so an older
 * journal with a newer file still adds up (the entries the file holds are skipped by serial),
 * where a newer journal with an older file would miss the entries dropped.
 */
export function readJournalForLoad(zoneFile: string, limitBytes = Infinity): JournalRead {
  try {
    return { contents: readJournal(zoneFile, limitBytes) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/**
 * `records` (a zone file as parsed) with the entries of its journal (`read` by
 * readJournalForLoad) that continue its serial applied, in order; each changed RRset takes the
 * place of the first record it replaces, so a compacted file keeps the layout of the old one.
 * The hook of every loader (loadZoneFile).
 */
export function applyJournal(zoneFile: string, origin: Name, records: ZoneRecord[], read: JournalRead): JournaledRecords {
  const soa = records.find((r) => r.type === RRType.SOA && nameKey(r.owner) === nameKey(origin));
  const serial = soa ? soa.rdata.readUInt32BE(soa.rdata.length - 20) : null;
  const journalFile = journalFileFor(zoneFile);
  if ('error' in read) {
    return { records, serial, problems: [{ file: journalFile, line: 0, message: `cannot read the journal: ${read.error}`, severity: 'error' }] };
  }
  const contents = read.contents;
  if (contents === null || serial === null) return { records, serial, problems: [] };
  const problems: FileProblem[] = [];
  const { entries } = contents;
  if (contents.corrupt) {
    problems.push({
      file: journalFile,
      line: 0,
      message: `corrupt journal entry at byte ${contents.corrupt.offset} (${contents.corrupt.message}): the zone is served with the ${entries.length} entries before it, and admin writes to it are refused until the journal is moved away`,
      severity: 'error',
    });
  }
  if (entries.length === 0) return { records, serial, problems };
  const first = continuing(entries, serial);
  if (first === null) {
    if (entries[entries.length - 1]!.to !== serial) {
      problems.push({
        file: journalFile,
        line: 0,
        message: `the zone file's serial ${serial} does not continue the journal (serials ${entries[0]!.from} to ${entries[entries.length - 1]!.to}): the zone file was edited by hand and wins; the journal is ignored and the next admin write starts it again`,
        severity: 'warning',
      });
    }
    return { records, serial, problems };
  }
  const finalSets = new Map<string, { owner: Name; type: number; set: JournalRRset | null }>();
  let at = serial;
  for (let i = first; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.from !== at) {
      problems.push({ file: journalFile, line: 0, message: `journal entry ${i} goes from serial ${e.from}, not ${at}: the entries from there on are ignored`, severity: 'error' });
      break;
    }
    for (const c of e.changes) finalSets.set(`${nameKey(c.owner)}|${c.type}`, { owner: c.owner, type: c.type, set: c.new });
    at = e.to;
  }
  const source = JOURNAL_SOURCE(journalFile);
  const expand = (f: { owner: Name; type: number; set: JournalRRset | null }, into: ZoneRecord[]): void => {
    for (const rdata of f.set?.rdatas ?? []) into.push({ owner: f.owner, type: f.type, class: f.set!.class, ttl: f.set!.ttl, rdata, source });
  };
  const out: ZoneRecord[] = [];
  const placed = new Set<string>();
  for (const r of records) {
    const k = `${nameKey(r.owner)}|${r.type}`;
    const f = finalSets.get(k);
    if (f === undefined) {
      out.push(r);
      continue;
    }
    if (placed.has(k)) continue;
    placed.add(k);
    expand(f, out);
  }
  for (const [k, f] of finalSets) if (!placed.has(k)) expand(f, out);
  return { records: out, serial: at, problems };
}

/**
 * Appends entries to one zone's journal, each fsync'd before append() resolves. Opened on the
 * first write after start (or after the journal was dropped): the torn tail of a crash is cut
 * off then, and a corrupt journal refuses every append (its file is named in the error).
 */
export class JournalWriter {
  readonly file: string;
  #handle: fs.promises.FileHandle | null = null;
  #size = 0;
  #last: JournalEntry | null = null;
  #count = 0;

  constructor(zoneFile: string) {
    this.file = journalFileFor(zoneFile);
  }

  /** Bytes of whole entries in the file. */
  get size(): number {
    return this.#size;
  }

  /** The serial the last entry leads to, or null for an empty journal. */
  get lastSerial(): number | null {
    return this.#last?.to ?? null;
  }

  get entries(): number {
    return this.#count;
  }

  get isOpen(): boolean {
    return this.#handle !== null;
  }

  /** Opens the file, reads what it holds and cuts a torn tail; throws JournalCorrupt on a bad middle. */
  async open(): Promise<void> {
    if (this.#handle) return;
    const handle = await fs.promises.open(this.file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    try {
      const contents = decodeJournal(await handle.readFile(), true);
      if (contents.corrupt) throw new JournalCorrupt(this.file, contents.corrupt.offset, contents.corrupt.message);
      if (contents.tornBytes > 0) {
        await handle.truncate(contents.validBytes);
        await handle.sync();
      }
      this.#size = contents.validBytes;
      this.#count = contents.entries.length;
      this.#last = contents.entries[contents.entries.length - 1] ?? null;
      this.#handle = handle;
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Appends one entry and fsyncs it; on failure the file is cut back to what it was. */
  async append(entry: JournalEntry, encoded?: Buffer): Promise<void> {
    await this.open();
    const handle = this.#handle!;
    const bytes = encoded ?? encodeEntry(entry);
    try {
      for (let done = 0; done < bytes.length;) done += (await handle.write(bytes, done, bytes.length - done, this.#size + done)).bytesWritten;
      await handle.datasync();
    } catch (err) {
      // A later append must not land after a half-written entry (it would read as corruption).
      await handle.truncate(this.#size).catch(() => this.close());
      throw err;
    }
    this.#size += bytes.length;
    this.#count++;
    this.#last = entry;
  }

  /** Empties the journal (its entries are in the zone file, or the zone file won over them). */
  async reset(): Promise<void> {
    await this.open();
    await this.#handle!.truncate(0);
    await this.#handle!.sync();
    this.#size = 0;
    this.#count = 0;
    this.#last = null;
  }

  /**
   * Drops the first `bytes` (entries the zone file now holds), keeping what was appended
   * after them: the rest is written to a new file that is renamed over the journal.
   */
  async dropPrefix(bytes: number): Promise<void> {
    await this.open();
    const rest = Buffer.alloc(this.#size - bytes);
    if (rest.length > 0) {
      await this.#handle!.read(rest, 0, rest.length, bytes);
      const tmp = tempPath(this.file); // removeStaleTemps knows the shape, should a crash leave it
      await fs.promises.writeFile(tmp, rest, { flush: true, mode: 0o644 });
      await fs.promises.rename(tmp, this.file);
    } else {
      // Nothing left: no journal file at all, as before the first write.
      await fs.promises.rm(this.file, { force: true });
    }
    await this.close();
    const dir = await fs.promises.open(path.dirname(this.file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.#size = 0;
    this.#count = 0;
    this.#last = null;
    if (rest.length > 0) await this.open();
  }

  async close(): Promise<void> {
    const h = this.#handle;
    this.#handle = null;
    await h?.close();
  }
}

export class JournalCorrupt extends Error {
  readonly file: string;
  constructor(file: string, offset: number, reason: string) {
    super(
      `${file}: corrupt journal entry at byte ${offset} (${reason}); writes to this zone are refused until the journal is moved away (then SIGHUP: the zone file alone is served, so re-apply what the journal held)`,
    );
    this.file = file;
  }
}
