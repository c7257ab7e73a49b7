/**
 * The answering thread's side of the AXFR thread (axfr-thread.ts): starts it on the first
 * transfer, hands it a zone version (its packed base, shared, and the delta written since,
 * encoded) and takes the messages back a window at a time. A thread that dies fails the
 * transfers in progress; the next transfer starts a new one.
 */
import { Worker } from 'node:worker_threads';
import type { SectionEntry } from '../resolve/resolution.js';
import type { ZoneNodes } from '../zone/zone-nodes.js';
import { chunkBuffers, encodeNodes, type NodeChunk } from '../zone/zone-transfer.js';
import type { AxfrReply, AxfrRequest } from './axfr-thread.js';
import { toPlain } from './messages.js';

/** Messages asked for at a time: 8 × 16 KB, enough to fill a connection's buffer between two asks. */
const WINDOW = 8;

export interface AxfrJob {
  readonly packet: Buffer;
  readonly nodes: ZoneNodes;
  readonly originKey: string;
  readonly soa: SectionEntry;
  readonly steered: readonly string[];
  readonly fallback: readonly SectionEntry[];
}

export class AxfrThread {
  #worker: Worker | null = null;
  #nextId = 1;
  readonly #waiting = new Map<number, (r: AxfrReply | Error) => void>();

  #thread(): Worker {
    if (this.#worker !== null) return this.#worker;
    const worker = new Worker(new URL('./axfr-thread.js', import.meta.url));
    // A transfer in progress must not keep a stopping server alive.
    worker.unref();
    worker.on('message', (m: AxfrReply) => this.#waiting.get(m.id)?.(m));
    const died = (err: Error): void => {
      if (this.#worker !== worker) return;
      this.#worker = null;
      for (const waiter of Array.from(this.#waiting.values())) waiter(err);
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`the AXFR thread exited (${code})`)));
    return (this.#worker = worker);
  }

  #ask(id: number, request: AxfrRequest, transfer: ArrayBuffer[] = []): Promise<Extract<AxfrReply, { kind: 'messages' }>> {
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, (r) => {
        this.#waiting.delete(id);
        if (r instanceof Error) reject(r);
        else if (r.kind === 'failed') reject(new Error(r.error));
        else resolve(r);
      });
      this.#thread().postMessage(request, transfer);
    });
  }

  /**
   * The messages of an AXFR of `job`, a window at a time: each window's messages framed for
   * TCP, back to back in one buffer, and their lengths. The consumer calls `release` once
   * the buffer is written (socket.write's callback): it goes back to be written again.
   */
  async *messages(job: AxfrJob): AsyncGenerator<{ framed: Buffer; lengths: readonly number[]; release: () => void }> {
    const id = this.#nextId++;
    const { set, removed } = job.nodes.deltaEntries();
    const chunks: NodeChunk[] = [];
    // One chunk of written nodes per turn of the event loop, as a repack sends them.
    for (const chunk of encodeNodes(set)) {
      chunks.push(chunk);
      await new Promise((r) => setImmediate(r));
    }
    const packet = new Uint8Array(job.packet);
    const start: AxfrRequest = {
      kind: 'start',
      id,
      packet,
      image: job.nodes.base.image,
      set: chunks,
      removed,
      originKey: job.originKey,
      soa: toPlain(job.soa),
      steered: job.steered,
      fallback: job.fallback.map(toPlain),
    };
    this.#thread().postMessage(start, [packet.buffer, ...chunks.flatMap(chunkBuffers)]);
    let done = false;
    // Buffers written to the socket, to be filled again: a transfer cycles through a few of them.
    const free: ArrayBuffer[] = [];
    try {
      while (!done) {
        const buffer = free.pop() ?? null;
        const reply = await this.#ask(id, { kind: 'more', id, count: WINDOW, buffer }, buffer === null ? [] : [buffer]);
        done = reply.done;
        let total = 0;
        for (const n of reply.lengths) total += 2 + n;
        yield { framed: Buffer.from(reply.buffer, 0, total), lengths: reply.lengths, release: () => void free.push(reply.buffer) };
      }
    } finally {
      // Stopped early (the secondary went away): the thread forgets the transfer.
      if (!done) this.#worker?.postMessage({ kind: 'cancel', id } satisfies AxfrRequest);
    }
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = null;
    for (const waiter of Array.from(this.#waiting.values())) waiter(new Error('the transfer server was closed'));
    await worker?.terminate();
  }
}
