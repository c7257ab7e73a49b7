/**
 * Entry of the AXFR thread (a worker_thread, see axfr-threads.ts): walks a zone's packed
 * nodes (the shared buffer the answering thread serves, not a copy) with the written delta
 * over them, and encodes the messages of an AXFR, so that a transfer of a large zone costs
 * the answering thread only the socket writes. Messages go back a window at a time, as the
 * answering thread asks for them (it asks when the secondary's connection has room).
 */
import { parentPort } from 'node:worker_threads';
import { MessageWriter } from '../dns/message-writer.js';
import { readQuery } from '../dns/query-reader.js';
import type { PackedImage } from '../zone/packed-nodes.js';
import { lowerThreadPriority } from '../zone/thread-priority.js';
import { ZoneNodes } from '../zone/zone-nodes.js';
import { decodeNodes, type NodeChunk } from '../zone/zone-transfer.js';
import type { ZoneNode } from '../zone/zone.js';
import { axfrRecords, fromPlain, transferMessages, type PlainSet } from './messages.js';

export type AxfrRequest =
  | {
      readonly kind: 'start';
      readonly id: number;
      readonly packet: Uint8Array;
      readonly image: PackedImage;
      readonly set: readonly NodeChunk[];
      readonly removed: readonly string[];
      readonly originKey: string;
      readonly soa: PlainSet;
      readonly steered: readonly string[];
      readonly fallback: readonly PlainSet[];
    }
  /** The next window of messages, written into `buffer` (one that came back written) or a new one. */
  | { readonly kind: 'more'; readonly id: number; readonly count: number; readonly buffer: ArrayBuffer | null }
  | { readonly kind: 'cancel'; readonly id: number };

export type AxfrReply =
  /** Messages framed for TCP (RFC 1035 §4.2.2: a 2-byte length before each), back to back in `buffer`; `lengths` without the framing. */
  | { readonly kind: 'messages'; readonly id: number; readonly buffer: ArrayBuffer; readonly lengths: number[]; readonly done: boolean }
  | { readonly kind: 'failed'; readonly id: number; readonly error: string };

/**
 * As far below the answering thread as the reload thread: on one CPU the answering thread
 * must not wait out this one's time slices.
 */
const AXFR_THREAD_NICENESS = 10;
lowerThreadPriority(AXFR_THREAD_NICENESS);

const writer = new MessageWriter();
const transfers = new Map<number, Generator<Buffer>>();

function start(m: Extract<AxfrRequest, { kind: 'start' }>): Generator<Buffer> {
  const packet = Buffer.from(m.packet.buffer, m.packet.byteOffset, m.packet.byteLength);
  const read = readQuery(packet);
  if (read.kind !== 'query') throw new Error('the transfer query cannot be read');
  let nodes = ZoneNodes.fromImage(m.image);
  if (m.set.length > 0 || m.removed.length > 0) {
    const changes = new Map<string, ZoneNode | null>();
    for (const chunk of m.set) decodeNodes(chunk, (key, node) => changes.set(key, node));
    for (const key of m.removed) changes.set(key, null);
    nodes = nodes.with(changes);
  }
  const records = axfrRecords({ soa: fromPlain(m.soa), originKey: m.originKey, nodes: nodes.entriesFrom(null), steered: new Set(m.steered), fallback: m.fallback.map(fromPlain) });
  return transferMessages(writer, packet, read.query, records);
}

function* startOrFail(m: Extract<AxfrRequest, { kind: 'start' }>): Generator<Buffer> {
  yield* start(m);
}

/**
 * Room for a window: each message is at most 64 KB and its framing. The buffers go back and
 * forth between the threads (transferred, never copied), so a transfer of any size uses the
 * same few of them: a new buffer per message made the answering thread's collector run full
 * collections for the external memory it had to free, tens of ms each on a 1M-record zone.
 */
function windowBytes(count: number): number {
  return count * (2 + 65535);
}

function more(id: number, count: number, buffer: ArrayBuffer | null): void {
  const messages = transfers.get(id);
  if (messages === undefined) throw new Error('no such transfer');
  const out = buffer !== null && buffer.byteLength >= windowBytes(count) ? buffer : new ArrayBuffer(windowBytes(count));
  const bytes = new Uint8Array(out);
  const lengths: number[] = [];
  let at = 0;
  let done = false;
  while (lengths.length < count) {
    const next = messages.next();
    if (next.done) {
      done = true;
      break;
    }
    bytes[at] = next.value.length >> 8;
    bytes[at + 1] = next.value.length & 0xff;
    bytes.set(next.value, at + 2);
    at += 2 + next.value.length;
    lengths.push(next.value.length);
  }
  if (done) transfers.delete(id);
  const reply: AxfrReply = { kind: 'messages', id, buffer: out, lengths, done };
  parentPort!.postMessage(reply, [out]);
}

parentPort!.on('message', (m: AxfrRequest) => {
  try {
    // A start that fails is told at the first ask for messages, the one the other side waits on.
    if (m.kind === 'start') transfers.set(m.id, startOrFail(m));
    else if (m.kind === 'more') more(m.id, m.count, m.buffer);
    else transfers.delete(m.id);
  } catch (err) {
    transfers.delete(m.id);
    const reply: AxfrReply = { kind: 'failed', id: m.id, error: err instanceof Error ? err.message : String(err) };
    parentPort!.postMessage(reply);
  }
});
