import { type ErrorObject, type ValidateFunction } from 'ajv';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { ProblemList } from '../problems/problem-list.js';
import type { FileProblem } from '../problems/types.js';

/**
 * Deepest nesting of maps and sequences a file may have. Real files stay under 20; the
 * limit keeps the recursive steps after parsing (toJS, structuredClone, schema validation,
 * chain checks) far from the stack limit.
 */
export const MAX_YAML_DEPTH = 64;

/** A parsed YAML/JSON file that can tell the line of any JSON pointer inside it. */
export interface YamlSource {
  readonly value: unknown;
  /** Line of the node at `pointer` ("/names/www/ttl"), or of its nearest existing parent. */
  lineOf(pointer: string | readonly (string | number)[]): number;
  /** Syntax errors, each with its line. */
  readonly problems: readonly FileProblem[];
}

export function parseYamlSource(text: string, file: string): YamlSource {
  const lines = new LineCounter();
  // yaml's own duplicate-key check compares each key with every other of its map: 40,000
  // targets took 85 s of a blocked reload. duplicateKeys below does it with a Set.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  // The line of the deepest key (or sequence item) on the path that exists: a field's own line.
  const lineOf = (pointer: string | readonly (string | number)[]): number => {
    const keys = typeof pointer === 'string' ? pointerKeys(pointer) : pointer;
    let node: unknown = doc.contents;
    let line = isNode(node) && node.range ? lines.linePos(node.range[0]).line : 1;
    for (const key of keys) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(key));
        if (!pair) break;
        if (isNode(pair.key) && pair.key.range) line = lines.linePos(pair.key.range[0]).line;
        node = pair.value;
      } else if (isSeq(node) && typeof key === 'number' && node.items[key] !== undefined) {
        node = node.items[key];
        if (isNode(node) && node.range) line = lines.linePos(node.range[0]).line;
      } else {
        break;
      }
    }
    return line;
  };
  const list = new ProblemList(file);
  const tooDeepMessage = `nested more than ${MAX_YAML_DEPTH} levels deep`;
  for (const e of doc.errors) {
    // the parser catches its own stack overflow on very deep flow collections and reports it as is
    const message = e.message.startsWith('Maximum call stack') ? tooDeepMessage : e.message.split('\n')[0]!;
    list.addAt(file, () => e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line, message);
  }
  if (list.size === 0) {
    for (const key of duplicateKeys(doc.contents)) {
      list.addAt(file, () => (key.range ? lines.linePos(key.range[0]).line : 0), `duplicate key ${printable(JSON.stringify(keyText(key)))}`);
    }
  }
  let value: unknown;
  if (list.size === 0) {
    try {
      // yaml refuses an alias bomb (aliases expanding to millions of nodes) by throwing
      value = doc.toJS() ?? {};
    } catch (err) {
      list.add({ file, line: 0, message: err instanceof RangeError ? tooDeepMessage : `cannot be read: ${(err as Error).message}`, severity: 'error' });
    }
  }
  if (list.size === 0) {
    // on the value, not the document: aliases can nest a shallow-looking document deeply
    const deep = pathTooDeep(value);
    if (deep !== null) list.addAt(file, () => lineOf(deep), tooDeepMessage);
  }
  const problems = list.toArray();
  return { value: problems.length > 0 ? undefined : value, lineOf, problems };
}

const keyText = (key: unknown): string => (isScalar(key) ? String(key.value) : String(key));

/** Each key that repeats an earlier key of its map, walking the document without recursion. */
function duplicateKeys(root: unknown): Node[] {
  const out: Node[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    } else if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const text = keyText(pair.key);
        if (seen.has(text) && isNode(pair.key)) out.push(pair.key);
        seen.add(text);
        stack.push(pair.value);
      }
    }
  }
  return out;
}

/** The path to the first value nested deeper than MAX_YAML_DEPTH, found without recursion; null if none. */
function pathTooDeep(root: unknown): (string | number)[] | null {
  interface Step {
    readonly value: unknown;
    readonly depth: number;
    readonly key: string | number;
    readonly parent: Step | null;
  }
  const stack: Step[] = [{ value: root, depth: 0, key: '', parent: null }];
  while (stack.length > 0) {
    const step = stack.pop()!;
    if (typeof step.value !== 'object' || step.value === null) continue;
    if (step.depth > MAX_YAML_DEPTH) {
      const path: (string | number)[] = [];
      for (let s: Step | null = step; s !== null && s.parent !== null; s = s.parent) path.unshift(s.key);
      return path;
    }
    const entries: Iterable<[string | number, unknown]> = Array.isArray(step.value) ? step.value.entries() : Object.entries(step.value);
    for (const [key, value] of entries) stack.push({ value, depth: step.depth + 1, key, parent: step });
  }
  return null;
}

function pointerKeys(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((k) => (/^\d+$/.test(k) ? Number(k) : k));
}

/** Field path for messages: "/names/www/ttl" → "names.www.ttl". */
export function fieldName(pointer: string, extra?: string): string {
  const base = pointer === '' ? '' : pointer.slice(1).replace(/\//g, '.');
  if (extra === undefined) return base === '' ? '(top level)' : printable(base);
  return printable(base === '' ? extra : `${base}.${extra}`);
}

/** A key may hold a newline or other control character: escape it, so a problem stays one line. */
function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/**
 * Schema errors as file:line problems naming the field, capped (MAX_PROBLEMS_PER_FILE): the
 * line is looked up only for the kept ones. `hints` put a pattern (by its source) in words.
 */
export function schemaProblems(validate: ValidateFunction, source: YamlSource, file: string, hints: PatternHints = {}): FileProblem[] {
  const list = new ProblemList(file);
  // a bad key fails propertyNames and additionalProperties: report it once, on the key's line
  const badKeys = new Set<string>();
  for (const e of validate.errors ?? []) {
    if (!usefulError(e)) continue;
    const key = badKey(e);
    if (key !== undefined) {
      const id = `${e.instancePath}/${key}`;
      if (badKeys.has(id)) continue;
      badKeys.add(id);
    }
    const at = key === undefined ? e.instancePath : [...pointerKeys(e.instancePath), key];
    list.addAt(file, () => source.lineOf(at), describeSchemaError(e, hints));
  }
  return list.toArray();
}

/** Words for a pattern, by the pattern's source: `{ [ID_PATTERN]: 'an id is …' }`. */
export type PatternHints = Readonly<Record<string, string>>;

/** The object key an error is about (an unknown or ill-formed key), if any. */
function badKey(e: ErrorObject): string | undefined {
  if (e.keyword === 'additionalProperties') return (e.params as { additionalProperty: string }).additionalProperty;
  return e.propertyName;
}

export function describeSchemaError(e: ErrorObject, hints: PatternHints = {}): string {
  if (e.keyword === 'additionalProperties') {
    return `${fieldName(e.instancePath, (e.params as { additionalProperty: string }).additionalProperty)}: unknown field`;
  }
  if (e.keyword === 'required') {
    return `${fieldName(e.instancePath, (e.params as { missingProperty: string }).missingProperty)}: is required`;
  }
  if (e.keyword === 'enum') {
    return `${fieldName(e.instancePath)}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  }
  const hint = e.keyword === 'pattern' ? hints[(e.params as { pattern: string }).pattern] : undefined;
  // an error inside propertyNames is about the key itself (ajv names it in propertyName)
  if (e.propertyName !== undefined) return `${fieldName(e.instancePath, e.propertyName)}: invalid key ${printable(JSON.stringify(e.propertyName))}: ${hint ?? e.message ?? 'is invalid'}`;
  return `${fieldName(e.instancePath)}: ${hint ?? e.message ?? 'is invalid'}`;
}

/** anyOf/oneOf produce one error per branch plus a summary; keep the summary's branches short. */
function usefulError(e: ErrorObject): boolean {
  // propertyNames also reports the key's own error, which names it
  return e.keyword !== 'if' && e.keyword !== 'propertyNames';
}
