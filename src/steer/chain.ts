import { FILTERS } from './filters/index.js';
import type { FilterContext, FilterStep, Target } from './types.js';

/** The filter name of a step: each step is an object with exactly one key. */
export function stepName(step: FilterStep): string {
  return Object.keys(step)[0]!;
}

/** Runs an ordered chain of filters over the candidates (each filter sees the previous one's output). */
export function runChain(chain: readonly FilterStep[], candidates: readonly Target[], ctx: FilterContext): readonly Target[] {
  let current = candidates;
  for (const step of chain) {
    const name = stepName(step);
    const filter = FILTERS[name];
    if (filter === undefined) throw new Error(`unknown filter "${name}"`); // the schema rules this out
    current = filter(current, (step as Record<string, unknown>)[name], ctx);
  }
  return current;
}
