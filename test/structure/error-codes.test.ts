/**
 * Issue #18 item 3: one error-code table (src/errors.ts) with the HTTP status of every
 * `GSLB_ERR_*` and `L7_*` code. Every code src names is in it, every code in it is given
 * somewhere, a status written beside a code agrees with the table, and README.md "Error codes"
 * lists exactly the table.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ERRORS, ErrorCode, httpStatus, type ErrorCodeValue } from '../../src/errors.js';
import { projectRoot } from '../support/test-server.js';

const CODE = /\b(?:GSLB_ERR_[A-Z0-9_]+|L7_[A-Z0-9_]+)\b/g;
const TABLE_FILE = path.join('src', 'errors.ts');

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(projectRoot, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return sources(rel);
    return e.name.endsWith('.ts') && rel !== TABLE_FILE ? [rel] : [];
  });
}

const files = new Map(sources('src').map((f) => [f, fs.readFileSync(path.join(projectRoot, f), 'utf8')]));
const isCode = (c: string): c is ErrorCodeValue => Object.hasOwn(ERRORS, c);

describe('error codes: one table', () => {
  it('every code src names is in the table', () => {
    const unknown: string[] = [];
    for (const [file, text] of files) for (const m of text.matchAll(CODE)) if (!isCode(m[0])) unknown.push(`${file}: ${m[0]}`);
    assert.deepEqual(unknown, []);
  });

  it('every code of the table is given somewhere in src (none unused)', () => {
    const named = new Set<string>();
    for (const text of files.values()) for (const m of text.matchAll(CODE)) named.add(m[0]);
    assert.deepEqual(
      Object.keys(ERRORS).filter((c) => !named.has(c)),
      [],
    );
  });

  it("a status written beside a code is the table's", () => {
    // `reply(res, 503, ErrorCode.L7_…`, `{ status: 504, code: ErrorCode.L7_…`
    const pair = /\b([1-5]\d\d),\s*(?:code:\s*)?(?:ErrorCode\.|')((?:GSLB_ERR|L7)_[A-Z0-9_]+)/g;
    const wrong: string[] = [];
    let pairs = 0;
    for (const [file, text] of files) {
      for (const m of text.matchAll(pair)) {
        pairs++;
        const code = m[2]!;
        if (isCode(code) && Number(m[1]) !== httpStatus(code)) wrong.push(`${file}: ${m[1]} ${code} (the table: ${httpStatus(code)})`);
      }
    }
    assert.ok(pairs >= 20, `the pattern still finds the pairs (${pairs})`);
    assert.deepEqual(wrong, []);
  });

  it('README.md "Error codes" lists the table: each code with its status', () => {
    const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
    const start = readme.indexOf('\n### Error codes\n');
    assert.ok(start >= 0, 'README.md has an "Error codes" section');
    const section = readme.slice(start + 1, readme.indexOf('\n#', start + 2));
    const rows = [...section.matchAll(/^\| `([A-Z0-9_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
    assert.deepEqual(
      rows,
      Object.entries(ERRORS).map(([code, info]) => [code, info.status]),
    );
  });

  it('ErrorCode names each code of the table as itself', () => {
    for (const code of Object.keys(ERRORS)) assert.equal((ErrorCode as Record<string, string>)[code], code);
    assert.equal(Object.keys(ErrorCode).length, Object.keys(ERRORS).length);
  });
});
