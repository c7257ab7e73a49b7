/** Runs the built CLI as a child process, the way users do. */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from './test-server.js';

export const cliPath = path.join(projectRoot, 'dist/src/cli/main.js');

/** Runs the CLI to completion; `env` replaces the environment when given. */
export function runCli(args: string[], timeoutMs = 20_000, env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(env !== undefined && { env }) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`meridian ${args.join(' ')} did not exit in ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A port free for both UDP and TCP on 127.0.0.1 (bound, then released). */
export async function freePort(): Promise<number> {
  for (;;) {
    const udp = dgram.createSocket('udp4');
    const port = await new Promise<number>((resolve) => udp.bind(0, '127.0.0.1', () => resolve(udp.address().port)));
    const ok = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    udp.close();
    if (ok) return port;
  }
}

/**
 * The ports of the "meridian is serving" log line, for a server started on port 0 (bind 0 and
 * read the port back: a port found free beforehand can be taken by another test before the bind).
 * `dns` is the first listen address's port; `api` null when the admin API is off.
 */
export function servingPorts(output: string): { dns: number; api: number | null } {
  const line = output.split('\n').find((l) => l.includes('"meridian is serving"'));
  const serving = line === undefined ? null : (JSON.parse(line) as { listen?: Array<{ port: number }>; admin?: { port: number } | null });
  const dns = serving?.listen?.[0]?.port;
  if (dns === undefined) throw new Error(`no DNS port in the serving line:\n${output}`);
  return { dns, api: serving?.admin?.port ?? null };
}

/** servingPorts, when the admin API must be on. */
export function servingPortsWithApi(output: string): { dns: number; api: number } {
  const { dns, api } = servingPorts(output);
  if (api === null) throw new Error(`no admin port in the serving line:\n${output}`);
  return { dns, api };
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** SIGTERM, then its exit code (null when a signal ended it). */
  stop(): Promise<number | null>;
}

/** Starts the CLI with `args` and resolves once its output satisfies `ready`; kills it if that takes over `timeoutMs`. */
export function startCli(args: string[], ready: (output: string) => boolean, timeoutMs = 20_000): Promise<RunningCli> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const what = `meridian ${args[0] ?? ''}`;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not start:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (!ready(out)) return;
      clearTimeout(timer); // else it would kill the process timeoutMs after start
      resolve({
        child,
        output: () => out,
        stop: () =>
          new Promise((res) => {
            if (child.exitCode !== null || child.signalCode !== null) return res(child.exitCode);
            child.once('exit', (code) => res(code));
            child.kill('SIGTERM');
          }),
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${out}`));
    });
  });
}

/**
 * Resolves once `child` (a `meridian serve`) logs "meridian is serving", with a getter of all
 * it has written so far; kills it and rejects if it exits first or takes longer than `timeoutMs`.
 */
export function untilServing(child: ChildProcess, timeoutMs = 15_000): Promise<() => string> {
  let out = '';
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`meridian serve exited with ${code}:\n${out}`));
    };
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      child.kill('SIGKILL');
      reject(new Error(`meridian serve did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('meridian is serving')) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(() => out);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Starts `meridian serve` and resolves once it logs that it is serving (or rejects after `timeoutMs`). */
export function startCliServer(args: string[], timeoutMs = 20_000): Promise<RunningCli> {
  // No admin API unless asked: its default port would collide between tests.
  const admin = args.includes('--admin') || args.includes('-a') ? [] : ['--admin', 'off'];
  return startCli(['serve', ...admin, ...args], (out) => out.includes('meridian is serving'), timeoutMs);
}

/** A temp copy of a folder, removed by the returned function. */
export function tempCopy(dir: string): { dir: string; remove: () => void } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-test-'));
  fs.cpSync(dir, tmp, { recursive: true });
  return { dir: tmp, remove: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

/** Polls `probe` (every 50 ms) until it gives a value other than null; throws, naming `what`, after `timeoutMs`. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
