/**
 * The access log (`accessLog`): one JSON line per sampled request, with the fields HAProxy's
 * and Envoy's logs carry, written through the same bounded, asynchronous sink as the DNS query
 * log (../log/line-sink.ts): a slow sink costs dropped lines (counted), never a request.
 * Off by default; when off the request path holds null and pays one test per request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { LineSink, type LineSinkOptions } from '../log/line-sink.js';
import { requestClient } from './forwarding.js';

/** What the request path tells the log about one request; the rest is read from req and res at the end. */
export interface AccessEntry {
  /** "pool/id" of the last backend tried. */
  backend: string | null;
  /** Time to the backend's response header on the last attempt. */
  upstreamMs: number | null;
  /** Attempts after the first. */
  retries: number;
  /** Set when the end cannot be read off the response (a backend that cut its body). */
  termination: string | null;
}

/** Per connection: the byte counters where the previous request on it ended. */
interface Marks {
  read: number;
  written: number;
}

export class AccessLog extends LineSink {
  readonly #marks = new WeakMap<Socket, Marks>();

  constructor(
    o: LineSinkOptions,
    log: Logger,
    private readonly trustedHops: () => number,
  ) {
    super(o, log, 'access log');
  }

  /**
   * Called as a request arrives: the entry to fill when this request is sampled, else null.
   * Every request closes its connection's byte marks, so a sampled one counts its own bytes.
   */
  begin(req: IncomingMessage, res: ServerResponse): AccessEntry | null {
    const socket = req.socket;
    const sampled = this.sampled();
    if (!sampled) {
      res.once('close', () => this.#mark(socket));
      return null;
    }
    const started = performance.now();
    const time = new Date();
    const target = req.url ?? '/';
    const entry: AccessEntry = { backend: null, upstreamMs: null, retries: 0, termination: null };
    res.once('close', () => {
      const prev = this.#marks.get(socket);
      const bytesIn = socket.bytesRead - (prev?.read ?? 0);
      const bytesOut = socket.bytesWritten - (prev?.written ?? 0);
      this.#mark(socket);
      if (!this.room()) return;
      const error = res.getHeader('x-meridian-error');
      const code = typeof error === 'string' ? error : null;
      const line = {
        time: time.toISOString(),
        client: requestClient(req, this.trustedHops()),
        peer: socket.remoteAddress ?? null,
        peerPort: socket.remotePort ?? null,
        method: req.method ?? null,
        host: req.headers.host ?? null,
        path: target,
        upstreamPath: req.url !== target ? (req.url ?? null) : undefined,
        protocol: `HTTP/${req.httpVersion}`,
        status: res.headersSent ? res.statusCode : 0,
        bytesIn,
        bytesOut,
        backend: entry.backend,
        upstreamMs: entry.upstreamMs === null ? null : round(entry.upstreamMs),
        totalMs: round(performance.now() - started),
        retries: entry.retries,
        termination: entry.termination ?? (res.writableFinished ? (code === null ? 'ok' : terminationOf(code)) : 'client-abort'),
        error: code,
        userAgent: req.headers['user-agent'] ?? null,
      };
      this.push(JSON.stringify(line) + '\n');
    });
    return entry;
  }

  #mark(socket: Socket): void {
    const m = this.#marks.get(socket);
    if (m === undefined) this.#marks.set(socket, { read: socket.bytesRead, written: socket.bytesWritten });
    else {
      m.read = socket.bytesRead;
      m.written = socket.bytesWritten;
    }
  }
}

/** The balancer's own answer as a termination reason: "L7_RATE_LIMITED" → "rate-limited". */
function terminationOf(code: string): string {
  return code.replace(/^L7_/, '').toLowerCase().replaceAll('_', '-');
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
