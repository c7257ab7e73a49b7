/**
 * Signatures per CPU-second on one core: RRSIG over a one-record A RRset (the work a steered
 * answer's cache miss costs), measured in CPU time so a loaded machine still gives the per-core
 * figure. Used by dnssec-sign-bench and bench-dnssec.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKey, type AlgorithmNumber } from '../../src/dnssec/keys.js';
import { canonicalRRset, rrsigRdata } from '../../src/dnssec/sign.js';

export function signaturesPerCpuSecond(algorithm: AlgorithmNumber, seconds: number): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-sign-rate-'));
  try {
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
    return signed / ((used.user + used.system) / 1e6);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
