/**
 * Large file reads and writes in pieces of at most 1 MiB, for the threads and processes that
 * work beside the answering thread. One read() or write() of hundreds of megabytes stays in
 * the kernel from start to end, copying and faulting in pages; on a kernel that does not
 * preempt kernel code (PREEMPT_NONE, as many servers and VMs run) nothing takes the CPU from
 * it there, whatever the thread's priority. A reload's 1,000,000-record image read in one
 * call held the answering thread off its CPU for 186-210 ms. Between two calls, the CPU goes
 * to whoever waits for it.
 */
import fs from 'node:fs';

export const IO_CHUNK = 1 << 20;

/** `target` filled from `fd` at `position`; throws when the file ends first. */
export function readFully(fd: number, target: Uint8Array, position = 0, what = 'file'): void {
  for (let at = 0; at < target.length;) {
    const n = fs.readSync(fd, target, at, Math.min(IO_CHUNK, target.length - at), position + at);
    if (n === 0) throw new Error(`${what}: ended after ${at} of ${target.length} bytes`);
    at += n;
  }
}

/** A whole file (fs.readFileSync, chunked). */
export function readFileChunked(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    // Read to the end rather than to the size fstat gave: the file may grow meanwhile (a
    // hand edit), as readFileSync also reads what is there.
    for (;;) {
      const chunk = Buffer.allocUnsafe(IO_CHUNK);
      const n = fs.readSync(fd, chunk, 0, IO_CHUNK, null);
      if (n === 0) break;
      chunks.push(n === IO_CHUNK ? chunk : chunk.subarray(0, n));
      total += n;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } finally {
    fs.closeSync(fd);
  }
}

/** All of `bytes` written to `fd` (a write may take less than asked; a full disk throws on the next one). */
export function writeFully(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done, Math.min(IO_CHUNK, bytes.length - done));
}

/** A new file holding `bytes` (fs.writeFileSync, chunked). */
export function writeFileChunked(file: string, bytes: Uint8Array, mode = 0o600): void {
  const fd = fs.openSync(file, 'w', mode);
  try {
    writeFully(fd, bytes);
  } finally {
    fs.closeSync(fd);
  }
}
