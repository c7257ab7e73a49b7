/** src/version.ts is the one version in the code; package.json (what npm and the image tag use) must say the same. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { VERSION } from '../src/version.js';
import { projectRoot } from './helpers/test-server.js';

describe('version', () => {
  it('src/version.ts matches package.json, and the CLI prints it', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string };
    assert.equal(VERSION, pkg.version);
    const printed = execFileSync(process.execPath, [path.join(projectRoot, 'dist/src/cli/main.js'), '--version'], { encoding: 'utf8' });
    assert.equal(printed.trim(), pkg.version);
  });
});
