/** A worker thread's niceness, for the threads that work beside the answering one. */
import { execFileSync } from 'node:child_process';
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

/**
 * Every thread of this process in SCHED_IDLE (Linux, with util-linux's `chrt`): it runs when a
 * CPU would otherwise idle, and any other thread that wakes takes the CPU from it at once. A
 * thread 10 nice levels down may first finish its time slice: with a 1,000,000-record
 * reload building beside it on the server's one CPU, the answering thread's p99 was 17-19 ms
 * at nice +10 and 6 ms with SCHED_IDLE. Threads started later inherit it. False where it
 * could not be done (the threads keep their nice values). Such a process can starve on a host
 * with no idle CPU: its parent watches for that (BackgroundProcess's `starvation`).
 */
export function idleEveryThread(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    execFileSync('chrt', ['--all-tasks', '--idle', '--pid', '0', String(process.pid)], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * The fields of a /proc `stat` file (`/proc/PID/stat`, `/proc/PID/task/TID/stat`) from the
 * third on (state), so field N of proc(5) is at N - 3; null when it cannot be read. Read past
 * the last ')': the command name may hold spaces and parentheses.
 */
export function statFields(file: string): string[] | null {
  try {
    const stat = fs.readFileSync(file, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The CPU time `pid` has used, in ms (Linux /proc; utime + stime at 100 ticks a second), or null. */
export function cpuMsOf(pid: number): number | null {
  const fields = statFields(`/proc/${pid}/stat`);
  return fields === null ? null : (Number(fields[14 - 3]) + Number(fields[15 - 3])) * 10;
}
