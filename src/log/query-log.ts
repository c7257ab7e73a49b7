/**
 * The query log: one JSON line per sampled query (fields after dnstap's: time, client
 * address and port, transport, the question, RCODE, flags, answer count, ECS, the steering
 * decision, what rate limiting and cookies made of it, latency). Off by default; when off the
 * responder holds null and pays one test per query.
 *
 * The data plane only formats a sampled line and queues it. Lines go out in batches, one
 * asynchronous write in flight at a time (fs.write runs on libuv's thread pool, so a slow
 * disk or a stalled stdout reader never blocks answering). The queue is bounded: when the
 * sink cannot keep up, new lines are dropped and counted, never held.
 *
 *   queue (≤ maxPending lines) ──every flushMs──▶ one Buffer ──fs.write──▶ file / stdout
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import { rcodeToText, typeToText } from '../dns/constants.js';
import { parseClientSubnet } from '../dns/client-subnet.js';
import { nameToText } from '../dns/name.js';
import { readQuery } from '../dns/query-reader.js';
import type { Decision } from '../steer/decide.js';
import { CookieVerdict } from '../protect/cookies.js';
import { RrlAction } from '../protect/rrl.js';

export interface QueryLogOptions {
  /** A file to append to, or "-" for standard output. */
  readonly path: string;
  /** Share of queries logged, 0..1. */
  readonly sample: number;
  /** Lines queued at most while the sink is busy; more are dropped (and counted). */
  readonly maxPending: number;
  readonly flushMs: number;
}

const RRL_TEXT = ['pass', 'drop', 'slip'] as const;
const COOKIE_TEXT = [null, 'client', 'valid', 'invalid'] as const;
const RETRY_MS = 50;
/** close() waits this long for a sink that does not take the last lines, then gives up on them. */
const CLOSE_TIMEOUT_MS = 2000;

export class QueryLog {
  readonly #o: QueryLogOptions;
  readonly #log: Logger;
  readonly #fd: number;
  readonly #ownFd: boolean;
  #pending: string[] = [];
  /** Bytes of the last write the sink did not take yet (a partial write to a pipe). */
  #carry: Buffer | null = null;
  #writing = false;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #failed = false;
  #idle: (() => void) | null = null;
  /** Lines written, and lines dropped because the queue was full or the sink failed. */
  written = 0;
  dropped = 0;

  /** Opens the file (appending) at once, so a path that cannot be written stops start-up with its name. */
  constructor(o: QueryLogOptions, log: Logger) {
    this.#o = o;
    this.#log = log;
    this.#ownFd = o.path !== '-';
    this.#fd = this.#ownFd ? fs.openSync(o.path, 'a', 0o640) : 1;
  }

  /** Whether to log the query being answered: true for a share `sample` of calls. */
  sampled(): boolean {
    const sample = this.#o.sample;
    return sample >= 1 || (sample > 0 && Math.random() < sample);
  }

  /** Formats and queues one query's line; `out` is null when no answer was sent, `rcode` is the full (extended) RCODE of `out`. */
  add(packet: Buffer, out: Buffer | null, rcode: number, transport: string, client: string, port: number, latencyUs: number, decision: Decision | null, rrl: RrlAction, cookie: CookieVerdict): void {
    if (this.#closed) return;
    if (this.#pending.length >= this.#o.maxPending) {
      this.dropped++;
      return;
    }
    this.#pending.push(formatLine(packet, out, rcode, transport, client, port, latencyUs, decision, rrl, cookie));
    if (this.#timer === null && !this.#writing) this.#timer = setTimeout(() => this.#flush(), this.#o.flushMs);
  }

  #flush(): void {
    this.#timer = null;
    if (this.#writing) return;
    let buf = this.#carry;
    this.#carry = null;
    if (buf === null) {
      if (this.#pending.length === 0) return this.#idle?.();
      const lines = this.#pending;
      this.#pending = [];
      buf = Buffer.from(lines.join(''));
      this.written += lines.length;
    }
    this.#writing = true;
    fs.write(this.#fd, buf, 0, buf.length, null, (err, n) => {
      this.#writing = false;
      // close() gave up on this sink: nothing more goes to it.
      if (this.#closed && this.#idle === null) return;
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          // A non-blocking pipe whose reader is behind: try the same bytes again shortly.
          this.#carry = buf;
          this.#timer = setTimeout(() => this.#flush(), RETRY_MS);
          return;
        }
        const lost = countLines(buf);
        this.written -= lost;
        this.dropped += lost;
        if (!this.#failed) this.#log.error({ err, path: this.#o.path }, 'query log: cannot write; dropping lines until it can');
        this.#failed = true;
      } else if (n < buf.length) {
        this.#carry = buf.subarray(n);
      } else this.#failed = false;
      if (this.#carry !== null || this.#pending.length > 0) this.#timer = setTimeout(() => this.#flush(), this.#closed ? 0 : this.#o.flushMs);
      else this.#idle?.();
    });
  }

  /** Writes what is queued, then closes the file; a sink that takes nothing for CLOSE_TIMEOUT_MS costs its lines, never the shutdown. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => {
      const giveUp = setTimeout(() => {
        this.dropped += this.#pending.length;
        this.#pending = [];
        this.#carry = null;
        if (this.#timer !== null) clearTimeout(this.#timer);
        // A write still blocked on the sink keeps its descriptor: closing it under the write would not unblock it.
        if (this.#writing) {
          this.#idle = null;
          resolve();
        } else this.#idle?.();
      }, CLOSE_TIMEOUT_MS);
      giveUp.unref();
      this.#idle = () => {
        this.#idle = null;
        clearTimeout(giveUp);
        if (this.#ownFd) fs.close(this.#fd, () => resolve());
        else resolve();
      };
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
      if (!this.#writing) this.#flush();
    });
  }
}

function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === 0x0a) n++;
  return n;
}

/** One JSON line. Only sampled queries get here: clarity over speed. */
export function formatLine(packet: Buffer, out: Buffer | null, rcode: number, transport: string, client: string, port: number, latencyUs: number, decision: Decision | null, rrl: RrlAction, cookie: CookieVerdict): string {
  const read = readQuery(packet);
  const q = read.kind === 'query' ? read.query : null;
  const edns = read.kind === 'query' ? read.query.edns : read.kind === 'error' ? read.edns : null;
  let ecs: string | null = null;
  if (edns?.clientSubnet) {
    const parsed = parseClientSubnet(edns.clientSubnet);
    ecs = parsed.ok ? `${parsed.value.address}/${parsed.value.sourcePrefix}` : 'malformed';
  }
  const flags: string[] = [];
  if (out !== null) {
    if (out[2]! & 0x04) flags.push('aa');
    if (out[2]! & 0x02) flags.push('tc');
  }
  if (packet.length >= 4) {
    if (packet[2]! & 0x01) flags.push('rd');
    if (packet[3]! & 0x10) flags.push('cd');
  }
  if (edns?.dnssecOk) flags.push('do');
  const line = {
    time: new Date().toISOString(),
    client,
    port,
    transport,
    id: packet.length >= 2 ? packet.readUInt16BE(0) : null,
    qname: q === null ? null : nameToText(q.labels),
    qtype: q === null ? null : typeToText(q.qtype),
    rcode: out === null ? null : rcodeToText(rcode),
    flags: flags.join(' '),
    answers: out === null ? 0 : out.readUInt16BE(6),
    size: out === null ? 0 : out.length,
    ecs,
    steered:
      decision === null
        ? null
        : { outcome: decision.outcome, targets: decision.targets.map((t) => t.id), regions: [...new Set(decision.targets.map((t) => t.region))], scope: decision.scope },
    rrl: RRL_TEXT[rrl],
    cookie: COOKIE_TEXT[cookie],
    latencyUs: Math.round(latencyUs * 10) / 10,
  };
  return JSON.stringify(line) + '\n';
}
