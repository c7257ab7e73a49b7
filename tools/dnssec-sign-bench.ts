/**
 * Signatures per second per core (issue #16): RRSIG over a one-record A RRset, the work a
 * steered answer's cache miss costs, for each algorithm meridian signs with, measured in CPU
 * time so a loaded machine still gives the per-core figure.
 *   node dist/tools/dnssec-sign-bench.js [--seconds 2]
 */
import { parseArgs } from 'node:util';
import { ALGORITHMS } from '../src/dnssec/keys.js';
import { signaturesPerCpuSecond } from './perf/sign-rate.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' } } });
for (const [name, algorithm] of Object.entries(ALGORITHMS)) {
  const rate = signaturesPerCpuSecond(algorithm, Number(values.seconds));
  process.stdout.write(`${name.padEnd(16)} ${Math.round(rate)} signatures per CPU-second (one core), ${Math.round(1e6 / rate)} µs each\n`);
}
