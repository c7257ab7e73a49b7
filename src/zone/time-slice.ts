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
    if ((++this.#count & 255) !== 0) return undefined;
    if (performance.now() - this.#sliceStart < this.#budgetMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        this.#sliceStart = performance.now();
        resolve();
      }),
    );
  }
}

/** Sorts `items` by `key` (strings compared with <) without holding the event loop: runs, then merges, in slices. */
export async function sortSliced<T>(items: T[], key: (item: T) => string, slicer: TimeSlicer): Promise<T[]> {
  const keyed: Array<{ k: string; v: T }> = [];
  for (const v of items) {
    keyed.push({ k: key(v), v });
    const pause = slicer.tick();
    if (pause) await pause;
  }
  const RUN = 1024;
  const cmp = (a: { k: string }, b: { k: string }): number => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0);
  let src = keyed;
  let runs: Array<{ k: string; v: T }>[] = [];
  for (let i = 0; i < src.length; i += RUN) {
    runs.push(src.slice(i, i + RUN).sort(cmp));
    for (let j = 0; j < 256; j++) {
      const pause = slicer.tick(); // a run costs about as much as 256 items
      if (pause) await pause;
    }
  }
  while (runs.length > 1) {
    const next: typeof runs = [];
    for (let r = 0; r < runs.length; r += 2) {
      const a = runs[r]!;
      const b = runs[r + 1];
      if (b === undefined) {
        next.push(a);
        continue;
      }
      const out: typeof a = [];
      let i = 0;
      let j = 0;
      while (i < a.length || j < b.length) {
        out.push(j >= b.length || (i < a.length && a[i]!.k <= b[j]!.k) ? a[i++]! : b[j++]!);
        const pause = slicer.tick();
        if (pause) await pause;
      }
      next.push(out);
    }
    runs = next;
  }
  src = runs[0] ?? [];
  return src.map((e) => e.v);
}
