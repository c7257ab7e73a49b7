/**
 * Entry of the zone load process (a long-lived child process, see zone-load-thread-pool.ts):
 * loads, checks, builds and packs a zone file for a reload while the server answers, and
 * writes the packed image to a temp file, which the reload thread reads into shared memory.
 * A process, not only a thread: building a 1,000,000-record zone makes hundreds of megabytes
 * of garbage, and a worker_thread's collector runs on the server's own V8 threads at the
 * server's priority, where it held queries up to 26 ms on a server with one CPU. Here every
 * thread, the collector's too, runs in SCHED_IDLE (`--idle`, thread-priority.ts says why), or
 * 10 nice levels below the server where that is not possible or the process got no CPU that
 * way (its parent then starts it again without `--idle`).
 * Arguments: the folder for the images (made and removed by the parent), then `--idle` or not.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Name } from '../dns/name.js';
import type { FileProblem } from '../problems/types.js';
import { idleEveryThread, lowerEveryThread } from '../zone/thread-priority.js';
import { loadAndPack, type LoadedWork } from './zone-load-work.js';
import { writeFileChunked } from '../storage/chunked-io.js';

export interface ProcessLoadRequest {
  readonly file: string;
  readonly origin: Name;
}

export type ProcessLoadReply =
  | (Omit<LoadedWork, 'zone' | 'kind'> & { readonly kind: 'packed'; readonly tmp: string; readonly bytes: number })
  | { readonly kind: 'failed'; readonly problems: FileProblem[] }
  /** The process died or could not be reached (BackgroundProcess's failure reply). */
  | { readonly kind: 'died'; readonly message: string };

/** The same 10 levels as the reload thread (zone-load-thread.ts says why not 19). */
lowerEveryThread({ by: 10 });
if (process.argv.includes('--idle')) idleEveryThread();
const dir = process.argv[2]!;
const removeDir = (): void => fs.rmSync(dir, { recursive: true, force: true });
process.on('exit', removeDir);
// The server went away: nothing waits for a load any more.
process.on('disconnect', () => process.exit(0));

let sequence = 0;
process.on('message', (m: ProcessLoadRequest) => {
  let reply: ProcessLoadReply;
  try {
    const loaded = loadAndPack(m.file, m.origin);
    if (loaded.kind === 'failed') reply = loaded;
    else {
      const { zone, kind: _, ...rest } = loaded;
      const bytes = Buffer.from(zone.nodes.base.image.buffer);
      const tmp = path.join(dir, `${++sequence}.image`);
      writeFileChunked(tmp, bytes);
      reply = { ...rest, kind: 'packed', tmp, bytes: bytes.length };
    }
  } catch (err) {
    reply = { kind: 'failed', problems: [{ file: m.file, line: 0, message: `reload failed: ${(err as Error).message}`, severity: 'error' }] };
  }
  // The zone's memory back before the next reload, which may be hours away.
  process.send!(reply, () => (globalThis as { gc?: () => void }).gc?.());
});
