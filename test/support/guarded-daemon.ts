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

/**
 * The guardian for a daemon started as `"$1" [flags] -c "$2"` owning folder "$3": it prints
 * `meridian-<tag>-pid N` (daemonPid reads it), stops the daemon when our end of its stdin
 * closes, removes the folder, and exits with the daemon's status. `flags`: fixed options
 * before -c (NSD's -d, to stay in the foreground).
 */
export function configDaemonGuardian(tag: string, flags = ''): string {
  return [
    'exec 3<&0',
    `"$1" ${flags ? `${flags} ` : ''}-c "$2" </dev/null & k=$!`,
    `echo "meridian-${tag}-pid $k" >&2`,
    '( read line <&3; kill $k 2>/dev/null ) & w=$!',
    'wait $k; status=$?',
    'kill $w 2>/dev/null',
    'rm -rf "$3"',
    'exit $status',
  ].join('\n');
}

/** The daemon's pid a configDaemonGuardian(tag) printed, or null before it has. */
export function daemonPid(output: string, tag: string): number | null {
  const m = new RegExp(`meridian-${tag}-pid (\\d+)`).exec(output);
  return m ? Number(m[1]) : null;
}
