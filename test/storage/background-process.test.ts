/**
 * BackgroundProcess's starvation watch: a child in SCHED_IDLE gets no CPU on a host whose
 * CPUs are all busy, and its job (a reload) would wait for ever. The watch sees a running job's
 * child use (almost) no CPU over a window, replaces it with one started without `--idle`, and
 * the job runs there. The test starves the child with SIGSTOP, which the scheduler cannot undo.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { BackgroundProcess } from '../../src/storage/background-process.js';

const ENTRY = fileURLToPath(new URL('../support/background-child.js', import.meta.url));

type Reply = { pid: number; policy: number } | { died: string };

describe('background process starvation watch', { skip: process.platform === 'linux' ? false : 'needs Linux /proc' }, () => {
  it('a child that gets no CPU while its job runs is replaced by one started with the fallback arguments, which runs the job', async () => {
    const starved: Array<[number, number]> = [];
    const exited: string[][] = [];
    const bg = new BackgroundProcess<{ spinMs: number }, Reply>('test', ENTRY, [], (died) => ({ died }), {
      args: () => ['--idle'],
      starvation: { windowMs: 500, minShare: 0.05, fallbackArgs: () => [], warning: 'starved', onStarved: (cpuMs, windowMs) => starved.push([cpuMs, windowMs]) },
      onExit: (args) => exited.push([...args]),
    });
    try {
      const warned: string[] = [];
      const first = bg.start({ warn: (_: unknown, msg?: string) => void warned.push(msg ?? '') }).pid!;
      const job = bg.run({ spinMs: 100 }, true);
      process.kill(first, 'SIGSTOP');
      const reply = await job;
      assert.ok('pid' in reply, JSON.stringify(reply));
      assert.equal(starved.length, 1, 'the watch saw the starved child once');
      assert.deepEqual(warned, ['starved'], 'and said so in the log given to start()');
      assert.ok(starved[0]![0] < 25, `it had used ${starved[0]![0]} ms of CPU`);
      assert.notEqual(reply.pid, first, 'the job ran in a new child');
      assert.equal(reply.policy, 0, 'started without --idle: SCHED_OTHER');
      assert.deepEqual(exited, [['--idle']], 'the starved child was killed, and its arguments given for its clean-up');
      // Later jobs stay in the new child, and a busy one is not taken for starved.
      const again = await bg.run({ spinMs: 1200 }, true);
      assert.ok('pid' in again && again.pid === reply.pid, JSON.stringify(again));
      assert.equal(starved.length, 1);
    } finally {
      const pid = bg.pid;
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
    }
  });

  it('a child that uses no CPU because it sleeps (waiting for a disk or a pipe) is not taken for starved', async () => {
    const starved: number[] = [];
    const bg = new BackgroundProcess<{ spinMs: number; sleepMs: number }, Reply>('test', ENTRY, [], (died) => ({ died }), {
      args: () => ['--idle'],
      starvation: { windowMs: 300, minShare: 0.05, fallbackArgs: () => [], warning: 'starved', onStarved: (cpuMs) => starved.push(cpuMs) },
    });
    try {
      const first = bg.start().pid!;
      const reply = await bg.run({ spinMs: 0, sleepMs: 1500 }, true);
      assert.ok('pid' in reply, JSON.stringify(reply));
      assert.deepEqual(starved, []);
      assert.equal(reply.pid, first, 'the same child finished the job');
    } finally {
      const pid = bg.pid;
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
    }
  });
});
