/** A network namespace a test creates for itself (root only), removed after it and at exit. */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const created = new Set<string>();
const started = new Set<ChildProcess>();
process.on('exit', () => {
  // A process keeps running in a deleted namespace: stop what we started there first.
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const name of created) {
    try {
      execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
});

export interface NetNs {
  readonly name: string;
  /** `ip -n <name> …`: configure the namespace. */
  ip(...args: string[]): Promise<void>;
  /** Runs a command inside the namespace to completion; never rejects (the exit code says). */
  exec(command: string, args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Starts a long-running command inside the namespace. */
  spawn(command: string, args: string[]): ChildProcess;
  remove(): Promise<void>;
}

/** Why namespaces cannot be used here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to create a network namespace';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'needs iproute2 (ip)';
  }
  return null;
}

/** A fresh namespace with its loopback up. */
export async function createNetNs(prefix: string): Promise<NetNs> {
  const name = `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  await run('ip', ['netns', 'add', name]);
  created.add(name);
  const ns: NetNs = {
    name,
    ip: async (...args) => {
      await run('ip', ['-n', name, ...args]);
    },
    exec: (command, args, timeoutMs = 10_000) =>
      new Promise((resolve) => {
        execFile('ip', ['netns', 'exec', name, command, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
          resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
        });
      }),
    spawn: (command, args) => {
      const child = spawn('ip', ['netns', 'exec', name, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      started.add(child);
      child.once('exit', () => started.delete(child));
      return child;
    },
    remove: async () => {
      created.delete(name);
      await run('ip', ['netns', 'delete', name]).catch(() => undefined);
    },
  };
  await ns.ip('link', 'set', 'lo', 'up');
  return ns;
}
