/**
 * Issue #18 item 6: every folder of src/ has a README in the common format (a `# folder` title,
 * then `## Name` and `## Description`), and no comment points at a DESIGN.md the project does
 * not have (the design is in those READMEs).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../support/test-server.js';

const SRC = path.join(projectRoot, 'src');

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('folder READMEs', () => {
  it('each top folder of src/ has a README.md with Name and Description', () => {
    const bad: string[] = [];
    for (const e of fs.readdirSync(SRC, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const file = path.join(SRC, e.name, 'README.md');
      const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      if (!text.startsWith(`# ${e.name}\n`) || !/^## Name\n/m.test(text) || !/^## Description\n/m.test(text)) bad.push(e.name);
    }
    assert.deepEqual(bad, []);
  });

  it('no source file points at a DESIGN.md that does not exist', () => {
    if (fs.existsSync(path.join(projectRoot, 'DESIGN.md'))) return;
    const pointing = files(SRC)
      .filter((f) => f.endsWith('.ts') && fs.readFileSync(f, 'utf8').includes('DESIGN.md'))
      .map((f) => path.relative(projectRoot, f));
    assert.deepEqual(pointing, []);
  });
});
