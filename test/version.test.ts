/** src/version.ts is the one version in the code; package.json and the image tags of deploy/k8s must say the same. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { VERSION } from '../src/version.js';
import { projectRoot } from './support/test-server.js';

describe('version', () => {
  it('src/version.ts matches package.json, and the CLI prints it', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string };
    assert.equal(VERSION, pkg.version);
    const printed = execFileSync(process.execPath, [path.join(projectRoot, 'dist/src/cli/main.js'), '--version'], { encoding: 'utf8' });
    assert.equal(printed.trim(), pkg.version);
  });

  it('the Kubernetes manifests name the image of this version', () => {
    for (const file of ['deploy/k8s/20-dns.yaml', 'deploy/k8s/30-balancer.yaml']) {
      const tags = [...fs.readFileSync(path.join(projectRoot, file), 'utf8').matchAll(/meridian:(\d+\.\d+\.\d+)/g)].map((m) => m[1]);
      assert.ok(tags.length > 0, `${file} names no meridian image`);
      for (const tag of tags) assert.equal(tag, VERSION, file);
    }
  });
});
