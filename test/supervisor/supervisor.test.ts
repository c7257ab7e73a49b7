/**
 * The worker supervisor of `serve --workers` and `balance --workers` (src/supervisor/), with
 * real worker processes (test/support/supervised-worker.ts) on loopback sockets: a worker that
 * never becomes ready is reported and killed after the start timeout; one that keeps dying is
 * restarted after a back-off that doubles up to its cap, never at once, and reported as a
 * crash loop; stop leaves no process, killing one that ignores it.
 */
import assert from 'node:assert/strict';
import type { Worker } from 'node:cluster';
import net from 'node:net';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Supervisor, type RestartPolicy } from '../../src/supervisor/supervisor.js';
import fs from 'node:fs';
import { eventually } from '../support/workers.js';

const EXEC = fileURLToPath(new URL('../support/supervised-worker.js', import.meta.url));

interface Line {
  level: number;
  msg: string;
  worker?: number;
  pid?: number;
  restartInMs?: number;
  crashLoop?: boolean;
}

function capture(): { log: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

/** Live processes running the test worker whose parent is this process (from /proc: a `ps` would count itself). */
function workerProcesses(): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === process.pid && fields[0] !== 'Z' && fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('supervised-worker')) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function connectTo(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (data += d));
    s.on('end', () => resolve(data.trim()));
    s.on('error', reject);
  });
}

function supervisor(
  mode: string,
  count: number,
  lines: { log: pino.Logger },
  extra: { startTimeoutMs?: number; stopTimeoutMs?: number; restart?: RestartPolicy; forks?: { slot: number; pid: number; at: number }[] } = {},
): Supervisor<number> {
  process.env.SUPERVISED_MODE = mode;
  return new Supervisor<number>({
    role: 'test worker',
    count,
    exec: EXEC,
    log: lines.log,
    startTimeoutMs: extra.startTimeoutMs ?? 20_000,
    stopTimeoutMs: extra.stopTimeoutMs ?? 10_000,
    ...(extra.restart && { restart: extra.restart }),
    boot: (worker: Worker, slot: number) => {
      extra.forks?.push({ slot, pid: worker.process.pid!, at: Date.now() });
      return new Promise((resolve) => worker.on('message', (m: { kind: string; port: number }) => m.kind === 'ready' && resolve(m.port)));
    },
    requestStop: (worker) => worker.send({ kind: 'stop' }),
  });
}

describe('worker supervisor', () => {
  after(() => {
    delete process.env.SUPERVISED_MODE;
  });

  it('starts N workers, each serving on loopback under its worker id, and stop leaves no process', async () => {
    const { log, lines } = capture();
    const s = supervisor('ready', 3, { log });
    const ports = await s.start().catch(async (err: unknown) => {
      await s.stop();
      throw err;
    });
    const pids = s.pids;
    assert.equal(pids.length, 3);
    assert.deepEqual((await Promise.all(ports.map(connectTo))).sort(), ['0', '1', '2']);
    assert.deepEqual(
      s.status().map((x) => x.ready),
      [true, true, true],
    );
    await s.stop();
    assert.deepEqual(workerProcesses(), [], 'no child left');
    for (const pid of pids) assert.equal(alive(pid), false);
    assert.equal(lines.filter((l) => l.level >= 50).length, 0, 'nothing reported');
  });

  it('a worker that never becomes ready is reported and killed after the start timeout', async () => {
    const { log, lines } = capture();
    const forks: { slot: number; pid: number; at: number }[] = [];
    const s = supervisor('hang', 1, { log }, { startTimeoutMs: 600, forks });
    await assert.rejects(s.start(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'GSLB_ERR_LISTEN_FAILED');
      assert.match(err.message, /test worker 0 \(pid \d+\) was not ready 600 ms after it started; killed/);
      return true;
    });
    const [fork] = forks;
    assert.ok(fork);
    await eventually('killed', async () => !alive(fork.pid));
    assert.ok(
      lines.some((l) => l.level === 50 && l.worker === 0 && l.pid === fork.pid && l.msg.includes('was not ready 600 ms')),
      'reported with its worker id',
    );
    assert.deepEqual(workerProcesses(), []);
    assert.equal(forks.length, 1, 'a failed start is not retried');
  });

  it('a replacement that never becomes ready is killed too, and the slot is retried after the back-off', async () => {
    const { log, lines } = capture();
    const forks: { slot: number; pid: number; at: number }[] = [];
    const s = supervisor('ready', 1, { log }, { startTimeoutMs: 800, forks, restart: { initialMs: 200, maxMs: 400, stableMs: 60_000, crashLoopRestarts: 10, windowMs: 60_000 } });
    await s.start();
    try {
      process.env.SUPERVISED_MODE = 'hang'; // every replacement hangs
      process.kill(s.pids[0]!, 'SIGKILL');
      await eventually('two hanging replacements killed', async () => lines.filter((l) => l.msg.includes('was not ready 800 ms')).length >= 2, 15_000);
      const hung = forks.slice(1, 3);
      for (const f of hung) await eventually(`replacement ${f.pid} killed`, async () => !alive(f.pid));
      await eventually('the third restart', async () => lines.filter((l) => l.restartInMs !== undefined).length >= 3, 5000);
      assert.deepEqual(
        lines
          .filter((l) => l.restartInMs !== undefined)
          .slice(0, 3)
          .map((l) => l.restartInMs),
        [200, 400, 400],
      );
    } finally {
      await s.stop();
    }
    assert.deepEqual(workerProcesses(), []);
  });

  it('a worker that keeps dying is restarted after a doubling back-off up to its cap, never at once, and reported as a crash loop', async () => {
    const { log, lines } = capture();
    const forks: { slot: number; pid: number; at: number }[] = [];
    const s = supervisor('ready', 2, { log }, { forks, restart: { initialMs: 100, maxMs: 400, stableMs: 60_000, crashLoopRestarts: 4, windowMs: 60_000 } });
    await s.start();
    try {
      const steady = s.pids[1]!;
      process.env.SUPERVISED_MODE = 'die';
      process.kill(s.pids[0]!, 'SIGKILL');
      await eventually('six restarts of slot 0', async () => lines.filter((l) => l.worker === 0 && l.restartInMs !== undefined).length >= 6, 20_000);
      const restarts = lines.filter((l) => l.worker === 0 && l.restartInMs !== undefined);
      assert.deepEqual(
        restarts.slice(0, 6).map((l) => l.restartInMs),
        [100, 200, 400, 400, 400, 400],
      );
      assert.deepEqual(
        restarts.slice(0, 6).map((l) => l.crashLoop === true),
        [false, false, false, true, true, true],
      );
      assert.match(restarts[3]!.msg, /test worker 0 is crash-looping: 4 restarts in 60 s/);
      // Each fork of slot 0 came no sooner than the back-off after the one before died (lower bounds only).
      const slot0 = forks.filter((f) => f.slot === 0);
      for (let i = 2; i < Math.min(slot0.length, 6); i++) assert.ok(slot0[i]!.at - slot0[i - 1]!.at >= restarts[i - 1]!.restartInMs!, `fork ${i} waited ${restarts[i - 1]!.restartInMs} ms`);
      assert.equal(s.status()[0]!.crashLooping, true);
      assert.equal(s.status()[1]!.crashLooping, false);
      assert.ok(alive(steady), 'the other slot is untouched');
      assert.equal(forks.filter((f) => f.slot === 1).length, 1);
    } finally {
      await s.stop();
    }
    const count = forks.length;
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(forks.length, count, 'nothing is restarted after stop');
    assert.deepEqual(workerProcesses(), []);
  });

  it('a message sent to a worker that has just died does not take the primary down (EPIPE is logged)', async () => {
    // Found by a CI run: a /metrics scrape right after a worker's SIGKILL wrote to its closed
    // IPC pipe, and the unhandled 'error' event ended the primary and every zone with it.
    const { log, lines } = capture();
    const s = supervisor('ready', 1, { log }, { restart: { initialMs: 100, maxMs: 100, stableMs: 60_000, crashLoopRestarts: 10, windowMs: 60_000 } });
    await s.start();
    try {
      const [worker] = s.workers;
      assert.ok(worker);
      const pid = worker.process.pid!;
      process.kill(pid, 'SIGKILL');
      // Dead for sure, while this loop has not yet seen the pipe close: the send hits EPIPE.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      assert.equal(worker.isConnected(), true);
      worker.send({ kind: 'anything' });
      await eventually('replaced', async () => s.pids.length === 1 && s.pids[0] !== pid, 10_000);
      assert.ok(
        lines.some((l) => l.level === 40 && l.msg.includes('could not send to test worker 0')),
        JSON.stringify(lines.map((l) => l.msg)),
      );
    } finally {
      await s.stop();
    }
    assert.deepEqual(workerProcesses(), []);
  });

  it('stop kills a worker that does not stop when asked, after the stop timeout', async () => {
    const { log, lines } = capture();
    const s = supervisor('stubborn', 2, { log }, { stopTimeoutMs: 500 });
    await s.start();
    const pids = s.pids;
    await s.stop();
    for (const pid of pids) assert.equal(alive(pid), false);
    assert.equal(lines.filter((l) => l.msg.includes('did not stop in 500 ms; killing it')).length, 2);
    assert.deepEqual(workerProcesses(), []);
  });
});
