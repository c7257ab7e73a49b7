/**
 * A reference daemon (knotd, unbound) run under a guardian shell that holds our end of a
 * pipe: when the pipe closes (stop(), or this process dying even by SIGKILL) the guardian
 * stops the daemon, so none outlives the test run. The daemon's temp folder goes with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface GuardedDaemon {
  /** Everything the guardian and the daemon printed so far. */
  readonly output: () => string;
  readonly exited: () => boolean;
  readonly pid: number;
  /** Closes the pipe, SIGKILLs what is left after 3 s, removes the folder; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Runs `guardian` (sh -c) with `args`, owning `dir`. `killDaemon` is called wherever the
 * guardian is SIGKILLed, for a daemon that would survive it (it reads the daemon's pid from
 * the output, say).
 */
export function startGuarded(guardian: string, args: readonly string[], dir: string, killDaemon: (output: string) => void = () => {}): GuardedDaemon {
  let out = '';
  const child: ChildProcess = spawn('/bin/sh', ['-c', guardian, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin!.on('error', () => {}); // EPIPE once the guardian is gone
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => ((exited = true), resolve()));
    child.once('error', (err) => {
      out += `\nspawn error: ${err.message}`;
      exited = true;
      resolve();
    });
  });
  const kill = (): void => {
    if (exited) return;
    killDaemon(out);
    child.kill('SIGKILL');
  };
  // If this process ends without stop() (a crash, process.exit), take the daemon and the folder with it.
  const onExit = (): void => {
    kill();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  let stopped = false;
  return {
    output: () => out,
    exited: () => exited,
    pid: child.pid ?? -1,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', onExit);
      if (!exited) {
        child.stdin!.end(); // the guardian stops the daemon (SIGTERM) and waits for it
        const killer = setTimeout(kill, 3000);
        await exit;
        clearTimeout(killer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
