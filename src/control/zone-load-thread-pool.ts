/**
 * Loads zone files on a worker_thread (zone/zone-load-thread.ts) so that a full reload of a
 * large zone never holds the answering thread: parsing, checking and building happen there;
 * here only the built nodes are put back together, a small chunk per message event
 * (zone/zone-transfer.ts). The policy beside the zone is compiled here (its filters are
 * functions, which cannot cross threads); it is small.
 */
import { Worker } from 'node:worker_threads';
import { nameKey, type Name } from '../dns/name.js';
import { loadPolicyFile, policyFileFor } from '../steer/policy-file.js';
import type { FileProblem } from '../zone/record.js';
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
}

/** One reload's thread: files load one after another; close() ends the thread. */
export class ZoneLoadThread {
  readonly #worker: Worker;
  #pending: ((m: FromThread | Error) => void) | null = null;

  constructor() {
    this.#worker = new Worker(new URL('../zone/zone-load-thread.js', import.meta.url));
    // A reload in progress must not keep a stopping server alive.
    this.#worker.unref();
    this.#worker.on('message', (m: FromThread) => this.#pending?.(m));
    this.#worker.on('error', (err) => this.#pending?.(err));
    this.#worker.on('exit', (code) => this.#pending?.(new Error(`the reload thread exited (${code})`)));
  }

  load(file: string, origin: Name): Promise<LoadedFile> {
    return new Promise((resolve) => {
      let assembler: ZoneAssembler | null = null;
      let warnings: FileProblem[] = [];
      const done = (r: LoadedFile): void => {
        this.#pending = null;
        resolve(r);
      };
      this.#pending = (m) => {
        if (m instanceof Error) return done({ zone: null, problems: [{ file, line: 0, message: m.message, severity: 'error' }] });
        switch (m.kind) {
          case 'failed':
            return done({ zone: null, problems: m.problems });
          case 'zone':
            assembler = new ZoneAssembler(m);
            warnings = m.problems;
            return;
          case 'nodes':
            assembler!.add(m);
            return;
          case 'end': {
            const policyFile = policyFileFor(file);
            const policy = policyFile ? loadPolicyFile(policyFile, origin) : { steered: [], monitored: [], problems: [] };
            // The thread checked the same policy; a change made since then waits for the next reload.
            if (policy.problems.some((p) => p.severity === 'error')) return done({ zone: null, problems: policy.problems });
            const built = assembler!.finish(origin, nameKey(origin), file, policy.steered, policy.monitored);
            return done({ zone: built.zone, problems: [...warnings, ...built.problems] });
          }
        }
      };
      this.#worker.postMessage({ file, origin: [...origin] });
    });
  }

  close(): Promise<number> {
    return this.#worker.terminate();
  }
}
