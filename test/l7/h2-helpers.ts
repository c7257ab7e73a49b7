/** HTTP/2 clients for the l7 tests: node's (well-formed requests) and a raw frame writer (what node's refuses to send). */
import type http2 from 'node:http2';
import net from 'node:net';

export interface H2Reply {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: string;
  readonly trailers: http2.IncomingHttpHeaders | null;
  /** RST_STREAM code when the stream was reset instead of answered. */
  readonly rstCode: number;
}

/** One request on `session`; resolves with the answer, or the reset code when the stream was reset. */
export function h2request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string | Buffer): Promise<H2Reply> {
  return new Promise((resolve) => {
    const stream = session.request({ ':path': '/', ...headers }, { endStream: body === undefined });
    let status = 0;
    let got: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | null = null;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      got = h;
      status = Number(h[':status']);
    });
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.on('close', () => resolve({ status, headers: got, body: Buffer.concat(chunks).toString(), trailers, rstCode: stream.rstCode ?? 0 }));
    if (body !== undefined) stream.end(body);
  });
}

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** One HTTP/2 frame (RFC 9113 §4.1). */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, GOAWAY: 7, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 1, END_HEADERS: 4 } as const;

/** An HPACK integer with an n-bit prefix (RFC 7541 §5.1). */
function hpackInt(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A header block of literal fields without indexing and without Huffman coding: any name, any value. */
export function hpack(fields: readonly (readonly [string, string])[]): Buffer {
  const bytes: number[] = [];
  for (const [name, value] of fields) {
    bytes.push(0);
    bytes.push(...hpackInt(Buffer.byteLength(name), 7, 0), ...Buffer.from(name));
    bytes.push(...hpackInt(Buffer.byteLength(value), 7, 0), ...Buffer.from(value));
  }
  return Buffer.from(bytes);
}

/** A raw HTTP/2 connection: the frames the server sends back are parsed as they come. */
export class RawH2 {
  readonly socket: net.Socket;
  readonly frames: { type: number; flags: number; streamId: number; payload: Buffer }[] = [];
  closed = false;
  private buf = Buffer.alloc(0);

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 9) {
        const len = this.buf.readUIntBE(0, 3);
        if (this.buf.length < 9 + len) break;
        this.frames.push({ type: this.buf[3]!, flags: this.buf[4]!, streamId: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) });
        this.buf = this.buf.subarray(9 + len);
      }
    });
    this.socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
  }

  send(...frames: Buffer[]): boolean {
    return this.socket.write(Buffer.concat(frames));
  }

  /** The error code of the GOAWAY the server sent, if any. */
  goaway(): number | null {
    const g = this.frames.find((f) => f.type === FRAME.GOAWAY);
    return g === undefined ? null : g.payload.readUInt32BE(4);
  }

  /** The RST_STREAM code the server sent on `streamId`, if any. */
  reset(streamId: number): number | null {
    const r = this.frames.find((f) => f.type === FRAME.RST_STREAM && f.streamId === streamId);
    return r === undefined ? null : r.payload.readUInt32BE(0);
  }

  /** Whether the server answered `streamId` with HEADERS. */
  answered(streamId: number): boolean {
    return this.frames.some((f) => f.type === FRAME.HEADERS && f.streamId === streamId);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A request's header block: the four pseudo-headers, then `extra`. */
export function requestBlock(extra: readonly (readonly [string, string])[] = [], path = '/'): Buffer {
  return hpack([[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', 'localhost'], ...extra]);
}
