import { isIP } from 'node:net';
import { ErrorCode, GslbError } from '../errors.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** "127.0.0.1:5300", "[::1]:5300" → host, port, family. Port 0 asks the OS for a free one. */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const fail = (why: string): never => {
    throw new GslbError(ErrorCode.GSLB_ERR_LISTEN_ADDRESS_INVALID, `listen address "${text}": ${why}; write ADDR:PORT, e.g. 127.0.0.1:5300 or [::1]:5300`);
  };
  if (!m) return fail('not of the form ADDR:PORT');
  const host = m[1]!;
  const port = Number(m[2]);
  const family = isIP(host);
  if (family === 0) return fail(`"${host}" is not an IP address`);
  if (!Number.isInteger(port) || port > 65535) return fail(`port ${m[2]} is out of range`);
  return { host, port, family: family as 4 | 6 };
}

export function formatListenAddress(a: { host: string; port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** 127.0.0.0/8 and ::1: addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === '::1' || host.startsWith('127.');
}

/** 0.0.0.0 and ::: every address of the family this machine has (see DnsServer). */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}
