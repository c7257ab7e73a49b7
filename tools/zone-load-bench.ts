/**
 * Zone load benchmark: writes a zone of N records (default 1,000,000) to a temp folder,
 * loads it the way the server does, and prints the load time and memory.
 *   node dist/tools/zone-load-bench.js [--records N] [--keep]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseName } from '../src/dns/name.js';
import { loadZoneFile } from '../src/control/zone-directory.js';
import { writeBigZone } from './perf/big-zone.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' }, keep: { type: 'boolean', default: false } } });
const records = Number(values.records);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-bench-'));
const file = path.join(dir, 'big.test.zone');
try {
  const t0 = performance.now();
  writeBigZone(file, records);
  const sizeMb = fs.statSync(file).size / 1e6;
  console.log(`wrote ${records} records (${sizeMb.toFixed(1)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const t1 = performance.now();
  const { zone, problems } = loadZoneFile(file, parseName('big.test.', null));
  const seconds = (performance.now() - t1) / 1000;
  if (!zone) {
    console.error(problems.slice(0, 5));
    process.exitCode = 1;
  } else {
    global.gc?.();
    const mem = process.memoryUsage();
    console.log(`loaded ${zone.recordCount} records, ${zone.nodes.size} names in ${seconds.toFixed(2)} s (${Math.round(zone.recordCount / seconds)} records/s)`);
    console.log(`RSS ${(mem.rss / 1e6).toFixed(0)} MB (zone adds ${((mem.rss - rssBefore) / 1e6).toFixed(0)} MB), heap used ${(mem.heapUsed / 1e6).toFixed(0)} MB`);
  }
} finally {
  if (!values.keep) fs.rmSync(dir, { recursive: true, force: true });
  else console.log(`zone kept in ${file}`);
}
