import type net from 'node:net';
import { networkOf } from '../net/ip-format.js';
import { validAddress } from '../net/ip-parse.js';

export interface TcpTableLimits {
  /** Connections open at once over every TCP listener of this process. */
  readonly maxConnections: number;
  /** Connections open at once from one client: one IPv4 address, or one IPv6 /64. */
  readonly maxConnectionsPerClient: number;
  /** The idle timeout while the table is at most half full. */
  readonly idleTimeoutMs: number;
}

/** One admitted connection; `lastActiveMs` moves each time the client sends something. */
export interface TcpConnection {
  readonly socket: net.Socket;
  readonly client: string;
  lastActiveMs: number;
}

/** Under pressure idle connections may be closed this early, never earlier (RFC 7766 §6.2.3). */
const MIN_PRESSURE_IDLE_MS = 500;

/**
 * The TCP connection table of one process, shared by every TCP listener (RFC 7766 §6.2.2,
 * §6.2.3), so one client cannot shut TCP for everyone:
 *
 * - a client (an IPv4 address, or an IPv6 /64, which one host can fill with addresses) holds
 *   at most `maxConnectionsPerClient`; a connection beyond that is closed at once;
 * - above half full, the idle timeout shrinks linearly, to 500 ms when full, and each new
 *   connection closes those idle longer (shorter timeouts under pressure, §6.2.3);
 * - when full, a new client is not refused: the least recently active connection of the
 *   client holding the most is closed to make room.
 *
 * `#all` and each client's set are kept in order of last activity (an entry moves to the end
 * when it is active), so the idlest connection is always the first: every operation is O(1)
 * apart from the connections it closes.
 */
export class TcpConnectionTable {
  readonly #limits: TcpTableLimits;
  readonly #now: () => number;
  readonly #all = new Set<TcpConnection>();
  readonly #byClient = new Map<string, Set<TcpConnection>>();
  /** `#byCount[n]`: the clients holding n connections, so the most-connected is found at once. */
  readonly #byCount: Array<Set<string>> = [];
  #maxCount = 0;

  constructor(limits: TcpTableLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  get size(): number {
    return this.#all.size;
  }

  /** The idle timeout for the table as full as it is now. */
  idleTimeoutMs(): number {
    const { idleTimeoutMs, maxConnections } = this.#limits;
    const used = this.#all.size / maxConnections;
    if (used <= 0.5) return idleTimeoutMs;
    return Math.max(Math.min(idleTimeoutMs, MIN_PRESSURE_IDLE_MS), Math.round(idleTimeoutMs * 2 * (1 - used)));
  }

  /**
   * Takes a new connection into the table, closing others to make room as the policy above
   * says; null when its client already holds its share (the caller closes it).
   */
  admit(socket: net.Socket): TcpConnection | null {
    const client = clientKey(socket.remoteAddress ?? '');
    const mine = this.#byClient.get(client);
    if (mine !== undefined && mine.size >= this.#limits.maxConnectionsPerClient) return null;
    const now = this.#now();
    if (this.#all.size * 2 > this.#limits.maxConnections) this.#closeIdle(now);
    if (this.#all.size >= this.#limits.maxConnections) this.#evict();
    const conn: TcpConnection = { socket, client, lastActiveMs: now };
    this.#all.add(conn);
    const set = mine ?? new Set<TcpConnection>();
    if (mine === undefined) this.#byClient.set(client, set);
    set.add(conn);
    this.#recount(client, set.size - 1, set.size);
    return conn;
  }

  /** The client sent something: the connection is the most recently active now. */
  touch(conn: TcpConnection): void {
    conn.lastActiveMs = this.#now();
    if (!this.#all.delete(conn)) return;
    this.#all.add(conn);
    const set = this.#byClient.get(conn.client)!;
    set.delete(conn);
    set.add(conn);
  }

  /** The connection closed (for whatever reason). */
  remove(conn: TcpConnection): void {
    if (!this.#all.delete(conn)) return;
    const set = this.#byClient.get(conn.client)!;
    set.delete(conn);
    if (set.size === 0) this.#byClient.delete(conn.client);
    this.#recount(conn.client, set.size + 1, set.size);
  }

  /** Closes connections idle longer than the pressure timeout, idlest first. */
  #closeIdle(now: number): void {
    const limit = this.idleTimeoutMs();
    for (const conn of this.#all) {
      if (now - conn.lastActiveMs <= limit) return;
      this.#close(conn);
    }
  }

  /** Frees one slot: the least recently active connection of a client holding the most. */
  #evict(): void {
    const client = this.#byCount[this.#maxCount]?.values().next().value;
    if (client === undefined) return;
    const victim = this.#byClient.get(client)!.values().next().value!;
    this.#close(victim);
  }

  #close(conn: TcpConnection): void {
    // Removed here rather than on 'close', which comes later: the slot is free now.
    this.remove(conn);
    conn.socket.destroy();
  }

  #recount(client: string, from: number, to: number): void {
    if (from > 0) this.#byCount[from]!.delete(client);
    if (to > 0) (this.#byCount[to] ??= new Set()).add(client);
    if (to > this.#maxCount) this.#maxCount = to;
    while (this.#maxCount > 0 && (this.#byCount[this.#maxCount]?.size ?? 0) === 0) this.#maxCount--;
  }
}

/** Who a connection counts against: the IPv4 address, or the IPv6 /64 (a host's usual share). */
export function clientKey(remoteAddress: string): string {
  const a = validAddress(remoteAddress);
  if (a === null) return remoteAddress;
  return a.family === 4 ? a.address : networkOf(a.address, 6, 64);
}
