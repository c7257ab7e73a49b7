/**
 * Signatures per second per core (issue #16): RRSIG over a one-record A RRset, the work a
 * steered answer's cache miss costs, for each algorithm meridian signs with, measured in CPU
 * time so a loaded machine still gives the per-core figure.
 *   node dist/tools/dnssec-sign-bench.js [--seconds 2]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ALGORITHMS, generateKey } from '../src/dnssec/keys.js';
import { canonicalRRset, rrsigRdata } from '../src/dnssec/sign.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' } } });
const seconds = Number(values.seconds);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-sign-bench-'));
try {
  for (const [name, algorithm] of Object.entries(ALGORITHMS)) {
    const key = generateKey(['example', 'com'], algorithm, dir).key;
    const canonical = canonicalRRset(['www', 'example', 'com'], 1, 1, 30, [Buffer.from([192, 0, 2, 1])]);
    const times = { inception: 1, expiration: 2 };
    let signed = 0;
    const start = performance.now();
    const cpu = process.cpuUsage();
    while (performance.now() - start < seconds * 1000) {
      for (let i = 0; i < 100; i++) rrsigRdata(key, 1, 3, 30, times, canonical);
      signed += 100;
    }
    const used = process.cpuUsage(cpu);
    const cpuSeconds = (used.user + used.system) / 1e6;
    process.stdout.write(`${name.padEnd(16)} ${Math.round(signed / cpuSeconds)} signatures per CPU-second (one core), ${Math.round((cpuSeconds / signed) * 1e6)} µs each\n`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
