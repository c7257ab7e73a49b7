/**
 * writeFileAtomicAsync started twice on one file in the same tick: each write has its own
 * temp file, so both resolve and the file holds one whole content, never a mix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeFileAtomic, writeFileAtomicAsync } from '../../src/storage/atomic-write.js';

test('two async writes of one file started together: both succeed, one whole content wins', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-atomic-'));
  try {
    const file = path.join(dir, 'z.zone');
    const long = Buffer.alloc(256 * 1024, 'a');
    const short = Buffer.from('short\n');
    // Many chunks so the two writers interleave on libuv's threads.
    const chunks = (b: Buffer): Uint8Array[] => Array.from({ length: 64 }, (_, i) => b.subarray((i * b.length) / 64, ((i + 1) * b.length) / 64));
    await Promise.all([writeFileAtomicAsync(file, chunks(long)), writeFileAtomicAsync(file, [short])]);
    const got = fs.readFileSync(file);
    assert.ok(got.equals(long) || got.equals(short), `mixed content, ${got.length} bytes`);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
      'no temp file left',
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a write that fills the disk throws, keeps the old content and leaves no temp file (sync and async)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-atomic-full-'));
  // A 64 KiB tmpfs is a disk that fills; mounting needs root (the suite runs as root).
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]).status === 0;
  try {
    if (!mounted) return t.skip('cannot mount a tmpfs here');
    const file = path.join(dir, 'state.json');
    writeFileAtomic(file, 'old\n');
    const big = Buffer.alloc(1024 * 1024, 'x');
    assert.throws(() => writeFileAtomic(file, big), /ENOSPC/);
    assert.deepEqual(fs.readdirSync(dir), ['state.json']);
    await assert.rejects(writeFileAtomicAsync(file, [big]), /ENOSPC/);
    assert.deepEqual(fs.readdirSync(dir), ['state.json']);
    assert.equal(fs.readFileSync(file, 'utf8'), 'old\n');
  } finally {
    if (mounted) spawnSync('umount', [dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
