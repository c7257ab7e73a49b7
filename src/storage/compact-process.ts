/**
 * Entry of the journal compaction process (a long-lived child process, see
 * journal-compaction.ts). For each request it reads the zone file and the first `journalBytes` of its journal, applies them, and writes
 * the result to a temp file beside the zone file, fsync'd. The rename is the server's, which
 * first checks that nobody edited the zone file meanwhile.
 */
import type { Name } from '../dns/name.js';
import { parseMasterFile } from '../zone/master-file.js';
import { serializeZone } from '../zone/serialize.js';
import { formatProblem } from '../problems/problem-list.js';
import { applyJournal, readJournalForLoad } from './journal.js';
import { writeTempSynced } from './atomic-write.js';
import { readFileChunked } from './chunked-io.js';
import { idleEveryThread, lowerEveryThread } from '../zone/thread-priority.js';

export interface CompactRequest {
  readonly file: string;
  readonly origin: Name;
  readonly journalBytes: number;
  readonly note: string;
}

export type CompactReply = { readonly ok: true; readonly tmp: string; readonly serial: number | null } | { readonly ok: false; readonly message: string };

// A compaction is never urgent: every thread of this process goes to nice 19, so the
// server's answering thread wins a CPU they share. Every thread, not only this one: parsing a
// 1,000,000-record zone makes hundreds of megabytes for V8's collector, whose helper threads
// (in a worker_thread, the server's own) would otherwise compete at the server's priority.
lowerEveryThread({ to: 19 });
// Lower still where it can (`--idle`, given by journal-compaction.ts): at nice 19 the
// rewrite of a large zone still delayed answers on a shared CPU.
if (process.argv.includes('--idle')) idleEveryThread();
// The server went away (or stopped waiting): the journal stays valid without this compaction.
process.on('disconnect', () => process.exit(0));

process.on('message', (m: CompactRequest) => {
  let reply: CompactReply;
  try {
    // The editor compacts one zone at a time and is the only writer of both files meanwhile.
    const parsed = parseMasterFile(readFileChunked(m.file).toString('utf8'), { file: m.file, origin: m.origin });
    const applied = applyJournal(m.file, m.origin, parsed.records, readJournalForLoad(m.file, m.journalBytes));
    const errors = [...parsed.problems, ...applied.problems].filter((p) => p.severity === 'error');
    if (errors.length > 0) {
      reply = { ok: false, message: errors.slice(0, 3).map(formatProblem).join('; ') };
    } else {
      const tmp = writeTempSynced(m.file, serializeZone(m.origin, applied.records, m.note));
      reply = { ok: true, tmp, serial: applied.serial };
    }
  } catch (err) {
    reply = { ok: false, message: (err as Error).message };
  }
  // The next compaction may be hours away: give the zone's memory back now.
  process.send!(reply, () => (globalThis as { gc?: () => void }).gc?.());
});
