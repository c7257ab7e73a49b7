/**
 * The one interface every balancing algorithm implements (as grpc-js's picker and undici's
 * Dispatcher: one small contract, one file per implementation). Adding an algorithm is one
 * file here, its test, and one line in index.ts.
 */
import type { Backend } from '../backend.js';

export interface PickContext {
  /** What hash-based algorithms hash: the client address, a header, a cookie or the path. */
  readonly hashKey: string;
}

export interface Algorithm {
  /**
   * One backend of `backends` that has room (`hasRoom()`), or undefined when none has.
   * `backends` is the pool's usable list: the same array until membership changes, so an
   * algorithm may cache what it builds from it (a ring) by identity.
   */
  pick(backends: readonly Backend[], ctx: PickContext): Backend | undefined;
}

export interface AlgorithmOptions {
  /** Ring points per unit of weight (consistent-hash). */
  readonly virtualNodes: number;
  /** 0 ≤ x < 1; injected so tests can seed it. */
  readonly random: () => number;
}

export interface AlgorithmEntry {
  readonly create: (opts: AlgorithmOptions) => Algorithm;
  /** Hash-based: the same key must keep its backend, so slow start does not skip picks. */
  readonly hashBased: boolean;
}
