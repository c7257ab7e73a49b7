import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes a file so that a crash at any point leaves either the old or the new content:
 * temp file in the same folder, fsync, rename over the target, fsync the folder.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDir(dir);
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
