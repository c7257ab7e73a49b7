/**
 * Issue #18 item 6: src/metrics/README.md lists every metric the code registers. The names are
 * read from the source as one finds them by hand (a quoted `meridian_…` string in any .ts file
 * of src/: the first argument of counter(), gauge(), precountedHistogram(), or a `name:`), and
 * the README's table must have a row for each, and no row for a name the code does not have.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../support/test-server.js';

const README = path.join(projectRoot, 'src', 'metrics', 'README.md');

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(projectRoot, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    return e.isDirectory() ? sources(rel) : e.name.endsWith('.ts') ? [rel] : [];
  });
}

const texts = new Map(sources('src').map((f) => [f, fs.readFileSync(path.join(projectRoot, f), 'utf8')]));

/** Every quoted metric name in src, with the files that name it. */
function registeredNames(): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const [file, text] of texts) {
    for (const m of text.matchAll(/['"`](meridian_[a-z0-9_]+)['"`]/g)) names.set(m[1]!, [...(names.get(m[1]!) ?? []), file]);
  }
  return names;
}

function readmeNames(): string[] {
  return [...fs.readFileSync(README, 'utf8').matchAll(/^\| `(meridian_[a-z0-9_]+)` \|/gm)].map((m) => m[1]!);
}

describe('metrics README: every metric the code registers', () => {
  it('no metric name is built from parts (so the search below finds them all)', () => {
    const built: string[] = [];
    for (const [file, text] of texts) for (const m of text.matchAll(/['"`]meridian_[a-z0-9_]*(?:\$\{|['"`]\s*\+)/g)) built.push(`${file}: ${m[0]}`);
    assert.deepEqual(built, []);
  });

  it('every registered name has a row in src/metrics/README.md', () => {
    const names = registeredNames();
    assert.ok(names.size >= 40, `the search still finds the names (${names.size})`);
    assert.ok(names.has('meridian_l7_requests_total') && names.has('meridian_dns_queries_total'), 'both registries are searched');
    const listed = new Set(readmeNames());
    const missing = [...names].filter(([n]) => !listed.has(n)).map(([n, files]) => `${n} (${files.join(', ')})`);
    assert.deepEqual(missing, []);
  });

  it('every row names a metric the code has, once', () => {
    const names = registeredNames();
    const rows = readmeNames();
    assert.deepEqual(
      rows.filter((n) => !names.has(n)),
      [],
      'no stale row',
    );
    assert.deepEqual(
      rows.filter((n, i) => rows.indexOf(n) !== i),
      [],
      'no row twice',
    );
  });
});
