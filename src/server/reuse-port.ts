import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import { ErrorCode, GslbError } from '../errors.js';
import { interfaceAddresses, type InterfaceTable } from './interface-addresses.js';
import { formatListenAddress, isWildcardHost, type ListenAddress } from '../net/listen-address.js';

/**
 * Why SO_REUSEPORT sockets cannot spread queries here, or null when they can. Linux hashes
 * each datagram and connection over the sockets of a group; other systems either lack the
 * option in Node or give everything to one socket (macOS), which is no better than sharing.
 */
export function reusePortUnsupported(platform: string = process.platform, version: string = process.versions.node): string | null {
  if (platform !== 'linux') return `the kernel of ${platform} does not spread queries over SO_REUSEPORT sockets`;
  // dgram's reusePort came in Node 22.12 and 23.1; older versions ignore the option, and the
  // second worker's bind would then fail with EADDRINUSE.
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < 22 || (major === 22 && minor < 12) || (major === 23 && minor < 1)) return `Node.js ${version} has no reusePort for UDP (22.12 or later needed)`;
  return null;
}

/** `dns.reusePort` turned into a yes or no for this run; `on` where it cannot work is an error naming the field. */
export function resolveReusePort(setting: 'auto' | 'on' | 'off', workers: number, why: string | null = reusePortUnsupported()): boolean {
  if (workers <= 1 || setting === 'off') return false;
  if (why === null) return true;
  if (setting === 'on') throw new GslbError(ErrorCode.GSLB_ERR_CONFIG_INVALID, `dns.reusePort: "on" but ${why}; set it to "auto" or "off"`);
  return false;
}

/** A UDP socket and TCP listener holding a port for the workers, as members of their SO_REUSEPORT group. */
interface Hold {
  readonly udp: dgram.Socket;
  readonly tcp: net.Server;
}

/**
 * What the primary does before the workers bind with reusePort.
 *
 * Port 0 would give each worker a different port: the primary picks one first. It binds a UDP
 * socket and a TCP listener with reusePort on port 0 of each such address (a wildcard's: of
 * its first interface address, as DnsServer does) and keeps them until a worker listens,
 * so the port cannot fall free in between. Linux lets a socket join a SO_REUSEPORT group only
 * from the same user and with the option set, so no other user's process can take or share
 * the port meanwhile. These sockets answer nothing; the port is told to nobody before the
 * workers are up, and release() closes them as soon as one worker listens (a datagram or
 * connection that found them in between is dropped or reset).
 *
 * A named address with its port given is first bound without reusePort, and refused when
 * that fails: a second meridian started by mistake (or anything of the same user in a
 * SO_REUSEPORT group there) would otherwise join the group silently and take a share of the
 * queries, where without reusePort it gets EADDRINUSE. It is then held the same way.
 * (A wildcard's addresses are not checked: one another daemon holds is left to it, as before.)
 */
export class PortReservation {
  readonly #holds: Hold[] = [];
  /** The listen addresses with every port 0 replaced by the one picked, in the order given. */
  readonly addresses: readonly ListenAddress[];

  private constructor(addresses: readonly ListenAddress[]) {
    this.addresses = addresses;
  }

  static async reserve(addresses: readonly ListenAddress[], interfaces: () => InterfaceTable = os.networkInterfaces): Promise<PortReservation> {
    const r = new PortReservation([]);
    const resolved: ListenAddress[] = [];
    try {
      for (const a of addresses) {
        const wildcard = isWildcardHost(a.host);
        if (a.port !== 0 && wildcard) {
          resolved.push(a);
          continue;
        }
        const host = wildcard ? interfaceAddresses(a.family, interfaces())[0] : a.host;
        if (host === undefined) throw reserveFailed(a, new Error(`this machine has no IPv${a.family} address`));
        if (a.port !== 0)
          await assertFree(a).catch((err: unknown) => {
            throw reserveFailed(a, err);
          });
        resolved.push({
          ...a,
          port: await r.#hold({ ...a, host }).catch((err: unknown) => {
            throw reserveFailed(a, err);
          }),
        });
      }
    } catch (err) {
      await r.release();
      throw err;
    }
    return Object.assign(r, { addresses: resolved });
  }

  /** Binds UDP on the port (0: any), then TCP on the port UDP got (port 0 is tried a few times: TCP may find it taken). */
  async #hold(a: ListenAddress): Promise<number> {
    let lastError: unknown;
    for (let i = 0; i < (a.port === 0 ? 5 : 1); i++) {
      const pair = await bindPair(a, true).catch((err: unknown) => {
        lastError = err;
        return null;
      });
      if (pair === null) continue;
      this.#holds.push(pair);
      return pair.udp.address().port;
    }
    throw lastError;
  }

  /** Closes the reserving sockets (the workers hold the ports now). */
  async release(): Promise<void> {
    await Promise.all(this.#holds.splice(0).map(closePair));
  }
}

/** A UDP socket on the address (port 0: any) and a TCP listener on the port it got; rejects, with nothing left open, when either cannot bind. */
async function bindPair(a: ListenAddress, reusePort: boolean): Promise<Hold> {
  const udp = dgram.createSocket({ type: a.family === 6 ? 'udp6' : 'udp4', ipv6Only: a.family === 6, reusePort });
  const port = await new Promise<number>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind({ port: a.port, address: a.host, exclusive: true }, () => resolve(udp.address().port));
  }).catch((err: unknown) => {
    udp.close();
    throw err;
  });
  const tcp = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen({ port, host: a.host, ipv6Only: a.family === 6, reusePort, exclusive: true }, () => resolve());
  }).catch((err: unknown) => {
    udp.close();
    throw err;
  });
  return { udp, tcp };
}

function closePair(h: Hold): Promise<unknown> {
  return Promise.all([new Promise<void>((resolve) => h.udp.close(() => resolve())), new Promise<void>((resolve) => h.tcp.close(() => resolve()))]);
}

/** Rejects when the port is held already, by anyone: the workers' reusePort binds would not notice another group member. */
async function assertFree(a: ListenAddress): Promise<void> {
  const pair = await bindPair(a, false).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    throw code === 'EADDRINUSE' ? new Error(`${code}: the port is in use already (another meridian, or a daemon with SO_REUSEPORT would share it silently)`) : err;
  });
  await closePair(pair);
}

function reserveFailed(address: ListenAddress, err: unknown): GslbError {
  return new GslbError(ErrorCode.GSLB_ERR_LISTEN_FAILED, `cannot pick a port for ${formatListenAddress(address)}: ${(err as Error)?.message ?? 'unknown error'}`);
}
