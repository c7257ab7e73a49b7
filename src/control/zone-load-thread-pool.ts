/**
 * Loads zone files on a worker_thread (zone/zone-load-thread.ts) so that a full reload of a
 * large zone never holds the answering thread: parsing, checking and building happen there;
 * here only the built nodes are put back together, a small chunk per turn of the event loop
 * (zone/zone-transfer.ts), asked for one after another. The policy beside the zone is
 * compiled here (its filters are functions, which cannot cross threads); it is small.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { nameKey, type Name } from '../dns/name.js';
import { loadPolicyFile, policyFileFor } from '../steer/policy-file.js';
import type { FileProblem } from '../problems/types.js';
import type { Zone } from '../zone/zone.js';
import { ZoneAssembler, type NodeChunk, type ZoneHeader } from '../zone/zone-transfer.js';

type FromThread =
  | (ZoneHeader & { readonly problems: FileProblem[] })
  | NodeChunk
  | { readonly kind: 'end' }
  | { readonly kind: 'failed'; readonly problems: FileProblem[] };

export interface LoadedFile {
  zone: Zone | null;
  problems: FileProblem[];
  /** The files read the same as when `previous` was loaded: `zone` is null, and nothing was sent. */
  unchanged?: boolean;
}

/**
 * The digest of the files each zone built here was read from (zone-load-thread.ts). Kept
 * beside the zones, not in them: a zone an admin write made is a new object, absent here,
 * so a reload after a write always rebuilds.
 */
const digests = new WeakMap<Zone, string>();

/**
 * One reload's thread: files load one after another; close() ends the thread. A thread that
 * died under a file (out of memory on a huge one, say) fails that file only: the next file
 * gets a new thread, where a load posted to the dead one would never be answered and would
 * hold the reload, and every admin write queued behind it, for ever.
 */
export class ZoneLoadThread {
  readonly #resourceLimits: ResourceLimits | undefined;
  #worker: Worker | null = null;
  #closed = false;
  #pending: ((m: FromThread | Error) => void) | null = null;

  constructor(resourceLimits?: ResourceLimits) {
    this.#resourceLimits = resourceLimits;
  }

  #start(): Worker {
    const worker = new Worker(new URL('../zone/zone-load-thread.js', import.meta.url), this.#resourceLimits ? { resourceLimits: this.#resourceLimits } : {});
    // A reload in progress must not keep a stopping server alive.
    worker.unref();
    worker.on('message', (m: FromThread) => this.#pending?.(m));
    worker.on('error', (err) => this.#died(worker, err));
    worker.on('exit', (code) => this.#died(worker, new Error(`the reload thread exited (${code})`)));
    return worker;
  }

  /** An 'error' is followed by an 'exit': only the first one fails the file, and only if it is this thread's. */
  #died(worker: Worker, err: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = null;
    this.#pending?.(err);
  }

  /** Loads `file`; `previous`, the version served, when it reads the same as then, is not sent again. */
  load(file: string, origin: Name, previous: Zone | null = null): Promise<LoadedFile> {
    return new Promise((resolve) => {
      let assembler: ZoneAssembler | null = null;
      let warnings: FileProblem[] = [];
      let digest = '';
      const done = (r: LoadedFile): void => {
        this.#pending = null;
        resolve(r);
      };
      const fail = (message: string): void => done({ zone: null, problems: [{ file, line: 0, message, severity: 'error' }] });
      const handle = (m: FromThread): void => {
        switch (m.kind) {
          case 'failed':
            return done({ zone: null, problems: m.problems });
          case 'zone':
            if (previous !== null && digests.get(previous) === m.digest) {
              this.#worker?.postMessage({ kind: 'skip' });
              return done({ zone: null, problems: m.problems, unchanged: true });
            }
            assembler = new ZoneAssembler(m);
            warnings = m.problems;
            digest = m.digest;
            this.#worker?.postMessage({ kind: 'more' });
            return;
          case 'nodes': {
            // Rebuilt in the check phase, then the next is asked for: this message event
            // ends at once, and the sockets are read between every two chunks.
            const into = assembler!;
            setImmediate(() => {
              if (this.#pending !== pending) return; // the load ended meanwhile (the thread died, or close())
              try {
                into.add(m);
                this.#worker?.postMessage({ kind: 'more' });
              } catch (err) {
                internal(err);
              }
            });
            return;
          }
          case 'end': {
            const policyFile = policyFileFor(file);
            const policy = policyFile ? loadPolicyFile(policyFile, origin) : { steered: [], monitored: [], problems: [] };
            // The thread checked the same policy; a change made since then waits for the next reload.
            if (policy.problems.some((p) => p.severity === 'error')) return done({ zone: null, problems: policy.problems });
            const built = assembler!.finish(origin, nameKey(origin), file, policy.steered, policy.monitored);
            if (built.zone !== null) digests.set(built.zone, digest);
            return done({ zone: built.zone, problems: [...warnings, ...built.problems] });
          }
        }
      };
      const internal = (err: unknown): void =>
        fail(`internal error while loading this zone or its policy (${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}); please report it`);
      const pending = (m: FromThread | Error): void => {
        if (m instanceof Error) return fail(m.message);
        // This runs in the worker's message event: a throw here (reassembly, the policy read
        // on this thread) would be uncaught and end the process, so it fails this file only.
        try {
          handle(m);
        } catch (err) {
          internal(err);
        }
      };
      this.#pending = pending;
      if (this.#closed) return done({ zone: null, problems: [{ file, line: 0, message: 'the reload was stopped', severity: 'error' }] });
      this.#worker ??= this.#start();
      this.#worker.postMessage({ kind: 'load', file, origin: [...origin] });
    });
  }

  close(): Promise<number> {
    this.#closed = true;
    return this.#worker?.terminate() ?? Promise.resolve(0);
  }
}
