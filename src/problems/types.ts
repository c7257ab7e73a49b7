/**
 * The vocabulary every file reader shares (config, zone files, policy files, the balancer's
 * config): where something came from, and what is wrong with it, for messages of the form
 * file:line: message. See README.md for why this is a folder of its own.
 */

/** Where a record or an error came from. */
export interface SourcePos {
  file: string;
  line: number;
}

/** A problem found in a zone or config file; `line` is 0 when it concerns the file as a whole. */
export interface FileProblem extends SourcePos {
  message: string;
  severity: 'error' | 'warning';
}
