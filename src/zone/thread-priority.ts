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

/**
 * Every thread of this process lowered: `to` a niceness, or `by` some levels. For a child
 * process of background work: on Linux nice is per thread, and V8 started its threads (the
 * collector's helpers among them) before any of our code ran.
 */
export function lowerEveryThread(how: { readonly to: number } | { readonly by: number }): void {
  let tasks: string[];
  try {
    tasks = fs.readdirSync('/proc/self/task');
  } catch {
    tasks = ['0']; // not Linux: the process, which its threads share
  }
  for (const tid of tasks) {
    try {
      const now = os.getPriority(Number(tid));
      os.setPriority(Number(tid), Math.max(now, Math.min(19, 'to' in how ? how.to : now + how.by)));
    } catch {
      // gone, or not permitted: it runs at the server's priority
    }
  }
}
