/** Test helpers for the probes: real loopback servers, spec builders, leak checks, a throwaway cert. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { BalancerProbeSpec, HttpProbeSpec, TcpProbeSpec } from '../../../src/health/types.js';

const common = { intervalSec: 5, timeoutMs: 1000, rise: 1, fall: 1, jitterMs: 0 };

export function httpSpec(port: number, over: Partial<HttpProbeSpec> = {}): HttpProbeSpec {
  return { ...common, type: 'http', port, method: 'GET', path: '/', expect: [[200, 399]], headers: {}, verifyTls: true, ...over };
}

export function tcpSpec(port: number, over: Partial<TcpProbeSpec> = {}): TcpProbeSpec {
  return { ...common, type: 'tcp', port, ...over };
}

export function balancerSpec(port: number, over: Partial<BalancerProbeSpec> = {}): BalancerProbeSpec {
  return { ...common, type: 'balancer', port, path: '/healthz', https: false, verifyTls: true, ...over };
}

/** A signal that never aborts. */
export const never = new AbortController().signal;

/** Listens on host:port (0: any free port) and returns the port. */
export function listen(server: Server, host = '127.0.0.1', port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** Closes an HTTP server at once, dropping its keep-alive and in-flight connections. */
export async function stopHttp(server: HttpServer | null): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * Closes the server and requires it to close promptly. `close` waits for open connections,
 * so a probe that left its socket open makes this fail.
 */
export async function closeServer(server: Server, withinMs = 1000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise<void>((resolve) => server.close(() => resolve())),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`server still has connections after ${withinMs} ms: a probe leaked its socket`)), withinMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Waits until the process holds no TCP/TLS handles (sockets are released a tick after destroy). */
export async function assertNoSockets(withinMs = 500): Promise<void> {
  const open = (): string[] => process.getActiveResourcesInfo().filter((r) => /TCP|TLS/.test(r));
  const deadline = Date.now() + withinMs;
  while (open().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(open(), [], 'lingering sockets');
}

/** Whether ::1 can be bound here. */
export async function ipv6Available(): Promise<boolean> {
  const { createServer } = await import('node:net');
  const server = createServer();
  try {
    await listen(server, '::1');
    await closeServer(server);
    return true;
  } catch {
    return false;
  }
}

export interface TestCert {
  readonly key: Buffer;
  readonly cert: Buffer;
}

/** A self-signed cert for localhost and 127.0.0.1, made with openssl in a temp dir that is removed. */
export function selfSignedCert(): TestCert {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-probe-cert-'));
  try {
    const keyPath = path.join(dir, 'key.pem');
    const certPath = path.join(dir, 'cert.pem');
    execFileSync(
      '/usr/bin/openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '1'],
      { stdio: 'ignore' },
    );
    return { key: fs.readFileSync(keyPath), cert: fs.readFileSync(certPath) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
