/** The scheduling of a process's threads, read from /proc (Linux): for the background process tests. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { statFields } from '../../src/zone/thread-priority.js';

/** Field `n` of proc(5)'s stat of every thread of `pid`. */
function threadField(pid: number, n: number): number[] {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => Number(statFields(`/proc/${pid}/task/${tid}/stat`)?.[n - 3]));
}

/** The nice value of every thread of `pid` (field 19). */
export const threadNices = (pid: number): number[] => threadField(pid, 19);

/** The scheduling policy of every thread of `pid` (field 41: 0 SCHED_OTHER, 5 SCHED_IDLE). */
export const threadPolicies = (pid: number): number[] => threadField(pid, 41);

/** Whether util-linux's chrt is here (without it, nothing goes to SCHED_IDLE). */
export const hasChrt = spawnSync('chrt', ['--version']).status === 0;
