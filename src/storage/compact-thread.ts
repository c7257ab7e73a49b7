/**
 * Entry of the journal compaction thread (a worker_thread, see journal-compaction.ts): reads
 * the zone file and the first `journalBytes` of its journal, applies them, and writes the
 * result to a temp file beside the zone file, fsync'd. The rename is the main thread's, which
 * first checks that nobody edited the zone file meanwhile.
 */
import fs from 'node:fs';
import os from 'node:os';
import { parentPort } from 'node:worker_threads';
import type { Name } from '../dns/name.js';
import { parseMasterFile } from '../zone/master-file.js';
import { serializeZone } from '../zone/serialize.js';
import { formatProblem } from '../problems/problem-list.js';
import { applyJournal, readJournalForLoad } from './journal.js';
import { writeTempSynced } from './atomic-write.js';

export interface CompactRequest {
  readonly file: string;
  readonly origin: Name;
  readonly journalBytes: number;
  readonly note: string;
}

export type CompactReply = { readonly ok: true; readonly tmp: string; readonly serial: number | null } | { readonly ok: false; readonly message: string };

// A compaction is never urgent: on Linux, nice is per thread, so this lowers only this thread
// and the answering thread wins the CPU when they share one.
try {
  os.setPriority(19);
} catch {
  // not permitted here: it runs at the process's priority
}

parentPort!.on('message', (m: CompactRequest) => {
  let reply: CompactReply;
  try {
    // The editor compacts one zone at a time and is the only writer of both files meanwhile.
    const parsed = parseMasterFile(fs.readFileSync(m.file, 'utf8'), { file: m.file, origin: m.origin });
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
  parentPort!.postMessage(reply);
});
