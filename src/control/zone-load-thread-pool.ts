/**
 * Loads zone files on a worker_thread (zone-load-thread.ts) so that a full reload of a
 * large zone never holds the answering thread: parsing, checking, building and packing happen
 * there, or, for a reload while serving, in the zone load process (zone-load-process.ts),
 * whose image the thread reads in; the packed nodes arrive as one shared buffer, used as they
 * are (zone/packed-nodes.ts).
 * The policy beside the zone is compiled here (its filters are functions, which cannot cross
 * threads); it is small.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits, type Transferable } from 'node:worker_threads';
import { nameKey, type Name } from '../dns/name.js';
import { compilePolicyRead } from '../steer/policy-file.js';
import type { FileProblem } from '../problems/types.js';
import type { Zone } from '../zone/zone.js';
import type { SteeredName } from '../steer/types.js';
import type { MonitoredTarget } from '../health/types.js';
import { chunkBuffers, encodeNodes, zoneFromImage, type NodeChunk } from '../zone/zone-transfer.js';
import { PackedNodes } from '../zone/packed-nodes.js';
import type { ZoneNodes } from '../zone/zone-nodes.js';
import type { ImportRequest, LoadReply, LoadRequest, RepackRequest } from './zone-load-thread.js';
import type { ProcessLoadReply, ProcessLoadRequest } from './zone-load-process.js';
import { BackgroundProcess } from '../storage/background-process.js';
import type { Logger } from 'pino';

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
 * The digest of the policy file each compiled set of steered names came from, by that set
 * (kept by record writes, which leave the policy alone; the load thread hashes the file as it
 * reads it): a reload that reads the same policy keeps the same steered names, so steering decisions and the answers of other names stay
 * cached.
 */
const policyDigests = new WeakMap<ReadonlyMap<string, unknown>, string>();

/** A new folder for a zone load process's images, private to this user (mkdtemp: 0700, a name no one can guess). */
const imageFolder = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-load-'));

/**
 * Builds zones for reloads in a child process (zone-load-process.ts says why), once started. In
 * SCHED_IDLE first; one that gets under 2 % of a CPU over 5 s while it builds is replaced by
 * one 10 nice levels down, which builds the same file again.
 */
const zoneLoadProcess = new BackgroundProcess<ProcessLoadRequest, ProcessLoadReply>(
  'zone load',
  fileURLToPath(new URL('./zone-load-process.js', import.meta.url)),
  ['--expose-gc'],
  (message) => ({ kind: 'died', message }),
  {
    args: () => [imageFolder(), '--idle'],
    starvation: {
      fallbackArgs: () => [imageFolder()],
      warning: 'the zone load process got almost no CPU at the lowest priority (SCHED_IDLE; every CPU busy?); it is restarted 10 nice levels below the server and builds the reload again',
    },
    // the folder of one that was killed (it removes its own when it exits)
    onExit: (args) => fs.rmSync(args[0]!, { recursive: true, force: true }),
  },
);

/**
 * Starts the zone load process now, before the zones load (a fork copies the page tables of
 * a large zone on the answering thread): the reloads made while serving build there.
 * Without it they build on the reload thread.
 */
export function startZoneLoadProcess(log: Pick<Logger, 'warn'>): void {
  zoneLoadProcess.start(log);
}

/** The zone load process's pid, if one runs (tests). */
export function zoneLoadProcessPid(): number | undefined {
  return zoneLoadProcess.pid;
}

/**
 * One reload's thread: files load one after another; close() ends the thread. A thread that
 * died under a file (out of memory on a huge one, say) fails that file only: the next file
 * gets a new thread, where a load posted to the dead one would never be answered and would
 * hold the reload, and every admin write queued behind it, for ever.
 */
export class ZoneLoadThread {
  readonly #resourceLimits: ResourceLimits | undefined;
  readonly #background: boolean;
  #worker: Worker | null = null;
  #closed = false;
  #pending: ((m: LoadReply | Error) => void) | null = null;

  /**
   * `background`: the thread runs below the answering thread's priority (a reload while
   * serving); the first load, before anything is served, runs at full speed.
   */
  constructor(resourceLimits?: ResourceLimits, background = true) {
    this.#resourceLimits = resourceLimits;
    this.#background = background;
  }

  #start(): Worker {
    const worker = new Worker(new URL('./zone-load-thread.js', import.meta.url), {
      workerData: { background: this.#background },
      ...(this.#resourceLimits ? { resourceLimits: this.#resourceLimits } : {}),
    });
    // A reload in progress must not keep a stopping server alive.
    worker.unref();
    worker.on('message', (m: LoadReply) => this.#pending?.(m));
    worker.on('error', (err: Error) => this.#died(worker, err));
    worker.on('exit', (code) => this.#died(worker, new Error(`the reload thread exited (${code})`)));
    return worker;
  }

  /** An 'error' is followed by an 'exit': only the first one fails the file, and only if it is this thread's. */
  #died(worker: Worker, err: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = null;
    this.#pending?.(err);
  }

  /** Sends one request to the thread, started if needed; an Error when it dies or was closed. */
  #ask(request: LoadRequest | ImportRequest | RepackRequest, transfer: Transferable[] = []): Promise<LoadReply | Error> {
    return new Promise((resolve) => {
      this.#pending = (m) => {
        this.#pending = null;
        resolve(m);
      };
      if (this.#closed) return this.#pending(new Error('the reload was stopped'));
      this.#worker ??= this.#start();
      this.#worker.postMessage(request, transfer);
    });
  }

  /**
   * Loads `file`; `previous`, the version served, when it reads the same as then, is not built again.
   * While serving (a background thread) and where the zone load process runs
   * (startZoneLoadProcess), the process builds the zone and this thread only reads its image in.
   */
  async load(file: string, origin: Name, previous: Zone | null = null): Promise<LoadedFile> {
    const fail = (message: string): LoadedFile => ({ zone: null, problems: [{ file, line: 0, message, severity: 'error' }] });
    try {
      const prev = previous === null ? {} : { previous: previous.nodes.base.image };
      let m: LoadReply | Error;
      if (this.#background && zoneLoadProcess.started) {
        const r = await zoneLoadProcess.run({ file, origin: [...origin] });
        if (r.kind === 'died') return fail(r.message);
        if (r.kind === 'failed') return { zone: null, problems: r.problems };
        const { tmp, bytes, kind: _, ...built } = r;
        if ((previous !== null && digests.get(previous) === built.digest) || this.#closed) {
          await fs.promises.rm(tmp, { force: true });
          return this.#closed ? fail('the reload was stopped') : { zone: null, problems: built.problems, unchanged: true };
        }
        let imported: LoadReply | Error;
        try {
          imported = await this.#ask({ kind: 'import', tmp, bytes, ...prev });
        } finally {
          // The thread removes the file once read; this covers a thread that died or was closed first.
          await fs.promises.rm(tmp, { force: true });
        }
        if (imported instanceof Error) return fail(imported.message);
        if (imported.kind === 'failed') return { zone: null, problems: imported.problems };
        if (imported.kind !== 'imported') return fail(`the reload thread answered an import with ${imported.kind}`);
        m = { ...built, kind: 'zone', image: imported.image, changed: imported.changed };
      } else {
        m = await this.#ask({ kind: 'load', file, origin: [...origin], ...prev });
      }
      if (m instanceof Error) return fail(m.message);
      return this.#built(m, file, origin, previous);
    } catch (err) {
      // A throw here (the zone from its image, the policy read on this thread) fails this file only.
      return fail(`internal error while loading this zone or its policy (${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}); please report it`);
    }
  }

  #built(m: LoadReply, file: string, origin: Name, previous: Zone | null): LoadedFile {
    if (m.kind === 'failed') return { zone: null, problems: m.problems };
    if (m.kind !== 'zone') return { zone: null, problems: [{ file, line: 0, message: `the reload thread answered a load with ${m.kind}`, severity: 'error' }] };
    if (previous !== null && digests.get(previous) === m.digest) return { zone: null, problems: m.problems, unchanged: true };
    // The policy the thread read is the one compiled before: keep those steered names (the
    // decisions cached for them stay), without compiling it again here.
    const same = previous !== null && policyDigests.get(previous.steered) === m.policyDigest ? previous : null;
    let policy: { steered: readonly SteeredName[]; monitored: readonly MonitoredTarget[] };
    if (same !== null) policy = { steered: [...same.steered.values()], monitored: same.monitored };
    else {
      const compiled = m.policy === null ? { steered: [], monitored: [], problems: [] } : compilePolicyRead(m.policy.read, m.policy.file, origin);
      // The bytes the thread hashed and checked; a change made since then waits for the next reload.
      if (compiled.problems.some((p) => p.severity === 'error')) return { zone: null, problems: compiled.problems };
      policy = compiled;
    }
    const built = zoneFromImage(m.image, m.recordCount, origin, nameKey(origin), file, policy.steered, policy.monitored);
    let zone = built.zone;
    if (zone !== null) {
      if (same !== null) zone = { ...zone, steered: same.steered, monitored: same.monitored };
      else policyDigests.set(zone.steered, m.policyDigest);
      if (previous !== null && m.changed !== null) zone = { ...zone, reloadedOver: { base: previous.nodes.base, changed: m.changed } };
      digests.set(zone, m.digest);
    }
    return { zone, problems: [...m.problems, ...built.problems] };
  }

  /**
   * `nodes` packed anew, base and delta together, on the thread: the new base for
   * ZoneNodes.rebasedSteps. Rejects when the thread fails or dies.
   */
  async repack(nodes: ZoneNodes): Promise<PackedNodes> {
    const { set, removed } = nodes.deltaEntries();
    const chunks: NodeChunk[] = [];
    // One chunk per turn of the event loop: tens of thousands of written nodes are encoded
    // between queries, not in one go.
    for (const chunk of encodeNodes(set)) {
      chunks.push(chunk);
      await new Promise((r) => setImmediate(r));
    }
    const m = await this.#ask({ kind: 'repack', image: nodes.base.image, set: chunks, removed }, chunks.flatMap(chunkBuffers));
    if (m instanceof Error) throw m;
    if (m.kind !== 'repacked') throw new Error(m.kind === 'failed' ? m.problems.map((p) => p.message).join('; ') : `unexpected ${m.kind}`);
    return new PackedNodes(m.image);
  }

  close(): Promise<number> {
    this.#closed = true;
    return this.#worker?.terminate() ?? Promise.resolve(0);
  }
}
