/** A worker thread's niceness, for the threads that work beside the answering one. */
import fs from 'node:fs';
import os from 'node:os';

/**
 * The calling thread `niceness` levels below where it was (Linux: a thread id is a pid to
 * setpriority); nothing elsewhere, or when not allowed: the work still gets done, less politely.
 */
export function lowerThreadPriority(niceness: number): void {
  try {
    const tid = Number(/task\/(\d+)$/.exec(fs.readlinkSync('/proc/thread-self'))?.[1]);
    if (tid > 0) os.setPriority(tid, Math.min(19, os.getPriority(tid) + niceness));
  } catch {
    // not Linux, or not allowed
  }
}
