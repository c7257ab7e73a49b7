/**
 * writeFileAtomicAsync started twice on one file in the same tick: each write has its own
 * temp file, so both resolve and the file holds one whole content, never a mix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomicAsync } from '../../src/storage/atomic-write.js';

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
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
