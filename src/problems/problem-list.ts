import type { FileProblem } from './types.js';

/**
 * How many problems of one file are kept. A generated file gone bad can hold hundreds of
 * thousands; keeping (and logging) them all costs memory and time for nothing, since the
 * first few show what went wrong. The rest are counted.
 */
export const MAX_PROBLEMS_PER_FILE = 100;

/**
 * The problems of one file: the first MAX_PROBLEMS_PER_FILE are kept, the others only
 * counted. `add` takes the line lazily, so the problems that are not kept cost no lookup.
 */
export class ProblemList {
  readonly #file: string;
  readonly #kept: FileProblem[] = [];
  #moreErrors = 0;
  #moreWarnings = 0;

  constructor(file: string) {
    this.#file = file;
  }

  /** Problems counted, kept or not. */
  get size(): number {
    return this.#kept.length + this.#moreErrors + this.#moreWarnings;
  }

  add(p: FileProblem): void {
    if (this.#kept.length < MAX_PROBLEMS_PER_FILE) this.#kept.push(p);
    else this.#count(p.severity);
  }

  /** Adds a problem whose line is only looked up if it is kept. */
  addAt(file: string, line: () => number, message: string, severity: FileProblem['severity'] = 'error'): void {
    if (this.#kept.length < MAX_PROBLEMS_PER_FILE) this.#kept.push({ file, line: line(), message, severity });
    else this.#count(severity);
  }

  #count(severity: FileProblem['severity']): void {
    if (severity === 'error') this.#moreErrors++;
    else this.#moreWarnings++;
  }

  addAll(problems: Iterable<FileProblem>): void {
    for (const p of problems) this.add(p);
  }

  /** The kept problems, then one line with the count of the others (an error if any of them is). */
  toArray(): FileProblem[] {
    const more = this.#moreErrors + this.#moreWarnings;
    if (more === 0) return [...this.#kept];
    const kinds = [this.#moreErrors > 0 && `${this.#moreErrors} errors`, this.#moreWarnings > 0 && `${this.#moreWarnings} warnings`].filter(Boolean).join(', ');
    const message = `… and ${more} more problems not listed (${kinds}; ${this.size} in all; only the first ${MAX_PROBLEMS_PER_FILE} of a file are kept)`;
    return [...this.#kept, { file: this.#file, line: 0, message, severity: this.#moreErrors > 0 ? 'error' : 'warning' }];
  }
}

/** `problems` capped as one file's. */
export function capProblems(file: string, problems: Iterable<FileProblem>): FileProblem[] {
  const list = new ProblemList(file);
  list.addAll(problems);
  return list.toArray();
}

/** "file:line: message", with "warning: " before the message of a warning. */
export function formatProblem(p: FileProblem): string {
  return `${p.file}:${p.line}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`;
}
