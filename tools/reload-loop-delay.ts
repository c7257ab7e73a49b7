/**
 * Reload stall profile (issue 14, item 3): loads a generated zone of `--records` records, then
 * runs the SIGHUP reload path (ZoneReloader.reloadInBackground) `--rounds` times while a
 * timer chain measures how long this thread is held: every gap above 5 ms is printed with
 * the longest ones, so the step that holds it can be found (with --cpu-prof if need be).
 * No sockets: a quicker loop than tools/bench-stall.ts, which measures real queries.
 *   node --max-semi-space-size=2 dist/tools/reload-loop-delay.js [--records 1000000] [--rounds 2] [--touch]
 * --touch changes the file before each reload (else the forced reload reads an unchanged file).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ZoneDirectory } from '../src/control/zone-directory.js';
import { ZoneReloader } from '../src/control/zone-reloader.js';
import { SnapshotPublisher } from '../src/control/publisher.js';
import { SnapshotBuilder } from '../src/control/snapshot-builder.js';
import { writeBigZone } from './perf/big-zone.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '2' }, touch: { type: 'boolean', default: false } } });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-reload-delay-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'big.test.zone');
writeBigZone(file, Number(values.records));

const zones = new ZoneDirectory(dir);
const first = zones.load(true);
const builder = SnapshotBuilder.offline((address, family, sourcePrefix, fromEcs) => ({ address, family, sourcePrefix, fromEcs }) as never);
const store = builder.store(0, { zones: first.zones });
const log = pino({ level: 'warn' });
const reloader = new ZoneReloader(zones, new SnapshotPublisher(store, builder, null), log);

/** Gaps between timer ticks above 5 ms while `work` runs. */
async function gapsDuring(work: () => Promise<unknown>): Promise<{ ms: number; gaps: number[] }> {
  const gaps: number[] = [];
  let last = performance.now();
  let running = true;
  const tick = (): void => {
    const now = performance.now();
    if (now - last > 5) gaps.push(now - last);
    last = now;
    if (running) setTimeout(tick, 1);
  };
  setTimeout(tick, 1);
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 2000)); // the GC of the old zone comes after
  running = false;
  return { ms, gaps };
}

for (let round = 0; round < Number(values.rounds); round++) {
  if (values.touch) fs.appendFileSync(file, `touched${round} IN A 192.0.2.${round & 255}\n`);
  const at = performance.now();
  const { ms, gaps } = await gapsDuring(() => reloader.reloadInBackground(true));
  gaps.sort((a, b) => b - a);
  console.log(
    `round ${round} (from ${at.toFixed(0)} ms): reload ${ms.toFixed(0)} ms, snapshot v${store.current.version}; ${gaps.length} gaps > 5 ms, longest: ${gaps
      .slice(0, 8)
      .map((g) => g.toFixed(1))
      .join(' ')}`,
  );
}
