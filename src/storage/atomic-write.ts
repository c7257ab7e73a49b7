import fs from 'node:fs';
import path from 'node:path';
import { writeFully } from './chunked-io.js';

/**
 * Writes a file so that a crash at any point leaves either the old or the new content:
 * temp file in the same folder, fsync, rename over the target, fsync the folder.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = writeTempSynced(file, data);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDir(dir);
}

/**
 * The first half of writeFileAtomic: `data` in a new temp file beside `file`, fsynced; its
 * path is returned for the caller to rename (or remove). A failed write leaves no temp file
 * behind (a full disk would keep it full).
 */
export function writeTempSynced(file: string, data: string | Uint8Array): string {
  const tmp = tempPath(file);
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    writeFully(fd, bytes);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  return tmp;
}

let tempSeq = 0;

/**
 * The temp name beside `file`: `.<name>.<pid>.<n>.tmp` (the shape removeStaleTemps knows).
 * A per-process counter, not the clock, so two writes of one file started in the same
 * millisecond (possible with the async writer) never share, truncate or steal a temp file.
 */
export function tempPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}${tempSeq++}.tmp`);
}

/** Fsyncs a folder, so names created, renamed or removed in it survive a crash. */
export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Removes temp files that an earlier process left behind when it died mid-write (their
 * rename never happened, so they hold nothing acknowledged). Returns the names removed.
 */
export function removeStaleTemps(dir: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = /^\..+\.(\d+)\.\d+\.tmp$/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    fs.rmSync(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * writeFileAtomic with the file given in chunks and every write and fsync done by libuv's
 * threads, so a large zone file does not hold the event loop; the same guarantee: a crash at
 * any point leaves the old or the new content, and the new content is on disk on return.
 */
export async function writeFileAtomicAsync(file: string, chunks: readonly Uint8Array[]): Promise<void> {
  const dir = path.dirname(file);
  await fs.promises.mkdir(dir, { recursive: true });
  const tmp = tempPath(file);
  const handle = await fs.promises.open(tmp, 'w', 0o644);
  try {
    for (const chunk of chunks) {
      // A write may take less than asked (a full disk throws on the next one).
      for (let done = 0; done < chunk.length;) done += (await handle.write(chunk, done)).bytesWritten;
    }
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  const dirHandle = await fs.promises.open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
