import { type ErrorObject, type ValidateFunction } from 'ajv';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { FileProblem } from '../zone/record.js';

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
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const problems: FileProblem[] = doc.errors.map((e) => ({
    file,
    line: e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line,
    message: e.message.split('\n')[0]!,
    severity: 'error',
  }));
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
  return { value: problems.length > 0 ? undefined : (doc.toJS() ?? {}), lineOf, problems };
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
  if (extra === undefined) return base === '' ? '(top level)' : base;
  return base === '' ? extra : `${base}.${extra}`;
}

/** Schema errors as file:line problems naming the field. */
export function schemaProblems(validate: ValidateFunction, source: YamlSource, file: string): FileProblem[] {
  return (validate.errors ?? []).filter(usefulError).map((e) => ({
    file,
    line: source.lineOf(e.instancePath),
    message: describeSchemaError(e),
    severity: 'error' as const,
  }));
}

export function describeSchemaError(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') {
    return `${fieldName(e.instancePath, (e.params as { additionalProperty: string }).additionalProperty)}: unknown field`;
  }
  if (e.keyword === 'required') {
    return `${fieldName(e.instancePath, (e.params as { missingProperty: string }).missingProperty)}: is required`;
  }
  if (e.keyword === 'enum') {
    return `${fieldName(e.instancePath)}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  }
  return `${fieldName(e.instancePath)}: ${e.message ?? 'is invalid'}`;
}

/** anyOf/oneOf produce one error per branch plus a summary; keep the summary's branches short. */
function usefulError(e: ErrorObject): boolean {
  return e.keyword !== 'if';
}
