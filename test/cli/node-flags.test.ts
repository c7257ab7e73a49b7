/**
 * The V8 flags meridian needs (src/cli/node-flags.ts) are given by every way of starting it
 * that this project ships, and `serve` says so in its log when they are missing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { missingNodeFlags, NODE_FLAGS } from '../../src/cli/node-flags.js';
import { projectRoot } from '../support/test-server.js';

const read = (file: string): string => fs.readFileSync(path.join(projectRoot, file), 'utf8');

describe('node flags', () => {
  it('every launcher this project ships passes them, before the script', () => {
    const flags = NODE_FLAGS.join(' ');
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; bin: Record<string, string> };
    assert.match(pkg.scripts.start!, new RegExp(`node ${flags} dist/src/cli/main\\.js`), 'npm start');
    assert.equal(read(pkg.bin.meridian!.replace(/^dist\//, '').replace(/\.js$/, '.ts')).split('\n')[0], `#!/usr/bin/env -S node ${flags}`, 'the bin shebang');
    const entrypoint = JSON.stringify(['node', ...NODE_FLAGS, 'dist/src/cli/main.js']).replace(/,/g, ', ');
    assert.ok(read('Dockerfile').includes(`ENTRYPOINT ${entrypoint}`), 'Dockerfile ENTRYPOINT');
    assert.match(read('deploy/meridian.service'), new RegExp(`^ExecStart=/usr/bin/node ${flags} /opt/meridian/dist/src/cli/main\\.js serve`, 'm'), 'systemd unit');
  });

  it('missingNodeFlags reads them from execArgv, in either spelling', () => {
    assert.deepEqual(missingNodeFlags([]), [...NODE_FLAGS]);
    assert.deepEqual(missingNodeFlags(['--max-semi-space-size=2', '--v8-pool-size=1']), []);
    assert.deepEqual(missingNodeFlags(['--max-semi-space-size=2']), ['--v8-pool-size=1']);
    assert.deepEqual(missingNodeFlags(['--max_semi_space_size=8', '--v8_pool_size=4']), [], "another value is the operator's choice");
  });

  it('the bin, run as a program, starts node with them: serve logs nothing about missing flags', async () => {
    const bin = path.join(projectRoot, 'dist/src/cli/main.js');
    fs.chmodSync(bin, 0o755);
    // A folder of its own, for the health state file that serve keeps in its working directory.
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-flags-'));
    const run = (cmd: string, args: string[]): Promise<string> =>
      new Promise((resolve, reject) => {
        const child = spawn(cmd, [...args, 'serve', '--zones', path.join(projectRoot, 'zones'), '--listen', '127.0.0.1:0', '--admin', 'off', '--log-level', 'info'], {
          stdio: ['ignore', 'pipe', 'pipe'],
          cwd,
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('meridian is serving')) child.kill('SIGTERM');
        });
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.on('error', reject);
        child.on('exit', () => resolve(out));
      });
    try {
      const viaShebang = await run(bin, []);
      assert.match(viaShebang, /meridian is serving/);
      assert.doesNotMatch(viaShebang, /started without these flags/);
      const plain = await run(process.execPath, [bin]);
      assert.match(plain, /started without these flags/);
      assert.match(plain, /"missing":\["--max-semi-space-size=2","--v8-pool-size=1"\]/);
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });
});
