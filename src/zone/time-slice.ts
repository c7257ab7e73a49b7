/**
 * Work on a large zone in slices of the event loop: `tick()` is cheap to call on every item
 * and yields (setImmediate, so queries waiting on sockets run first) once the slice has run
 * `budgetMs`. A 1,000,000-record zone file then costs queries a few milliseconds at a time.
 */
export class TimeSlicer {
  readonly #budgetMs: number;
  #sliceStart = performance.now();
  #count = 0;

  constructor(budgetMs = 2) {
    this.#budgetMs = budgetMs;
  }

  /**
   * undefined inside the budget, else a promise that resolves after a yield. Callers write
   * `const pause = slicer.tick(); if (pause) await pause;`: an await on every item would
   * cost a microtask each.
   */
  tick(): Promise<void> | undefined {
    if ((++this.#count & 15) !== 0) return undefined;
    if (performance.now() - this.#sliceStart < this.#budgetMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        this.#sliceStart = performance.now();
        resolve();
      }),
    );
  }
}

/** Work written as a generator of steps (`yield` between items), run to its end at once. */
export function drain<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** The same work in time slices of `slicer`: thousands of items do not hold the event loop. */
export async function drainSliced<T>(steps: Generator<void, T>, slicer: TimeSlicer): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    const pause = slicer.tick();
    if (pause) await pause;
  }
}
