/**
 * A child for test/storage/background-process.test.ts: `--idle` puts it in SCHED_IDLE; each message {spinMs} burns that much CPU (and {sleepMs} then sleeps that
 * long, as a child waiting for a disk would) and replies with its pid and the scheduling policy of its main thread (0 SCHED_OTHER, 5 SCHED_IDLE).
 */
import { idleEveryThread, statFields } from '../../src/zone/thread-priority.js';

if (process.argv.includes('--idle')) idleEveryThread();
process.on('disconnect', () => process.exit(0));

/** Field 41 of /proc/self/stat: the scheduling policy. */
const policy = (): number => Number(statFields('/proc/self/stat')?.[41 - 3]);

process.on('message', (m: { spinMs: number; sleepMs?: number }) => {
  let used = 0;
  const start = process.cpuUsage();
  while (used < m.spinMs * 1000) {
    const u = process.cpuUsage(start);
    used = u.user + u.system;
  }
  setTimeout(() => process.send!({ pid: process.pid, policy: policy() }), m.sleepMs ?? 0);
});
